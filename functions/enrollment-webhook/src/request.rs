//! Parsed body → validated request, with exactly the errors the plugin's Django
//! REST framework serializer reports (edSPIRIT/lernito-openedx
//! `lernito_openedx/serializers.py`, `LernitoWebhookSerializer`):
//!
//! ```python
//! name = CharField(max_length=255); family = CharField(max_length=255)
//! username = CharField(max_length=255); email = EmailField()
//! courseIds = ListField(child=CharField(max_length=255))
//! def validate(self, data):  # runs only when every field is valid
//!     if not data.get('courseIds'): raise ValidationError("At least one courseId must be provided")
//! ```
//!
//! The `Err` of [`validate`] is `serializer.errors`: an ordered object (fields in
//! declaration order, then `non_field_errors`), so that
//! [`PyJson::render_drf`] of `{"success": false, "message": errors}` is byte for
//! byte what DRF's `JSONRenderer` sends. Reproduced from DRF 3.14/3.15
//! (`rest_framework/fields.py`: `Field.validate_empty_values`, `run_validators`,
//! `CharField.run_validation`/`to_internal_value`, `EmailField`,
//! `ListField.to_internal_value`/`run_child_validation`;
//! `rest_framework/serializers.py`: `Serializer.run_validation`,
//! `to_internal_value`, `errors`; `rest_framework/validators.py`:
//! `ProhibitSurrogateCharactersValidator`) and Django 4.2
//! (`django/core/validators.py`: `MaxLengthValidator`,
//! `ProhibitNullCharactersValidator`, `EmailValidator`,
//! `validate_ipv46_address`; `django/utils/ipv6.py`; `django/utils/encoding.py`
//! `punycode`), on CPython 3.11 (`ipaddress`, `encodings.idna`).
//!
//! Strings are handled as Python sees them, as code points (a JSON `\ud800`
//! escape is a lone surrogate that a Rust `String` cannot hold), and lengths are
//! Python `len()`.
//!
//! One deliberate gap, in [`idna`]: for a domain that is not plain ASCII, Django
//! falls back to Python's IDNA 2003 codec (nameprep: RFC 3491/3454 tables at
//! Unicode 3.2), which accepts nearly every code point. We reproduce it exactly
//! for a whitelist of common scripts and treat any other non-ASCII character in
//! a domain as invalid ("Enter a valid email address."), where the plugin might
//! have accepted the address.

use edx_hooks_shared::canonical_json::{float_repr, PyJson};

/// `max_length` of the serializer's `CharField`s.
const MAX_LENGTH: usize = 255;

/// A request that passed the serializer: DRF's `validated_data`, with strings
/// stripped and numbers turned into text as `CharField` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentRequest {
    pub name: String,
    pub family: String,
    pub username: String,
    pub email: String,
    pub course_ids: Vec<String>,
}

/// `LernitoWebhookSerializer(data=data).is_valid()`: the validated request, or
/// `serializer.errors`.
pub fn validate(data: &PyJson) -> Result<EnrollmentRequest, PyJson> {
    match data {
        PyJson::Object(_) => {}
        // Serializer.validate_empty_values fails with "null", which
        // Serializer.errors rewrites to "No data provided".
        PyJson::Null => return Err(non_field_error("No data provided".into())),
        other => {
            return Err(non_field_error(format!(
                "Invalid data. Expected a dictionary, but got {}.",
                other.python_type_name()
            )))
        }
    }
    // Serializer.to_internal_value: every field runs, errors keep field order.
    let mut errors: Vec<(&'static str, PyJson)> = Vec::new();
    let mut field = |name: &'static str, kind: Kind| {
        collect(&mut errors, name, string_field(data.get(name), kind))
    };
    let name = field("name", Kind::Char);
    let family = field("family", Kind::Char);
    let username = field("username", Kind::Char);
    let email = field("email", Kind::Email);
    let course_ids = match list_field(data.get("courseIds")) {
        Ok(ids) => Some(ids),
        Err(detail) => {
            errors.push(("courseIds", detail));
            None
        }
    };
    let (Some(name), Some(family), Some(username), Some(email), Some(course_ids)) =
        (name, family, username, email, course_ids)
    else {
        return Err(PyJson::object(errors));
    };
    // Serializer.validate() runs only once every field is valid.
    if course_ids.is_empty() {
        return Err(non_field_error(
            "At least one courseId must be provided".into(),
        ));
    }
    Ok(EnrollmentRequest {
        name,
        family,
        username,
        email,
        course_ids,
    })
}

