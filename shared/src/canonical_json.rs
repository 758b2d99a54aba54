//! A JSON model that behaves like CPython's `json` module, byte for byte.
//!
//! Lernito signs `json.dumps(data, sort_keys=True)` of the payload that Django REST
//! framework parsed with `json.loads`. To verify that signature we must rebuild the
//! exact string Python would write, which `serde_json` cannot do: Python keeps
//! integers of any size, writes floats with `repr` (`1e+16`, `1e-05`, `1.0`),
//! escapes every non-ASCII character as `\uXXXX` (surrogate pairs above U+FFFF),
//! keeps lone surrogates from `\ud800` escapes, and lets the last duplicate key win.
//!
//! [`parse`] accepts exactly what `json.loads` accepts under DRF's strict parser
//! (no `NaN`/`Infinity` literals), with a nesting limit instead of Python's
//! `RecursionError`; [`PyJson::dumps`] writes what `json.dumps` writes.

use std::cmp::Ordering;
use std::fmt::Write as _;

/// Deepest nesting accepted. CPython would go to ~1000 and then raise
/// `RecursionError` (an HTTP 500 in the plugin); we answer 400 much earlier so a
/// hostile body cannot exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// CPython's `sys.int_info.default_max_str_digits`: `json.loads` raises
/// `ValueError` for longer integer literals.
pub const MAX_INT_DIGITS: usize = 4300;

/// A JSON string as Python sees it: a sequence of code points, which may include
/// lone surrogates (from `\ud800`-style escapes) that Rust's `String` cannot hold.
// Hash/Eq are structural: a `CodePoints` value always holds a lone surrogate,
// so it can never equal a `Text` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PyStr {
    /// Valid Unicode, the usual case.
    Text(String),
    /// Contains at least one lone surrogate; kept as raw code points.
    CodePoints(Vec<u32>),
}

impl PyStr {
    /// Code points in order, as Python's `str` iterates them.
    pub fn code_points(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match self {
            PyStr::Text(s) => Box::new(s.chars().map(u32::from)),
            PyStr::CodePoints(v) => Box::new(v.iter().copied()),
        }
    }

