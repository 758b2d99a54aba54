//! Request body → validated request, with exactly the errors the plugin's DRF
//! serializer gives (`lernito_openedx/serializers.py`, `LernitoWebhookSerializer`):
//!
//! ```python
//! name = CharField(max_length=255); family = CharField(max_length=255)
//! username = CharField(max_length=255); email = EmailField()
//! courseIds = ListField(child=CharField(max_length=255))
//! validate(): "At least one courseId must be provided" when courseIds is empty
//! ```
//!
//! Rules reproduced from Django REST framework 3.14/3.15 (`rest_framework/fields.py`:
//! `Field.validate_empty_values`, `CharField.run_validation` / `to_internal_value`,
//! `ListField.to_internal_value` / `run_child_validation`, `Field.run_validators`;
//! `rest_framework/serializers.py`: `Serializer.to_internal_value`, `run_validation`)
//! and Django 4.2 (`django/core/validators.py`: `EmailValidator`,
//! `ProhibitNullCharactersValidator`; DRF's `ProhibitSurrogateCharactersValidator`).
//! Errors keep the serializer's field order so the rendered JSON is byte-identical.

use std::net::{Ipv4Addr, Ipv6Addr};

use edx_hooks_shared::canonical_json::{float_repr, PyJson, PyStr};

const MAX_LENGTH: usize = 255;

/// A request that passed the serializer: strings are trimmed as DRF trims them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentRequest {
    pub name: String,
    pub family: String,
    pub username: String,
    pub email: String,
    pub course_ids: Vec<String>,
}

/// Python's `str.isspace()` (what `str.strip()` removes): Unicode White_Space
/// plus the four information separators U+001C..U+001F.
fn is_python_space(c: u32) -> bool {
    matches!(c, 0x1C..=0x1F) || char::from_u32(c).is_some_and(char::is_whitespace)
}

/// `str(data).strip()` as a code-point vector.
fn strip(points: &[u32]) -> &[u32] {
    let start = points
        .iter()
        .position(|&c| !is_python_space(c))
        .unwrap_or(points.len());
    let end = points
        .iter()
        .rposition(|&c| !is_python_space(c))
        .map_or(start, |i| i + 1);
    &points[start..end]
}

fn messages(list: Vec<String>) -> PyJson {
    PyJson::Array(list.into_iter().map(PyJson::str).collect())
}

enum FieldKind {
    Char,
    Email,
}

/// `str(data)` for the scalar types `CharField` accepts.
fn python_str(value: &PyJson) -> Option<Vec<u32>> {
    match value {
        PyJson::Str(s) => Some(s.code_points().collect()),
        PyJson::Int(digits) => Some(digits.chars().map(u32::from).collect()),
        PyJson::Float(f) => {
            // str(float) == repr(float), except infinities print as inf/-inf.
            let text = if f.is_infinite() {
                if *f > 0.0 {
                    "inf".to_owned()
                } else {
                    "-inf".to_owned()
                }
            } else {
                float_repr(*f)
            };
            Some(text.chars().map(u32::from).collect())
        }
        _ => None,
    }
}