/// `{"non_field_errors": [message]}` (`api_settings.NON_FIELD_ERRORS_KEY`).
fn non_field_error(message: String) -> PyJson {
    PyJson::object([("non_field_errors", messages(vec![message]))])
}

fn messages(list: Vec<String>) -> PyJson {
    PyJson::Array(list.into_iter().map(PyJson::str).collect())
}

/// Record a field's outcome: the value, or its error list under its name.
fn collect<'a>(
    errors: &mut Vec<(&'a str, PyJson)>,
    field: &'a str,
    outcome: Result<String, Vec<String>>,
) -> Option<String> {
    match outcome {
        Ok(value) => Some(value),
        Err(list) => {
            errors.push((field, messages(list)));
            None
        }
    }
}

// ------------------------------------------------------------------ fields

/// Which DRF string field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `CharField(max_length=255)`.
    Char,
    /// `EmailField()`: no max_length, `EmailValidator`, its own "invalid" text.
    Email,
}

/// A Python `str` as its code points.
type Text = Vec<u32>;

/// `Field.run_validation` of a `CharField`/`EmailField` for the value found
/// under its name (`None` = key absent).
fn string_field(value: Option<&PyJson>, kind: Kind) -> Result<String, Vec<String>> {
    // validate_empty_values: the `empty` sentinel.
    let Some(value) = value else {
        return Err(vec!["This field is required.".into()]);
    };
    // CharField.run_validation tests `str(data).strip() == ''` first; only a
    // string can be blank (`str(None)` is "None").
    if let PyJson::Str(s) = value {
        if s.code_points().all(is_python_space) {
            return Err(vec!["This field may not be blank.".into()]);
        }
    }
    if let PyJson::Null = value {
        return Err(vec!["This field may not be null.".into()]);
    }
    // to_internal_value: `isinstance(data, bool) or not isinstance(data, (str,
    // int, float))` fails with the field's "invalid" message.
    let Some(text) = python_str(value) else {
        return Err(vec![match kind {
            Kind::Char => "Not a valid string.".into(),
            Kind::Email => "Enter a valid email address.".into(),
        }]);
    };
    let text = strip(&text);
    // run_validators: every validator runs and the messages are collected in
    // the order the validators were added.
    let mut errors = Vec::new();
    if kind == Kind::Char && text.len() > MAX_LENGTH {
        errors.push(format!(
            "Ensure this field has no more than {MAX_LENGTH} characters."
        ));
    }
    if text.contains(&0) {
        errors.push("Null characters are not allowed.".into());
    }
    if let Some(s) = text.iter().find(|c| is_surrogate(**c)) {
        // ProhibitSurrogateCharactersValidator reports the first one.
        errors.push(format!("Surrogate characters are not allowed: U+{s:X}."));
    }
    if kind == Kind::Email && !is_valid_email(text) {
        errors.push("Enter a valid email address.".into());
    }
    if errors.is_empty() {
        // No surrogate is left (the validator above), so nothing is lost.
        Ok(text.iter().filter_map(|&c| char::from_u32(c)).collect())
    } else {
        Err(errors)
    }
}

/// `ListField(child=CharField(max_length=255))`; the error detail is either a
/// message list or `{index: messages}` for failing items.
fn list_field(value: Option<&PyJson>) -> Result<Vec<String>, PyJson> {
    let items = match value {
        None => return Err(messages(vec!["This field is required.".into()])),
        Some(PyJson::Null) => return Err(messages(vec!["This field may not be null.".into()])),
        Some(PyJson::Array(items)) => items,
        // `isinstance(data, (str, Mapping)) or not hasattr(data, '__iter__')`
        Some(other) => {
            return Err(messages(vec![format!(
                "Expected a list of items but got type \"{}\".",
                other.python_type_name()
            )]))
        }
    };
    let mut values = Vec::with_capacity(items.len());
    let mut item_errors: Vec<(String, PyJson)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match string_field(Some(item), Kind::Char) {
            Ok(value) => values.push(value),
            // `errors[idx] = e.detail`; json.dumps writes the int key as text.
            Err(list) => item_errors.push((index.to_string(), messages(list))),
        }
    }
    if item_errors.is_empty() {
        Ok(values)
    } else {
        Err(PyJson::object(item_errors))
    }
}