    /// Python `len()`.
    pub fn len(&self) -> usize {
        match self {
            PyStr::Text(s) => s.chars().count(),
            PyStr::CodePoints(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text with any lone surrogate replaced by U+FFFD (for use outside the
    /// signature, where a lone surrogate can only be an error anyway).
    pub fn to_string_lossy(&self) -> String {
        match self {
            PyStr::Text(s) => s.clone(),
            PyStr::CodePoints(v) => v
                .iter()
                .map(|&c| char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect(),
        }
    }

    /// The text if it has no lone surrogate.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyStr::Text(s) => Some(s),
            PyStr::CodePoints(_) => None,
        }
    }

    /// First lone surrogate, if any (DRF's `ProhibitSurrogateCharactersValidator`).
    pub fn first_surrogate(&self) -> Option<u32> {
        match self {
            PyStr::Text(_) => None,
            PyStr::CodePoints(v) => v.iter().copied().find(|c| (0xD800..=0xDFFF).contains(c)),
        }
    }
}

impl From<&str> for PyStr {
    fn from(s: &str) -> Self {
        PyStr::Text(s.to_owned())
    }
}

impl Ord for PyStr {
    /// Python compares `str` by code point. UTF-8 byte order is code point order,
    /// so the common case is a plain byte comparison.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PyStr::Text(a), PyStr::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            _ => self.code_points().cmp(other.code_points()),
        }
    }
}

impl PartialOrd for PyStr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A parsed JSON value with Python's semantics.
#[derive(Debug, Clone, PartialEq)]
pub enum PyJson {
    Null,
    Bool(bool),
    /// A Python `int`, kept as its normalised decimal text (`-0` becomes `0`).
    Int(String),
    /// A Python `float` (overflowing literals become infinities, as in CPython).
    Float(f64),
    Str(PyStr),
    Array(Vec<PyJson>),
    /// Members in first-insertion order; a duplicate key replaces the value in
    /// place, exactly like a Python `dict`.
    Object(Vec<(PyStr, PyJson)>),
}

/// Why a body is not JSON Python would accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("body is not valid UTF-8")]
    InvalidUtf8,
    #[error("Unexpected UTF-8 BOM")]
    Bom,
    #[error("Expecting value: char {0}")]
    ExpectingValue(usize),
    #[error("Expecting property name enclosed in double quotes: char {0}")]
    ExpectingPropertyName(usize),
    #[error("Expecting ':' delimiter: char {0}")]
    ExpectingColon(usize),
    #[error("Expecting ',' delimiter: char {0}")]
    ExpectingComma(usize),
    #[error("Unterminated string starting at: char {0}")]
    UnterminatedString(usize),
    #[error("Invalid control character at: char {0}")]
    ControlCharacter(usize),
    #[error("Invalid \\escape: char {0}")]
    InvalidEscape(usize),
    #[error("Invalid \\uXXXX escape: char {0}")]
    InvalidUnicodeEscape(usize),
    #[error("Extra data: char {0}")]
    ExtraData(usize),
    #[error("Out of range float values are not JSON compliant")]
    NonFiniteLiteral,
    #[error("Exceeds the limit ({MAX_INT_DIGITS} digits) for integer string conversion")]
    IntegerTooLong,
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Parse a request body as DRF's `JSONParser` would (UTF-8, strict constants).
pub fn parse(body: &[u8]) -> Result<PyJson, ParseError> {
    let text = std::str::from_utf8(body).map_err(|_| ParseError::InvalidUtf8)?;
    if text.starts_with('\u{feff}') {
        return Err(ParseError::Bom);
    }
    let mut parser = Parser {
        text,
        src: text.as_bytes(),
        pos: 0,
    };
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != parser.src.len() {
        return Err(ParseError::ExtraData(parser.pos));
    }
    Ok(value)
}

/// Objects up to this many members are checked for duplicate keys as they are
/// parsed; larger ones once, by sorting, when they close.
const SMALL_OBJECT: usize = 16;

/// Python `dict` semantics for an object's members: for each key, the first
/// position and the last value. Sorts positions by key (no hashing, no copies
/// of keys) and only rebuilds the list when a duplicate exists.
fn merge_duplicate_keys(members: &mut Vec<(PyStr, PyJson)>) {
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| members[a].0.cmp(&members[b].0).then(a.cmp(&b)));
    let duplicated = order
        .windows(2)
        .any(|pair| members[pair[0]].0 == members[pair[1]].0);
    if !duplicated {
        return;
    }
    let mut drop = vec![false; members.len()];
    let mut group_start = 0;
    for i in 1..=order.len() {
        let same = i < order.len() && members[order[i]].0 == members[order[group_start]].0;
        if same {
            continue;
        }
        // order[group_start..i] hold one key at increasing positions.
        let first = order[group_start];
        let last = order[i - 1];
        if first != last {
            let value = std::mem::replace(&mut members[last].1, PyJson::Null);
            members[first].1 = value;
            for &later in &order[group_start + 1..i] {
                drop[later] = true;
            }
        }
        group_start = i;
    }
    let mut index = 0;
    members.retain(|_| {
        let keep = !drop[index];
        index += 1;
        keep
    });
}