/// `CharField(max_length=…)` / `EmailField()` `run_validation` for a present,
/// non-null value. Ok = the trimmed value as code points.
fn char_field(
    value: &PyJson,
    kind: &FieldKind,
    max_length: Option<usize>,
) -> Result<Vec<u32>, Vec<String>> {
    // Blank check comes first (CharField.run_validation).
    if let PyJson::Str(s) = value {
        let points: Vec<u32> = s.code_points().collect();
        if strip(&points).is_empty() {
            return Err(vec!["This field may not be blank.".into()]);
        }
    }
    // to_internal_value: bools and containers are "Not a valid string."
    // `self.fail("invalid")`: EmailField overrides the "invalid" message.
    let Some(points) = python_str(value) else {
        let message = match kind {
            FieldKind::Char => "Not a valid string.",
            FieldKind::Email => "Enter a valid email address.",
        };
        return Err(vec![message.into()]);
    };
    let trimmed = strip(&points).to_vec();
    // run_validators: every validator runs, errors are collected in order.
    let mut errors = Vec::new();
    if let Some(max) = max_length {
        if trimmed.len() > max {
            errors.push(format!(
                "Ensure this field has no more than {max} characters."
            ));
        }
    }
    if trimmed.contains(&0) {
        errors.push("Null characters are not allowed.".into());
    }
    if let Some(s) = trimmed.iter().find(|c| (0xD800..=0xDFFF).contains(*c)) {
        errors.push(format!("Surrogate characters are not allowed: U+{s:X}."));
    }
    if matches!(kind, FieldKind::Email) && !is_valid_email(&trimmed) {
        errors.push("Enter a valid email address.".into());
    }
    if errors.is_empty() {
        Ok(trimmed)
    } else {
        Err(errors)
    }
}

fn to_string(points: &[u32]) -> String {
    PyStr::CodePoints(points.to_vec()).to_string_lossy()
}

/// Validate the parsed body. `Err` is DRF's `serializer.errors`.
pub fn validate(data: &PyJson) -> Result<EnrollmentRequest, PyJson> {
    if let PyJson::Null = data {
        // Serializer.validate_empty_values: a null body is "No data provided".
        return Err(PyJson::object([(
            "non_field_errors",
            messages(vec!["No data provided".into()]),
        )]));
    }
    let PyJson::Object(_) = data else {
        let message = format!(
            "Invalid data. Expected a dictionary, but got {}.",
            data.python_type_name()
        );
        return Err(PyJson::object([(
            "non_field_errors",
            messages(vec![message]),
        )]));
    };
    let mut errors: Vec<(&str, PyJson)> = Vec::new();
    let mut strings: Vec<String> = Vec::new();
    for (field, kind, max) in [
        ("name", FieldKind::Char, Some(MAX_LENGTH)),
        ("family", FieldKind::Char, Some(MAX_LENGTH)),
        ("username", FieldKind::Char, Some(MAX_LENGTH)),
        ("email", FieldKind::Email, None),
    ] {
        match data.get(field) {
            None => errors.push((field, messages(vec!["This field is required.".into()]))),
            Some(PyJson::Null) => {
                errors.push((field, messages(vec!["This field may not be null.".into()])))
            }
            Some(value) => match char_field(value, &kind, max) {
                Ok(points) => strings.push(to_string(&points)),
                Err(list) => errors.push((field, messages(list))),
            },
        }
    }
    let mut course_ids = Vec::new();
    match data.get("courseIds") {
        None => errors.push((
            "courseIds",
            messages(vec!["This field is required.".into()]),
        )),
        Some(PyJson::Null) => errors.push((
            "courseIds",
            messages(vec!["This field may not be null.".into()]),
        )),
        Some(PyJson::Array(items)) => {
            let mut item_errors: Vec<(String, PyJson)> = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let result = match item {
                    PyJson::Null => Err(vec!["This field may not be null.".into()]),
                    other => char_field(other, &FieldKind::Char, Some(MAX_LENGTH)),
                };
                match result {
                    Ok(points) => course_ids.push(to_string(&points)),
                    Err(list) => item_errors.push((index.to_string(), messages(list))),
                }
            }
            if !item_errors.is_empty() {
                errors.push(("courseIds", PyJson::object(item_errors)));
            }
        }
        Some(other) => {
            let message = format!(
                "Expected a list of items but got type \"{}\".",
                other.python_type_name()
            );
            errors.push(("courseIds", messages(vec![message])));
        }
    }
    if !errors.is_empty() {
        return Err(PyJson::object(errors));
    }
    // Serializer.validate() runs only once every field is valid.
    if course_ids.is_empty() {
        return Err(PyJson::object([(
            "non_field_errors",
            messages(vec!["At least one courseId must be provided".into()]),
        )]));
    }
    let [name, family, username, email]: [String; 4] = strings.try_into().map_err(|_| {
        PyJson::object([("non_field_errors", messages(vec!["Invalid data.".into()]))])
    })?;
    Ok(EnrollmentRequest {
        name,
        family,
        username,
        email,
        course_ids,
    })
}