/// `str(data)` for the types `CharField` accepts (`None` for the others).
fn python_str(value: &PyJson) -> Option<Text> {
    let text = match value {
        PyJson::Str(s) => return Some(s.code_points().collect()),
        // Already Python's canonical decimal text (`-0` was normalised to `0`).
        PyJson::Int(digits) => digits.clone(),
        // str(float) is repr(float), except that infinities print as inf/-inf
        // (a JSON literal like 1e400 overflows to inf).
        PyJson::Float(f) if f.is_infinite() => if *f > 0.0 { "inf" } else { "-inf" }.to_owned(),
        PyJson::Float(f) => float_repr(*f),
        PyJson::Null | PyJson::Bool(_) | PyJson::Array(_) | PyJson::Object(_) => return None,
    };
    Some(text.chars().map(u32::from).collect())
}

/// Python's `str.isspace()`, what `str.strip()` removes: Unicode White_Space
/// (Rust's `char::is_whitespace`) plus the separators U+001C..U+001F.
fn is_python_space(c: u32) -> bool {
    matches!(c, 0x1C..=0x1F) || char::from_u32(c).is_some_and(char::is_whitespace)
}

fn is_surrogate(c: u32) -> bool {
    (0xD800..=0xDFFF).contains(&c)
}

/// `str.strip()`.
fn strip(text: &[u32]) -> &[u32] {
    let start = text
        .iter()
        .position(|&c| !is_python_space(c))
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&c| !is_python_space(c))
        .map_or(start, |i| i + 1);
    &text[start..end]
}

/// Code points of an ASCII literal.
fn ascii(s: &str) -> Text {
    s.bytes().map(u32::from).collect()
}

// ------------------------------------------------------------------ EmailValidator

const AT: u32 = b'@' as u32;
const DOT: u32 = b'.' as u32;
const QUOTE: u32 = b'"' as u32;
const BACKSLASH: u32 = b'\\' as u32;
const HYPHEN: u32 = b'-' as u32;

/// Django 4.2 `EmailValidator.__call__` (default allowlist `["localhost"]`).
fn is_valid_email(value: &[u32]) -> bool {
    // "The maximum length of an email is 320 characters per RFC 3696".
    if value.is_empty() || value.len() > 320 {
        return false;
    }
    // value.rsplit("@", 1)
    let Some(at) = value.iter().rposition(|&c| c == AT) else {
        return false;
    };
    let (user, domain) = (&value[..at], &value[at + 1..]);
    if !user_part_ok(user) {
        return false;
    }
    if domain == ascii("localhost").as_slice() || domain_part_ok(domain) {
        return true;
    }
    // "Try for possible IDN domain-part": punycode() = domain.encode("idna").
    idna::encode(domain).is_some_and(|encoded| domain_part_ok(&encoded))
}

/// `[A-Z]` under `re.IGNORECASE`: ASCII letters, plus the four characters
/// Python's case-insensitive matching maps onto them (İ ı ſ and the Kelvin sign).
fn is_letter_ignorecase(c: u32) -> bool {
    matches!(c, 0x41..=0x5A | 0x61..=0x7A | 0x130 | 0x131 | 0x17F | 0x212A)
}

/// `[-!#$%&'*+/=?^_`{}|~0-9A-Z]` (IGNORECASE).
fn is_atext(c: u32) -> bool {
    is_letter_ignorecase(c)
        || b"-!#$%&'*+/=?^_`{}|~0123456789"
            .iter()
            .any(|&a| u32::from(a) == c)
}

/// `user_regex`: a dot-atom, or a quoted string.
fn user_part_ok(user: &[u32]) -> bool {
    // ^"([\001-\010\013\014\016-\037!#-\[\]-\177]|\\[\001-\011\013\014\016-\177])*"\Z
    if let [QUOTE, inner @ .., QUOTE] = user {
        let mut i = 0;
        while let Some(&c) = inner.get(i) {
            let ok = if c == BACKSLASH {
                i += 1;
                inner.get(i).is_some_and(|&n| {
                    matches!(n, 0x01..=0x09 | 0x0B | 0x0C | 0x0E..=0x7F) || is_letter_ignorecase(n)
                })
            } else {
                matches!(c, 0x01..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F | 0x21 | 0x23..=0x5B | 0x5D..=0x7F)
                    || is_letter_ignorecase(c)
            };
            if !ok {
                return false;
            }
            i += 1;
        }
        return true;
    }
    // ^[atext]+(\.[atext]+)*\Z
    user.split(|&c| c == DOT)
        .all(|atom| !atom.is_empty() && atom.iter().all(|&c| is_atext(c)))
}

/// `validate_domain_part`: `domain_regex`, or `literal_regex` + a valid IP.
fn domain_part_ok(domain: &[u32]) -> bool {
    domain_regex_ok(domain) || literal_ok(domain)
}

/// `[A-Z0-9]` (IGNORECASE).
fn is_label_char(c: u32) -> bool {
    is_letter_ignorecase(c) || matches!(c, 0x30..=0x39)
}