struct Parser<'a> {
    text: &'a str,
    src: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat_literal(&mut self, lit: &[u8]) -> bool {
        if self.src[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyJson, ParseError> {
        match self.peek() {
            Some(b'"') => Ok(PyJson::Str(self.string()?)),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'n') if self.eat_literal(b"null") => Ok(PyJson::Null),
            Some(b't') if self.eat_literal(b"true") => Ok(PyJson::Bool(true)),
            Some(b'f') if self.eat_literal(b"false") => Ok(PyJson::Bool(false)),
            // json.loads would return nan/inf here; DRF's strict parse_constant raises.
            Some(b'N') if self.src[self.pos..].starts_with(b"NaN") => {
                Err(ParseError::NonFiniteLiteral)
            }
            Some(b'I') if self.src[self.pos..].starts_with(b"Infinity") => {
                Err(ParseError::NonFiniteLiteral)
            }
            Some(b'-') if self.src[self.pos..].starts_with(b"-Infinity") => {
                Err(ParseError::NonFiniteLiteral)
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(ParseError::ExpectingValue(self.pos)),
        }
    }

    fn object(&mut self, depth: usize) -> Result<PyJson, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        self.pos += 1; // '{'
        let mut members: Vec<(PyStr, PyJson)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(PyJson::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(ParseError::ExpectingPropertyName(self.pos));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(ParseError::ExpectingColon(self.pos));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth)?;
            // dict semantics: the last duplicate wins, keeping the first position.
            // Small objects check as they go; larger ones once at the end, so a
            // hostile body with many keys stays O(n log n).
            let small = members.len() < SMALL_OBJECT;
            match members.iter().position(|(k, _)| small && *k == key) {
                Some(at) => members[at].1 = value,
                None => members.push((key, value)),
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    if members.len() > SMALL_OBJECT {
                        merge_duplicate_keys(&mut members);
                    }
                    return Ok(PyJson::Object(members));
                }
                _ => return Err(ParseError::ExpectingComma(self.pos)),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<PyJson, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(PyJson::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(PyJson::Array(items));
                }
                _ => return Err(ParseError::ExpectingComma(self.pos)),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<PyJson, ParseError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(ParseError::ExpectingValue(start)),
        }
        let int_end = self.pos;
        let mut is_float = false;
        // A '.' or 'e' not followed by digits is not part of the number (CPython
        // backs off), which then fails as extra data: same outcome as an error here.
        if self.peek() == Some(b'.') && matches!(self.src.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 1;
            self.digits();
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = save;
            } else {
                is_float = true;
            }
        }
        let text = &self.src[start..self.pos];
        // The slice is ASCII by construction.
        let text = std::str::from_utf8(text).map_err(|_| ParseError::ExpectingValue(start))?;
        if is_float {
            // Rust and CPython both round correctly and overflow to infinity.
            let value: f64 = text
                .parse()
                .map_err(|_| ParseError::ExpectingValue(start))?;
            return Ok(PyJson::Float(value));
        }
        let magnitude = &text[int_start - start..int_end - start];
        if magnitude.len() > MAX_INT_DIGITS {
            return Err(ParseError::IntegerTooLong);
        }
        if magnitude == "0" {
            return Ok(PyJson::Int("0".to_owned()));
        }
        Ok(PyJson::Int(text.to_owned()))
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let chunk = self.src.get(at..at + 4)?;
        let mut value = 0u32;
        for &b in chunk {
            value = value * 16 + (b as char).to_digit(16)?;
        }
        Some(value)
    }

    fn string(&mut self) -> Result<PyStr, ParseError> {
        let start = self.pos;
        self.pos += 1; // opening quote
        let mut text = String::new();
        let mut lone: Option<Vec<u32>> = None;
        loop {
            // Copy the run of plain characters in one go.
            let run_start = self.pos;
            let rest = self.src.get(run_start..).unwrap_or_default();
            self.pos += rest
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(rest.len());
            if run_start != self.pos {
                // Boundaries are ASCII bytes, so they are char boundaries.
                let run = self
                    .text
                    .get(run_start..self.pos)
                    .ok_or(ParseError::UnterminatedString(start))?;
                match &mut lone {
                    Some(points) => points.extend(run.chars().map(u32::from)),
                    None => text.push_str(run),
                }
            }
            let code_point = match self.peek() {
                None => return Err(ParseError::UnterminatedString(start)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(match lone {
                        Some(points) => PyStr::CodePoints(points),
                        None => PyStr::Text(text),
                    });
                }
                Some(b) if b < 0x20 => return Err(ParseError::ControlCharacter(self.pos)),
                Some(_) => self.escape()?,
            };
            match (&mut lone, char::from_u32(code_point)) {
                (None, Some(c)) => text.push(c),
                (Some(points), _) => points.push(code_point),
                (None, None) => {
                    let mut points: Vec<u32> = text.chars().map(u32::from).collect();
                    points.push(code_point);
                    lone = Some(points);
                }
            }
        }
    }

    /// Decode one escape at `self.pos` (which is a backslash).
    fn escape(&mut self) -> Result<u32, ParseError> {
        let at = self.pos;
        let kind = self
            .src
            .get(at + 1)
            .copied()
            .ok_or(ParseError::UnterminatedString(at))?;
        self.pos += 2;
        let simple = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self
                    .hex4(at + 2)
                    .ok_or(ParseError::InvalidUnicodeEscape(at))?;
                self.pos = at + 6;
                // CPython joins a high surrogate with an escaped low surrogate that
                // follows immediately; anything else leaves it lone.
                if (0xD800..=0xDBFF).contains(&first)
                    && self.src.get(self.pos) == Some(&b'\\')
                    && self.src.get(self.pos + 1) == Some(&b'u')
                {
                    let second = self
                        .hex4(self.pos + 2)
                        .ok_or(ParseError::InvalidUnicodeEscape(self.pos))?;
                    if (0xDC00..=0xDFFF).contains(&second) {
                        self.pos += 6;
                        return Ok(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00));
                    }
                }
                return Ok(first);
            }
            _ => return Err(ParseError::InvalidEscape(at)),
        };
        Ok(u32::from(simple))
    }
}