// ---------------------------------------------------------------- EmailValidator

/// ASCII letters match `[A-Z]` under `re.IGNORECASE`, and so do the four
/// non-ASCII characters whose simple case mapping is an ASCII letter
/// (İ ı ſ K), as in Python's `re`.
fn is_letter_ignorecase(c: u32) -> bool {
    matches!(c, 0x41..=0x5A | 0x61..=0x7A | 0x130 | 0x131 | 0x17F | 0x212A)
}

fn is_atext(c: u32) -> bool {
    is_letter_ignorecase(c)
        || matches!(c, 0x30..=0x39)
        || "-!#$%&'*+/=?^_`{}|~".chars().any(|a| u32::from(a) == c)
}

/// Django's `user_regex`: dot-atom or quoted-string.
fn user_part_ok(user: &[u32]) -> bool {
    if user.len() >= 2 && user[0] == u32::from('"') && user[user.len() - 1] == u32::from('"') {
        let inner = &user[1..user.len() - 1];
        let mut i = 0;
        while i < inner.len() {
            let c = inner[i];
            if c == u32::from('\\') {
                // \\[\001-\011\013\014\016-\177]
                match inner.get(i + 1) {
                    Some(1..=9 | 11 | 12 | 14..=127) => i += 2,
                    _ => return false,
                }
            } else if matches!(c, 1..=8 | 11 | 12 | 14..=31 | 33 | 35..=91 | 93..=127) {
                i += 1;
            } else {
                return false;
            }
        }
        return true;
    }
    // dot-atom: atext+ ( "." atext+ )*
    !user.is_empty()
        && user
            .split(|&c| c == u32::from('.'))
            .all(|atom| !atom.is_empty() && atom.iter().all(|&c| is_atext(c)))
}

fn is_label_char(c: u32) -> bool {
    is_letter_ignorecase(c) || matches!(c, 0x30..=0x39)
}

/// Django 4.2 `domain_regex`:
/// `((?:[A-Z0-9](?:[A-Z0-9-]{0,61}[A-Z0-9])?\.)+)(?:[A-Z0-9-]{2,63}(?<!-))\Z`
fn domain_regex_ok(domain: &[u32]) -> bool {
    let labels: Vec<&[u32]> = domain.split(|&c| c == u32::from('.')).collect();
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    if rest.is_empty() {
        return false;
    }
    let label_ok = |l: &[u32]| {
        !l.is_empty()
            && l.len() <= 63
            && is_label_char(l[0])
            && is_label_char(l[l.len() - 1])
            && l.iter().all(|&c| is_label_char(c) || c == u32::from('-'))
    };
    let tld_ok = (2..=63).contains(&tld.len())
        && tld.iter().all(|&c| is_label_char(c) || c == u32::from('-'))
        && tld[tld.len() - 1] != u32::from('-');
    rest.iter().all(|l| label_ok(l)) && tld_ok
}

/// `literal_regex` `\[([A-F0-9:.]+)\]\Z` + `validate_ipv46_address`.
fn literal_ok(domain: &[u32]) -> bool {
    let Some(inner) = domain
        .strip_prefix(&[u32::from('[')])
        .and_then(|d| d.strip_suffix(&[u32::from(']')]))
    else {
        return false;
    };
    if inner.is_empty()
        || !inner.iter().all(|&c| {
            char::from_u32(c).is_some_and(|ch| ch.is_ascii_hexdigit() || ch == ':' || ch == '.')
        })
    {
        return false;
    }
    let text: String = inner.iter().filter_map(|&c| char::from_u32(c)).collect();
    text.parse::<Ipv4Addr>().is_ok() || text.parse::<Ipv6Addr>().is_ok()
}