/// `((?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+)(?:[A-Z0-9-]{2,63}(?<!-))\Z`
/// (IGNORECASE). Labels contain no dot, so the last dot-separated part is the
/// TLD and every other part a label.
fn domain_regex_ok(domain: &[u32]) -> bool {
    let parts: Vec<&[u32]> = domain.split(|&c| c == DOT).collect();
    let Some((tld, labels)) = parts.split_last() else {
        return false;
    };
    let label_ok = |l: &[u32]| match l {
        [first, .., last] => {
            l.len() <= 63
                && is_label_char(*first)
                && is_label_char(*last)
                && l.iter().all(|&c| is_label_char(c) || c == HYPHEN)
        }
        [only] => is_label_char(*only),
        [] => false,
    };
    let tld_ok = (2..=63).contains(&tld.len())
        && tld.iter().all(|&c| is_label_char(c) || c == HYPHEN)
        && tld.last() != Some(&HYPHEN);
    !labels.is_empty() && labels.iter().all(|l| label_ok(l)) && tld_ok
}

/// `\[([A-F0-9:.]+)\]\Z` (IGNORECASE) and `validate_ipv46_address` of the group.
fn literal_ok(domain: &[u32]) -> bool {
    let [0x5B, inner @ .., 0x5D] = domain else {
        return false;
    };
    let mut text = Vec::with_capacity(inner.len());
    for &c in inner {
        match u8::try_from(c) {
            Ok(b) if b.is_ascii_hexdigit() || b == b':' || b == b'.' => text.push(b),
            _ => return false,
        }
    }
    !text.is_empty() && (ipv4_ok(&text) || ipv6_ok(&text))
}

/// `ipaddress.IPv4Address(text)` (CPython 3.11: four decimal octets, at most
/// three digits, no leading zero, at most 255).
fn ipv4_ok(text: &[u8]) -> bool {
    let octets: Vec<&[u8]> = text.split(|&b| b == b'.').collect();
    octets.len() == 4
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.iter().all(u8::is_ascii_digit)
                && (o.len() == 1 || o[0] != b'0')
                && o.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) <= 255
        })
}

/// Django's `is_valid_ipv6_address`: at most 39 characters, then
/// `ipaddress.IPv6Address` (CPython 3.11 `_ip_int_from_string`).
fn ipv6_ok(text: &[u8]) -> bool {
    const HEXTETS: usize = 8;
    if text.is_empty() || text.len() > 39 {
        return false;
    }
    let mut parts: Vec<&[u8]> = text.split(|&b| b == b':').collect();
    if parts.len() < 3 {
        return false;
    }
    // An IPv4 suffix stands for the last two hextets (always well-formed).
    let mut extra = 0;
    if parts.last().is_some_and(|p| p.contains(&b'.')) {
        match parts.pop() {
            Some(v4) if ipv4_ok(v4) => extra = 2,
            _ => return false,
        }
    }
    let n = parts.len() + extra;
    if n > HEXTETS + 1 {
        return false;
    }
    // The parts list as Python sees it, with the IPv4 hextets appended.
    let part_empty = |i: usize| parts.get(i).is_some_and(|p| p.is_empty());
    let mut skip = None;
    for i in 1..n - 1 {
        if part_empty(i) {
            if skip.is_some() {
                return false; // at most one "::"
            }
            skip = Some(i);
        }
    }
    let (hi, lo) = match skip {
        Some(i) => {
            let (mut hi, mut lo) = (i, n - i - 1);
            if part_empty(0) {
                hi -= 1;
                if hi > 0 {
                    return false; // leading ':' only as part of "::"
                }
            }
            if part_empty(n - 1) {
                lo -= 1;
                if lo > 0 {
                    return false; // trailing ':' only as part of "::"
                }
            }
            if HEXTETS < hi + lo + 1 {
                return false; // "::" must stand for at least one hextet
            }
            (hi, lo)
        }
        None => {
            if n != HEXTETS || part_empty(0) || part_empty(n - 1) {
                return false;
            }
            (n, 0)
        }
    };
    // _parse_hextet on the parts before and after "::"; the appended IPv4
    // hextets are valid by construction.
    let hextet_ok = |i: usize| match parts.get(i) {
        Some(p) => !p.is_empty() && p.len() <= 4 && p.iter().all(u8::is_ascii_hexdigit),
        None => i < n,
    };
    (0..hi).all(hextet_ok) && (n - lo..n).all(hextet_ok)
}