/// The separators of `json.dumps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separators {
    /// `separators=(",", ":")`
    Compact,
    /// The default `(", ", ": ")`.
    Default,
}

/// How strings are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escaping {
    /// `ensure_ascii=True`: everything outside ' '..='~' is escaped.
    Ascii,
    /// DRF's `JSONRenderer`: `ensure_ascii=False`, plus U+2028/U+2029 escaped.
    DrfUnicode,
}

impl PyJson {
    /// `json.dumps(self, sort_keys=True, separators=...)` with `ensure_ascii=True`.
    pub fn dumps(&self, separators: Separators) -> String {
        let bytes = match separators {
            Separators::Compact => self.write_compact(false).0,
            Separators::Default => {
                let (compact, separator_ends) = self.write_compact(true);
                with_spaces(&compact, &separator_ends)
            }
        };
        ascii_to_string(bytes)
    }

    /// Both signed forms at once: `json.dumps(self, sort_keys=True,
    /// separators=(",", ":"))` and `json.dumps(self, sort_keys=True)`, as bytes.
    /// The second is the first with a space after every separator, copied in
    /// slices between the separator offsets recorded while writing the first.
    pub fn canonical_forms(&self) -> (Vec<u8>, Vec<u8>) {
        self.canonical_forms_sized(1024)
    }

    /// [`Self::canonical_forms`] with a capacity hint for the compact form (a
    /// body of `n` bytes escapes to at most about `3 n`).
    pub fn canonical_forms_sized(&self, capacity: usize) -> (Vec<u8>, Vec<u8>) {
        let (compact, separator_ends) = self.write_compact_sized(true, capacity);
        let default = with_spaces(&compact, &separator_ends);
        (compact, default)
    }