fn validate_domain_part(domain: &[u32]) -> bool {
    domain_regex_ok(domain) || literal_ok(domain)
}

/// Python's `str.encode("idna")`, approximated: labels split on the four IDNA
/// dots, ASCII labels pass through, other labels are lowercased and must be
/// alphanumeric/hyphen before Punycode (Python's nameprep maps and prohibits
/// more finely, with Unicode 3.2 tables: a documented gap for exotic domains).
fn idna_encode(domain: &[u32]) -> Option<Vec<u32>> {
    let is_dot = |c: &u32| matches!(*c, 0x2E | 0x3002 | 0xFF0E | 0xFF61);
    let mut labels: Vec<&[u32]> = domain.split(is_dot).collect();
    let trailing_dot = labels.len() > 1 && labels.last().is_some_and(|l| l.is_empty());
    if trailing_dot {
        labels.pop();
    }
    let mut out: Vec<String> = Vec::new();
    for label in labels {
        if label.is_empty() || label.iter().any(|c| (0xD800..=0xDFFF).contains(c)) {
            return None;
        }
        if label.iter().all(|&c| c < 0x80) {
            if label.len() > 63 {
                return None;
            }
            out.push(label.iter().filter_map(|&c| char::from_u32(c)).collect());
            continue;
        }
        let lowered: String = label
            .iter()
            .filter_map(|&c| char::from_u32(c))
            .flat_map(char::to_lowercase)
            .collect();
        if !lowered.chars().all(|c| c.is_alphanumeric() || c == '-') {
            return None;
        }
        let encoded = format!("xn--{}", punycode_encode(&lowered)?);
        if encoded.len() > 63 {
            return None;
        }
        out.push(encoded);
    }
    let mut joined = out.join(".");
    if trailing_dot {
        joined.push('.');
    }
    Some(joined.chars().map(u32::from).collect())
}

/// RFC 3492 Punycode encoder.
fn punycode_encode(input: &str) -> Option<String> {
    const BASE: u32 = 36;
    const TMIN: u32 = 1;
    const TMAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;
    fn adapt(mut delta: u32, numpoints: u32, first: bool) -> u32 {
        delta = if first { delta / DAMP } else { delta / 2 };
        delta += delta / numpoints;
        let mut k = 0;
        while delta > ((BASE - TMIN) * TMAX) / 2 {
            delta /= BASE - TMIN;
            k += BASE;
        }
        k + (BASE - TMIN + 1) * delta / (delta + SKEW)
    }
    fn digit(d: u32) -> char {
        char::from_u32(if d < 26 { d + 97 } else { d + 22 }).unwrap_or('a')
    }
    let points: Vec<u32> = input.chars().map(u32::from).collect();
    let mut output: String = input.chars().filter(char::is_ascii).collect();
    let basic = output.len() as u32;
    let mut handled = basic;
    if basic > 0 {
        output.push('-');
    }
    let (mut n, mut delta, mut bias) = (128u32, 0u32, 72u32);
    while (handled as usize) < points.len() {
        let m = points.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in &points {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        TMIN
                    } else if k >= bias + TMAX {
                        TMAX
                    } else {
                        k - bias
                    };
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
        delta += 1;
        n += 1;
    }
    Some(output)
}

/// Django 4.2 `EmailValidator.__call__`.
fn is_valid_email(value: &[u32]) -> bool {
    let at = u32::from('@');
    if value.is_empty() || !value.contains(&at) || value.len() > 320 {
        return false;
    }
    let split = value.iter().rposition(|&c| c == at).unwrap_or(0);
    let (user, domain) = (&value[..split], &value[split + 1..]);
    if !user_part_ok(user) {
        return false;
    }
    let localhost: Vec<u32> = "localhost".chars().map(u32::from).collect();
    if domain == localhost.as_slice() || validate_domain_part(domain) {
        return true;
    }
    // "Try for possible IDN domain-part"
    idna_encode(domain).is_some_and(|ascii| validate_domain_part(&ascii))
}