/// `str.encode("idna")` (CPython 3.11 `encodings/idna.py`, IDNA 2003).
///
/// Exact for ASCII, and for non-ASCII labels made of the characters
/// [`nameprep_char`] knows; any other character makes the label fail, which is
/// the documented gap: CPython's nameprep (RFC 3491: map table B.1/B.2, NFKC
/// with Unicode 3.2, prohibit tables C.*, bidi tables D.1/D.2, unassigned code
/// points allowed) accepts most of them, and we do not carry those tables.
mod idna {
    use super::{ascii, Text, DOT};

    /// The four IDNA label separators (`encodings.idna.dots`).
    fn is_dot(c: u32) -> bool {
        matches!(c, 0x2E | 0x3002 | 0xFF0E | 0xFF61)
    }

    /// `Codec.encode`: `None` stands for `UnicodeError`.
    pub(super) fn encode(domain: &[u32]) -> Option<Text> {
        if domain.iter().all(|&c| c < 0x80) {
            // ASCII fast path: labels are only length-checked, never changed.
            let labels: Vec<&[u32]> = domain.split(|&c| c == DOT).collect();
            let (last, rest) = labels.split_last()?;
            let ok = rest.iter().all(|l| (1..64).contains(&l.len())) && last.len() < 64;
            return ok.then(|| domain.to_vec());
        }
        let mut labels: Vec<&[u32]> = domain.split(|&c| is_dot(c)).collect();
        let trailing_dot = labels.last().is_some_and(|l| l.is_empty());
        if trailing_dot {
            labels.pop();
        }
        let mut out = Text::new();
        for (i, label) in labels.iter().enumerate() {
            if i > 0 {
                out.push(DOT);
            }
            out.extend(to_ascii(label)?);
        }
        if trailing_dot {
            out.push(DOT);
        }
        Some(out)
    }

    /// RFC 3490 ToASCII with AllowUnassigned and without UseSTD3ASCIIRules.
    fn to_ascii(label: &[u32]) -> Option<Text> {
        let fits = |l: &[u32]| (1..64).contains(&l.len());
        if label.iter().all(|&c| c < 0x80) {
            return fits(label).then(|| label.to_vec());
        }
        let mapped = nameprep(label)?;
        if mapped.iter().all(|&c| c < 0x80) {
            return fits(&mapped).then_some(mapped);
        }
        if mapped.starts_with(&ascii("xn--")) {
            return None; // "Label starts with ACE prefix"
        }
        let mut encoded = ascii("xn--");
        encoded.extend(super::punycode::encode(&mapped)?.bytes().map(u32::from));
        fits(&encoded).then_some(encoded)
    }