    /// What DRF's `JSONRenderer` writes for this value in an HTTP response:
    /// compact, insertion order, UTF-8 (`UNICODE_JSON`), U+2028/U+2029 escaped.
    pub fn render_drf(&self) -> String {
        let mut writer = Writer {
            out: Vec::with_capacity(128),
            sort_keys: false,
            escaping: Escaping::DrfUnicode,
            separator_ends: None,
        };
        writer.value(self);
        String::from_utf8(writer.out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Compact, sorted, `ensure_ascii` output and (when asked) the offset just
    /// after each separator.
    fn write_compact(&self, record_separators: bool) -> (Vec<u8>, Vec<usize>) {
        self.write_compact_sized(record_separators, 1024)
    }

    fn write_compact_sized(
        &self,
        record_separators: bool,
        capacity: usize,
    ) -> (Vec<u8>, Vec<usize>) {
        let mut writer = Writer {
            out: Vec::with_capacity(capacity),
            sort_keys: true,
            escaping: Escaping::Ascii,
            separator_ends: record_separators.then(|| Vec::with_capacity(64)),
        };
        writer.value(self);
        (writer.out, writer.separator_ends.unwrap_or_default())
    }

    /// Member lookup on an object (`None` for other kinds or a missing key).
    pub fn get(&self, key: &str) -> Option<&PyJson> {
        match self {
            PyJson::Object(members) => members
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Python's `type(value).__name__`, used in DRF error messages.
    pub fn python_type_name(&self) -> &'static str {
        match self {
            PyJson::Null => "NoneType",
            PyJson::Bool(_) => "bool",
            PyJson::Int(_) => "int",
            PyJson::Float(_) => "float",
            PyJson::Str(_) => "str",
            PyJson::Array(_) => "list",
            PyJson::Object(_) => "dict",
        }
    }

    /// Build a string value.
    pub fn str(s: impl Into<String>) -> PyJson {
        PyJson::Str(PyStr::Text(s.into()))
    }

    /// Build an object from `(key, value)` pairs, keeping their order.
    pub fn object<K: Into<String>>(members: impl IntoIterator<Item = (K, PyJson)>) -> PyJson {
        PyJson::Object(
            members
                .into_iter()
                .map(|(k, v)| (PyStr::Text(k.into()), v))
                .collect(),
        )
    }
}

/// Serialises into bytes (the signature is computed over bytes; strings are
/// only built at the API edge).
struct Writer {
    out: Vec<u8>,
    sort_keys: bool,
    escaping: Escaping,
    /// Offsets just after each `,` and `:` separator, when recorded.
    separator_ends: Option<Vec<usize>>,
}

impl Writer {
    fn separator(&mut self, byte: u8) {
        self.out.push(byte);
        if let Some(ends) = &mut self.separator_ends {
            ends.push(self.out.len());
        }
    }

    fn value(&mut self, value: &PyJson) {
        match value {
            PyJson::Null => self.out.extend_from_slice(b"null"),
            PyJson::Bool(true) => self.out.extend_from_slice(b"true"),
            PyJson::Bool(false) => self.out.extend_from_slice(b"false"),
            PyJson::Int(digits) => self.out.extend_from_slice(digits.as_bytes()),
            PyJson::Float(value) => {
                let mut repr = String::new();
                write_float_repr(*value, &mut repr);
                self.out.extend_from_slice(repr.as_bytes());
            }
            PyJson::Str(s) => self.string(s),
            PyJson::Array(items) => {
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.separator(b',');
                    }
                    self.value(item);
                }
                self.out.push(b']');
            }
            PyJson::Object(members) => {
                self.out.push(b'{');
                if self.sort_keys && members.len() > 1 {
                    let mut ordered: Vec<&(PyStr, PyJson)> = members.iter().collect();
                    // Stable, so values built with repeated keys keep Python's order.
                    ordered.sort_by(|a, b| a.0.cmp(&b.0));
                    self.members(ordered.into_iter());
                } else {
                    self.members(members.iter());
                }
                self.out.push(b'}');
            }
        }
    }

    fn members<'v>(&mut self, members: impl Iterator<Item = &'v (PyStr, PyJson)>) {
        for (i, (key, value)) in members.enumerate() {
            if i > 0 {
                self.separator(b',');
            }
            self.string(key);
            self.separator(b':');
            self.value(value);
        }
    }

    fn string(&mut self, s: &PyStr) {
        self.out.push(b'"');
        match (s, self.escaping) {
            (PyStr::Text(text), Escaping::Ascii) => {
                write_ascii_escaped(text.as_bytes(), &mut self.out)
            }
            _ => {
                for cp in s.code_points() {
                    write_escaped(cp, &mut self.out, self.escaping);
                }
            }
        }
        self.out.push(b'"');
    }
}

/// `ensure_ascii` escaping of valid UTF-8: runs of printable ASCII are copied in
/// one go, everything else is decoded and escaped.
fn write_ascii_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + bytes.len() / 2);
    let mut run_start = 0;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if (0x20..0x7F).contains(&byte) && byte != b'"' && byte != b'\\' {
            i += 1;
            continue;
        }
        out.extend_from_slice(bytes.get(run_start..i).unwrap_or_default());
        let width = if byte < 0x80 {
            write_escaped(u32::from(byte), out, Escaping::Ascii);
            1
        } else {
            // Non-ASCII: always `\uXXXX`, a surrogate pair above U+FFFF.
            let (code_point, width) = decode_utf8_at(bytes, i);
            if code_point > 0xFFFF {
                let v = code_point - 0x10000;
                push_u_escape(out, 0xD800 + (v >> 10));
                push_u_escape(out, 0xDC00 + (v & 0x3FF));
            } else {
                push_u_escape(out, code_point);
            }
            width
        };
        i = (i + width).min(bytes.len());
        run_start = i;
    }
    out.extend_from_slice(bytes.get(run_start..).unwrap_or_default());
}