#[cfg(test)]
mod tests {
    use super::*;
    use edx_hooks_shared::canonical_json::parse;

    fn errors(body: &str) -> String {
        match validate(&parse(body.as_bytes()).unwrap()) {
            Ok(r) => panic!("unexpectedly valid: {r:?}"),
            Err(e) => e.render_drf(),
        }
    }

    const OK: &str = r#"{"email": " a@b.co ", "name": " N ", "family": "F", "username": 12, "courseIds": ["  c  ", 1.5]}"#;

    #[test]
    fn valid_request_is_trimmed_and_coerced() {
        let r = validate(&parse(OK.as_bytes()).unwrap()).unwrap();
        assert_eq!(r.email, "a@b.co");
        assert_eq!(r.name, "N");
        assert_eq!(r.username, "12");
        assert_eq!(r.course_ids, vec!["c", "1.5"]);
    }

    #[test]
    fn drf_messages_in_field_order() {
        assert_eq!(
            errors("{}"),
            r#"{"name":["This field is required."],"family":["This field is required."],"username":["This field is required."],"email":["This field is required."],"courseIds":["This field is required."]}"#
        );
        assert_eq!(
            errors(
                r#"{"name": null, "family": "  ", "username": true, "email": "x", "courseIds": "c"}"#
            ),
            r#"{"name":["This field may not be null."],"family":["This field may not be blank."],"username":["Not a valid string."],"email":["Enter a valid email address."],"courseIds":["Expected a list of items but got type \"str\"."]}"#
        );
        assert_eq!(
            errors(
                r#"{"name": "n", "family": "f", "username": "u", "email": "a@b.co", "courseIds": []}"#
            ),
            r#"{"non_field_errors":["At least one courseId must be provided"]}"#
        );
        assert_eq!(
            errors(
                r#"{"name": "n", "family": "f", "username": "u", "email": "a@b.co", "courseIds": ["ok", "", null, [1]]}"#
            ),
            r#"{"courseIds":{"1":["This field may not be blank."],"2":["This field may not be null."],"3":["Not a valid string."]}}"#
        );
        assert_eq!(
            errors("[]"),
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#
        );
        let long = "x".repeat(256);
        assert_eq!(
            errors(&format!(
                r#"{{"name": "{long}\u0000", "family": "f\ud800", "username": "u", "email": "a@b.co", "courseIds": ["c"]}}"#
            )),
            r#"{"name":["Ensure this field has no more than 255 characters.","Null characters are not allowed."],"family":["Surrogate characters are not allowed: U+D800."]}"#
        );
    }

    #[test]
    fn django_email_rules() {
        let email = |s: &str| is_valid_email(&s.chars().map(u32::from).collect::<Vec<_>>());
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.com",
            "\"quoted\\ user\"@example.com",
            "\"a\"@b.co",
            "a@localhost",
            "a@[127.0.0.1]",
            "a@[::1]",
            "user@mañana.com",
            "user@例え.テスト",
            "K@example.com",
            "a@b.c-d",
        ] {
            assert!(email(ok), "{ok} should be valid");
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
            "a@-b.co",
            "a@b-.co",
            "a@b.co-",
            "a b@b.co",
            "\"a b\"@b.co",
            "a@[256.1.1.1]",
            "a@[01.1.1.1]",
            "a@b..co",
            "é@b.co",
            "a@b.c_o",
        ] {
            assert!(!email(bad), "{bad} should be invalid");
        }
        assert!(!email(&format!("{}@b.co", "a".repeat(320))));
    }

    #[test]
    fn punycode_vectors() {
        assert_eq!(punycode_encode("mañana").as_deref(), Some("maana-pta"));
        assert_eq!(punycode_encode("例え").as_deref(), Some("r8jz45g"));
    }
}