    /// Bidirectional category, as far as the nameprep check needs it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Bidi {
        /// Table D.1 (R or AL).
        RandAl,
        /// Table D.2 (L).
        L,
        Other,
    }

    /// What nameprep's mapping step does with one character.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mapped {
        /// Table B.1: mapped to nothing.
        Nothing,
        One(u32),
        Two(u32, u32),
    }

    /// Table B.1 (commonly mapped to nothing): soft hyphen, joiners, variation
    /// selectors, BOM, …
    fn in_table_b1(c: u32) -> bool {
        matches!(
            c,
            0xAD | 0x34F | 0x1806 | 0x180B..=0x180D | 0x200B..=0x200D | 0x2060 | 0xFE00..=0xFE0F | 0xFEFF
        )
    }

    /// Hebrew letters, Arabic letters and the Persian/Urdu additions.
    fn is_rtl_letter(c: u32) -> bool {
        matches!(
            c,
            0x5D0..=0x5EA | 0x621..=0x63A | 0x641..=0x64A | 0x67E | 0x686 | 0x698 | 0x6A9 | 0x6AF | 0x6CC
        )
    }

    /// Table B.2 (case folding) on the supported characters. The supported set
    /// is chosen so that NFKC leaves the mapped text unchanged: no character in
    /// it has a compatibility decomposition, is a composition exclusion, or
    /// composes with a neighbour (no combining marks except the U+0307 that
    /// follows `i` when İ is folded, which has no precomposed form).
    fn nameprep_char(c: u32) -> Option<Mapped> {
        let lower = |c: u32| {
            let ch = char::from_u32(c)?;
            let mut it = ch.to_lowercase();
            match (it.next(), it.next()) {
                (Some(l), None) => Some(Mapped::One(u32::from(l))),
                _ => None,
            }
        };
        match c {
            0x41..=0x5A => Some(Mapped::One(c + 0x20)),
            0x00..=0x7F => Some(Mapped::One(c)),
            _ if in_table_b1(c) => Some(Mapped::Nothing),
            0xB5 => Some(Mapped::One(0x3BC)),              // µ → μ
            0xDF => Some(Mapped::Two(0x73, 0x73)),         // ß → ss
            0x130 => Some(Mapped::Two(0x69, 0x307)),       // İ → i̇
            0x17F => Some(Mapped::One(0x73)),              // ſ → s
            0x212A => Some(Mapped::One(0x6B)),             // Kelvin sign → k
            0x3C2 => Some(Mapped::One(0x3C3)),             // final sigma → σ
            0xD7 | 0xF7 => None,                           // × ÷
            0x132 | 0x133 | 0x13F | 0x140 | 0x149 => None, // Ĳ ĳ Ŀ ŀ ŉ: NFKC expands them
            0xC0..=0x17F => lower(c),                      // Latin-1 letters, Latin Extended-A
            0x386 | 0x388..=0x38A | 0x38C | 0x38E..=0x3A1 | 0x3A3..=0x3CE => lower(c), // Greek
            0x400..=0x45F => lower(c),                     // Cyrillic
            0x660..=0x669 | 0x6F0..=0x6F9 => Some(Mapped::One(c)), // Arabic-Indic digits
            0x3041..=0x3094 | 0x30A1..=0x30FA | 0x30FC => Some(Mapped::One(c)), // kana
            0x4E00..=0x9FA5 | 0xAC00..=0xD7A3 => Some(Mapped::One(c)), // CJK (3.2), Hangul
            _ if is_rtl_letter(c) => Some(Mapped::One(c)),
            _ => None,
        }
    }

    /// Bidi category of a character nameprep can output here.
    fn bidi(c: u32) -> Bidi {
        match c {
            0x41..=0x5A | 0x61..=0x7A => Bidi::L,
            // ASCII digits/punctuation/controls, the combining dot above, and
            // Arabic-Indic digits (AN/EN) are neither L nor R/AL.
            0x00..=0x7F | 0x307 | 0x660..=0x669 | 0x6F0..=0x6F9 => Bidi::Other,
            _ if is_rtl_letter(c) => Bidi::RandAl,
            _ => Bidi::L,
        }
    }

    /// `encodings.idna.nameprep` on a supported label (`None` = UnicodeError or
    /// an unsupported character).
    fn nameprep(label: &[u32]) -> Option<Text> {
        let mut out = Text::with_capacity(label.len());
        for &c in label {
            match nameprep_char(c)? {
                Mapped::Nothing => {}
                Mapped::One(a) => out.push(a),
                Mapped::Two(a, b) => out.extend([a, b]),
            }
        }
        // RFC 3454 section 6: with any R/AL character there must be no L
        // character, and the label must start and end with R/AL.
        let classes: Vec<Bidi> = out.iter().map(|&c| bidi(c)).collect();
        if classes.contains(&Bidi::RandAl)
            && (classes.contains(&Bidi::L)
                || classes.first() != Some(&Bidi::RandAl)
                || classes.last() != Some(&Bidi::RandAl))
        {
            return None;
        }
        Some(out)
    }
}

/// RFC 3492 Punycode, as CPython's `punycode` codec writes it.
mod punycode {
    const BASE: u32 = 36;
    const TMIN: u32 = 1;
    const TMAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;

    fn adapt(delta: u32, points: u32, first: bool) -> u32 {
        let mut delta = if first { delta / DAMP } else { delta / 2 };
        delta += delta / points;
        let mut k = 0;
        while delta > ((BASE - TMIN) * TMAX) / 2 {
            delta /= BASE - TMIN;
            k += BASE;
        }
        k + (BASE - TMIN + 1) * delta / (delta + SKEW)
    }

    fn digit(d: u32) -> char {
        // 0..=25 → a..=z, 26..=35 → 0..=9; `d` is always below BASE.
        let byte = if d < 26 {
            b'a' + d as u8
        } else {
            b'0' + (d - 26) as u8
        };
        char::from(byte)
    }