/// The code point of the multi-byte sequence starting at `i` of valid UTF-8,
/// and its length (faster than `chars()` here because the ASCII case is
/// already handled byte by byte).
#[inline]
fn decode_utf8_at(bytes: &[u8], i: usize) -> (u32, usize) {
    let lead = u32::from(bytes.get(i).copied().unwrap_or(0));
    let cont = |k: usize| u32::from(bytes.get(i + k).copied().unwrap_or(0x80) & 0x3F);
    if lead < 0xE0 {
        (((lead & 0x1F) << 6) | cont(1), 2)
    } else if lead < 0xF0 {
        (((lead & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        (
            ((lead & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3),
            4,
        )
    }
}

fn write_escaped(cp: u32, out: &mut Vec<u8>, esc: Escaping) {
    match cp {
        0x22 => out.extend_from_slice(b"\\\""),
        0x5C => out.extend_from_slice(b"\\\\"),
        0x0A => out.extend_from_slice(b"\\n"),
        0x0D => out.extend_from_slice(b"\\r"),
        0x09 => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0C => out.extend_from_slice(b"\\f"),
        0x00..=0x1F => push_u_escape(out, cp),
        0x20..=0x7E => out.push(cp as u8),
        _ => match esc {
            Escaping::Ascii if cp > 0xFFFF => {
                let v = cp - 0x10000;
                push_u_escape(out, 0xD800 + (v >> 10));
                push_u_escape(out, 0xDC00 + (v & 0x3FF));
            }
            Escaping::Ascii => push_u_escape(out, cp),
            Escaping::DrfUnicode if cp == 0x2028 || cp == 0x2029 => push_u_escape(out, cp),
            Escaping::DrfUnicode => {
                let c = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        },
    }
}

/// `\uXXXX` with lowercase hex, as Python writes it (hand-rolled: this is the
/// hot path for non-Latin names).
#[inline]
fn push_u_escape(out: &mut Vec<u8>, unit: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let nibble = |shift: u32| HEX[((unit >> shift) & 0xF) as usize];
    out.extend_from_slice(&[b'\\', b'u', nibble(12), nibble(8), nibble(4), nibble(0)]);
}

/// `compact` with a space inserted after each separator offset.
fn with_spaces(compact: &[u8], separator_ends: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(compact.len() + separator_ends.len());
    let mut start = 0;
    for &end in separator_ends {
        out.extend_from_slice(compact.get(start..end).unwrap_or_default());
        out.push(b' ');
        start = end;
    }
    out.extend_from_slice(compact.get(start..).unwrap_or_default());
    out
}

/// Serialiser output with `ensure_ascii` is ASCII, hence UTF-8.
fn ascii_to_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Python's `float.__repr__` (also `str()` of a float): the shortest digits that
/// round-trip, in positional form when the decimal exponent is in `-4..16`,
/// otherwise `d.ddde+XX`.
pub fn write_float_repr(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if value == 0.0 {
        out.push_str(if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        });
        return;
    }
    // Rust's `{:e}` yields the shortest digit count that round-trips. When two
    // candidates of that length are equally near (an exact tie), Rust rounds half
    // up while CPython (David Gay's dtoa) rounds half to even; Rust's
    // fixed-precision formatting is exact and half-even, so re-round with it.
    let shortest = format!("{value:e}");
    let significant = shortest
        .split('e')
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .count();
    let sci = format!("{:.*e}", significant.saturating_sub(1), value);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let ndigits = digits.len() as i32;
    let decpt = exponent + 1; // value = 0.DIGITS × 10^decpt
    if negative {
        out.push('-');
    }
    if !(-4 < decpt && decpt <= 16) {
        out.push_str(&digits[..1]);
        if ndigits > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exponent.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..-decpt {
            out.push('0');
        }
        out.push_str(&digits);
    } else if decpt >= ndigits {
        out.push_str(&digits);
        for _ in 0..decpt - ndigits {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        let split = decpt as usize;
        out.push_str(&digits[..split]);
        out.push('.');
        out.push_str(&digits[split..]);
    }
}

/// `repr(value)` for a float, as a `String`.
pub fn float_repr(value: f64) -> String {
    let mut out = String::new();
    write_float_repr(value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumps(src: &str, seps: Separators) -> String {
        parse(src.as_bytes()).expect("valid json").dumps(seps)
    }

    #[test]
    fn sorts_keys_at_every_depth_with_both_separators() {
        let src = r#"{"b": {"z": 1, "a": [true, null]}, "a": "x"}"#;
        assert_eq!(
            dumps(src, Separators::Compact),
            r#"{"a":"x","b":{"a":[true,null],"z":1}}"#
        );
        assert_eq!(
            dumps(src, Separators::Default),
            r#"{"a": "x", "b": {"a": [true, null], "z": 1}}"#
        );
    }

    #[test]
    // The tie cases are exact binary values (x.25); clippy cannot see that.
    #[allow(clippy::excessive_precision)]
    fn float_repr_matches_python() {
        let cases = [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.1, "0.1"),
            (1.5e300, "1.5e+300"),
            (123.456, "123.456"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            // An exact tie between two shortest candidates: half to even, like Gay's dtoa.
            (690679270735260.25, "690679270735260.2"),
            (1745123979998843.25, "1745123979998843.2"),
            (f64::INFINITY, "Infinity"),
        ];
        for (value, expected) in cases {
            assert_eq!(float_repr(value), expected, "{value:?}");
        }
    }

    #[test]
    fn numbers_keep_python_types() {
        assert_eq!(
            dumps(
                "[1E2, -0, -0.0, 0e0, 1e400, 123456789012345678901234567890]",
                Separators::Compact
            ),
            "[100.0,0,-0.0,0.0,Infinity,123456789012345678901234567890]"
        );
        assert_eq!(parse(b"NaN"), Err(ParseError::NonFiniteLiteral));
        assert_eq!(parse(b"-Infinity"), Err(ParseError::NonFiniteLiteral));
        assert!(parse(b"01").is_err());
        assert!(parse(b"1.").is_err());
        assert!(parse(b"1e").is_err());
        assert!(parse(b"-").is_err());
        let long = "9".repeat(MAX_INT_DIGITS + 1);
        assert_eq!(parse(long.as_bytes()), Err(ParseError::IntegerTooLong));
        assert!(parse("9".repeat(MAX_INT_DIGITS).as_bytes()).is_ok());
    }

    #[test]
    fn escapes_like_ensure_ascii() {
        let src = "[\"caf\u{e9} \u{1F600} \u{7f} \\u0001 \\\" \\\\ / \\b\\f\\n\\r\\t \u{2028}\"]";
        assert_eq!(
            dumps(src, Separators::Compact),
            r#"["caf\u00e9 \ud83d\ude00 \u007f \u0001 \" \\ / \b\f\n\r\t \u2028"]"#
        );
    }

    #[test]
    fn surrogates_pair_or_stay_lone() {
        assert_eq!(
            dumps(r#"["\ud83d\ude00"]"#, Separators::Compact),
            r#"["\ud83d\ude00"]"#
        );
        let lone = parse(br#""a\ud800b""#).unwrap();
        assert_eq!(lone.dumps(Separators::Compact), r#""a\ud800b""#);
        match lone {
            PyJson::Str(s) => {
                assert_eq!(s.len(), 3);
                assert_eq!(s.first_surrogate(), Some(0xD800));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            dumps(r#""\udc00\ud800""#, Separators::Compact),
            r#""\udc00\ud800""#
        );
    }

    #[test]
    fn default_form_inserts_spaces_only_after_separators() {
        let src = r#"{"a:b": ["x,y", {"k": "\\\":,"}], "c": -1.5e+20, "d": {}, "e": []}"#;
        let v = parse(src.as_bytes()).unwrap();
        assert_eq!(
            v.dumps(Separators::Default),
            r#"{"a:b": ["x,y", {"k": "\\\":,"}], "c": -1.5e+20, "d": {}, "e": []}"#
        );
    }

    #[test]
    fn duplicate_keys_last_wins() {
        assert_eq!(
            dumps(r#"{"a": 1, "b": 2, "a": 3}"#, Separators::Compact),
            r#"{"a":3,"b":2}"#
        );
    }

    #[test]
    fn duplicate_keys_in_large_objects_behave_like_a_dict() {
        // A reference dict: first position, last value.
        fn reference(pairs: &[(String, i64)]) -> Vec<(String, i64)> {
            let mut out: Vec<(String, i64)> = Vec::new();
            for (k, v) in pairs {
                match out.iter_mut().find(|(key, _)| key == k) {
                    Some(slot) => slot.1 = *v,
                    None => out.push((k.clone(), *v)),
                }
            }
            out
        }
        let mut seed = 7u64;
        for round in 0..200 {
            let n = 1 + round % 60;
            let pairs: Vec<(String, i64)> = (0..n)
                .map(|i| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let key_space = 1 + (round % 45) as u64;
                    (format!("k{}", (seed >> 33) % key_space), i as i64)
                })
                .collect();
            let body = format!(
                "{{{}}}",
                pairs
                    .iter()
                    .map(|(k, v)| format!("\"{k}\": {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let expected: Vec<(PyStr, PyJson)> = reference(&pairs)
                .into_iter()
                .map(|(k, v)| (PyStr::Text(k), PyJson::Int(v.to_string())))
                .collect();
            assert_eq!(
                parse(body.as_bytes()),
                Ok(PyJson::Object(expected)),
                "{body}"
            );
        }
    }

    #[test]
    fn both_signed_forms_at_once() {
        let v = parse(r#"{"b": [1, {"x:": "a,\"b"}], "a": "\u00e9"}"#.as_bytes()).unwrap();
        let (compact, default) = v.canonical_forms();
        assert_eq!(compact, br#"{"a":"\u00e9","b":[1,{"x:":"a,\"b"}]}"#);
        assert_eq!(default, br#"{"a": "\u00e9", "b": [1, {"x:": "a,\"b"}]}"#);
        assert_eq!(v.dumps(Separators::Default).as_bytes(), default.as_slice());
    }

    #[test]
    fn keys_sort_by_code_point_not_utf16() {
        // U+FF01 sorts before U+1F600 by code point, after it in UTF-16 units.
        let src = "{\"\u{1F600}\": 1, \"\u{FF01}\": 2, \"\\ud800\": 3}";
        assert_eq!(
            dumps(src, Separators::Compact),
            r#"{"\ud800":3,"\uff01":2,"\ud83d\ude00":1}"#
        );
    }

    #[test]
    fn rejects_what_python_rejects() {
        for bad in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{'a':1}",
            "\"\u{1}\"",
            "\"\\x\"",
            "\"\\u12\"",
            "[1] x",
            "tru",
            "\u{feff}{}",
            "{\"a\" 1}",
            "[1 2]",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?} should fail");
        }
        assert_eq!(parse(&[0x7b, 0xff, 0x7d]), Err(ParseError::InvalidUtf8));
    }

    #[test]
    fn depth_limit_is_an_error_not_a_crash() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(deep.as_bytes()), Err(ParseError::TooDeep));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
        let hostile = "{\"a\":".repeat(100_000);
        assert_eq!(parse(hostile.as_bytes()), Err(ParseError::TooDeep));
    }

    #[test]
    fn drf_rendering_keeps_order_and_unicode() {
        let v = PyJson::object([
            ("success", PyJson::Bool(false)),
            (
                "message",
                PyJson::str("Course caf\u{e9}\u{2028} does not exist"),
            ),
        ]);
        assert_eq!(
            v.render_drf(),
            "{\"success\":false,\"message\":\"Course caf\u{e9}\\u2028 does not exist\"}"
        );
    }
}