    /// `None` only on arithmetic overflow, impossible for a 320-character email.
    pub(super) fn encode(input: &[u32]) -> Option<String> {
        let mut output: String = input
            .iter()
            .filter(|&&c| c < 0x80)
            .filter_map(|&c| char::from_u32(c))
            .collect();
        let basic = u32::try_from(output.len()).ok()?;
        let total = u32::try_from(input.len()).ok()?;
        if basic > 0 {
            output.push('-');
        }
        let (mut n, mut delta, mut bias, mut handled) = (0x80u32, 0u32, 72u32, basic);
        while handled < total {
            let m = input.iter().copied().filter(|&c| c >= n).min()?;
            delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
            n = m;
            for &c in input {
                if c < n {
                    delta = delta.checked_add(1)?;
                }
                if c == n {
                    let mut q = delta;
                    let mut k = BASE;
                    loop {
                        let t = k.saturating_sub(bias).clamp(TMIN, TMAX);
                        if q < t {
                            break;
                        }
                        output.push(digit(t + (q - t) % (BASE - t)));
                        q = (q - t) / (BASE - t);
                        k += BASE;
                    }
                    output.push(digit(q));
                    bias = adapt(delta, handled + 1, handled == basic);
                    delta = 0;
                    handled += 1;
                }
            }
            delta = delta.checked_add(1)?;
            n = n.checked_add(1)?;
        }
        Some(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edx_hooks_shared::canonical_json::parse;

    /// What the plugin sends for an invalid body.
    fn response(body: &str) -> String {
        let data = parse(body.as_bytes()).expect("test bodies are JSON");
        match validate(&data) {
            Ok(r) => panic!("unexpectedly valid: {r:?}"),
            Err(errors) => {
                PyJson::object([("success", PyJson::Bool(false)), ("message", errors)]).render_drf()
            }
        }
    }

    fn email_ok(s: &str) -> bool {
        is_valid_email(&s.chars().map(u32::from).collect::<Vec<_>>())
    }

    #[test]
    fn valid_request_is_stripped_and_coerced() {
        let body = r#"{"email": " a@b.co\u0085", "name": " N\u001c", "family": "F", "username": 12,
            "courseIds": ["  c  ", 1.5, 1e16, -0, 1e400], "extra": [1]}"#;
        let r = validate(&parse(body.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            (r.email.as_str(), r.name.as_str(), r.username.as_str()),
            ("a@b.co", "N", "12")
        );
        assert_eq!(r.course_ids, ["c", "1.5", "1e+16", "0", "inf"]);
    }

    // Expected bytes below were produced by DRF 3.15 / Django 4.2's
    // JSONRenderer for the plugin's serializer.
    #[test]
    fn drf_messages_in_field_order() {
        assert_eq!(
            response("{}"),
            r#"{"success":false,"message":{"name":["This field is required."],"family":["This field is required."],"username":["This field is required."],"email":["This field is required."],"courseIds":["This field is required."]}}"#
        );
        assert_eq!(
            response(
                r#"{"name": null, "family": " \u3000", "username": true, "email": false, "courseIds": "c"}"#
            ),
            r#"{"success":false,"message":{"name":["This field may not be null."],"family":["This field may not be blank."],"username":["Not a valid string."],"email":["Enter a valid email address."],"courseIds":["Expected a list of items but got type \"str\"."]}}"#
        );
        assert_eq!(
            response(
                r#"{"name": "n", "family": "f", "username": "u", "email": "a@b.co", "courseIds": []}"#
            ),
            r#"{"success":false,"message":{"non_field_errors":["At least one courseId must be provided"]}}"#
        );
        assert_eq!(
            response(
                r#"{"name": "n", "family": "f", "username": "u", "email": "x", "courseIds": []}"#
            ),
            r#"{"success":false,"message":{"email":["Enter a valid email address."]}}"#
        );
        assert_eq!(
            response(
                r#"{"name": "n", "family": "f", "username": "u", "email": "a@b.co", "courseIds": ["ok", "", null, [1], {}]}"#
            ),
            r#"{"success":false,"message":{"courseIds":{"1":["This field may not be blank."],"2":["This field may not be null."],"3":["Not a valid string."],"4":["Not a valid string."]}}}"#
        );
        assert_eq!(
            response(
                r#"{"name": "n", "family": "f", "username": "u", "email": "a@b.co", "courseIds": {"a": 1}}"#
            ),
            r#"{"success":false,"message":{"courseIds":["Expected a list of items but got type \"dict\"."]}}"#
        );
        assert_eq!(
            response("[]"),
            r#"{"success":false,"message":{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}}"#
        );
        assert_eq!(
            response("3.5"),
            r#"{"success":false,"message":{"non_field_errors":["Invalid data. Expected a dictionary, but got float."]}}"#
        );
        assert_eq!(
            response("null"),
            r#"{"success":false,"message":{"non_field_errors":["No data provided"]}}"#
        );
        let long = "x".repeat(255);
        assert_eq!(
            response(&format!(
                r#"{{"name": "{long}\u0000", "family": "f\udc00\ud800", "username": "u", "email": " a\u0000@b.co", "courseIds": ["c"]}}"#
            )),
            r#"{"success":false,"message":{"name":["Ensure this field has no more than 255 characters.","Null characters are not allowed."],"family":["Surrogate characters are not allowed: U+DC00."],"email":["Null characters are not allowed.","Enter a valid email address."]}}"#
        );
    }

    #[test]
    fn max_length_counts_code_points_after_strip() {
        let ok = format!(
            r#"{{"name": "  {}  ", "family": "{}", "username": "u", "email": "a@b.co", "courseIds": ["c"]}}"#,
            "x".repeat(255),
            "😀".repeat(255)
        );
        assert!(validate(&parse(ok.as_bytes()).unwrap()).is_ok());
    }

    #[test]
    fn django_email_rules() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.com",
            "!#$%&'*+/=?^_`{}|~-@example.org",
            "\"quoted\\ user\"@example.com",
            "\"a\\\"b\"@b.co",
            "\"\u{212A}\"@b.co",
            "a@localhost",
            "a@[127.0.0.1]",
            "a@[::1]",
            "a@[1:2:3:4:5:6:7::]",
            "a@[::ffff:1.2.3.4]",
            "a@b.c-d",
            "a@b.-d",
            "a@b.123",
            "\u{212A}@example.com",
            "a@\u{131}.co",
            "user@mañana.com",
            "user@MAÑANA.com",
            "user@例え.テスト",
            "user@例え。テスト",
            "user@bücher.de",
            "user@straße.de",
            "user@παράδειγμα.δοκιμή",
            "user@пример.рф",
            "user@مثال.ایران",
            "user@דוגמה.ישראל",
            "user@ab\u{200C}c.com",
            "user@-\u{131}.com",
        ] {
            assert!(email_ok(ok), "{ok} should be valid");
        }
        for bad in [
            "",
            "plain",
            "a@",
            "@b.co",
            "a@b",
            "a@b.c",
            "a..b@b.co",
            ".a@b.co",
            "a.@b.co",
            "a@-b.co",
            "a@b-.co",
            "a@b.co-",
            "a@b.co.",
            "a b@b.co",
            "\"a b\"@b.co",
            "\"a\"b\"@b.co",
            "\"\\\"@b.co",
            "a@[256.1.1.1]",
            "a@[01.1.1.1]",
            "a@[1.2.3]",
            "a@[::1::]",
            "a@[1:2:3:4:5:6:7:8:9]",
            "a@[0000:0000:0000:0000:0000:ffff:100.200.30.4]",
            "a@[IPv6:::1]",
            "a@b..co",
            "é@b.co",
            "a@b.c_o",
            "user@مثال1.com",
            "user@ab\u{200C}.c",
            "user@xn--bcher-kva\u{3002}XN--ü.de",
            "user@é.com.",
            "user@\u{2603}.com", // accepted by CPython's IDNA: the documented gap
        ] {
            assert!(!email_ok(bad), "{bad} should be invalid");
        }
        assert!(email_ok(&format!("{}@b.co", "a".repeat(315))));
        assert!(!email_ok(&format!("{}@b.co", "a".repeat(316))));
        assert!(!email_ok(&format!("a@{}.co", "b".repeat(64))));
    }

    #[test]
    fn idna_matches_cpython() {
        let enc = |s: &str| {
            idna::encode(&s.chars().map(u32::from).collect::<Vec<_>>()).map(|v| {
                v.iter()
                    .filter_map(|&c| char::from_u32(c))
                    .collect::<String>()
            })
        };
        // Values from CPython 3.11 `domain.encode("idna")`.
        assert_eq!(enc("mañana.com").as_deref(), Some("xn--maana-pta.com"));
        assert_eq!(
            enc("例え。テスト").as_deref(),
            Some("xn--r8jz45g.xn--zckzah")
        );
        assert_eq!(enc("Bücher.DE").as_deref(), Some("xn--bcher-kva.DE"));
        assert_eq!(enc("İ.com").as_deref(), Some("xn--i-9bb.com"));
        assert_eq!(enc("ı.com").as_deref(), Some("xn--cfa.com"));
        assert_eq!(enc("-ı.com").as_deref(), Some("xn----fka.com"));
        assert_eq!(enc("µ.com").as_deref(), Some("xn--xxa.com"));
        assert_eq!(enc("مثال.com").as_deref(), Some("xn--mgbh0fb.com"));
        assert_eq!(enc("ab\u{200C}c.com").as_deref(), Some("abc.com"));
        assert_eq!(enc("مثال1.com"), None);
        assert_eq!(enc("\u{200C}.com"), None);
    }
}
