//! Differential tests: our Rust against the real Python components the plugin
//! runs on — CPython's `json` + `hmac`, Django REST framework's serializer, and
//! edx-opaque-keys — over thousands of generated inputs, zero mismatches allowed.
//! The oracle is `tests/python/pyref.py`, run in the project's virtualenv.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use edx_hooks_shared::canonical_json::{parse, Separators};
use edx_hooks_shared::course_key::parse_course_key;
use edx_hooks_shared::signature::sign_hex;
use edx_hooks_tests::support::{venv_program, workspace_root};
use enrollment_webhook::request::validate;
use serde_json::{json, Value};

struct Oracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    fn start() -> Oracle {
        let script = workspace_root().join("tests/python/pyref.py");
        let mut child = Command::new(venv_program("python"))
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Python oracle (run scripts/test to create .venv)");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Oracle {
            child,
            stdin,
            stdout,
        }
    }

    /// Send requests from a writer thread while reading answers, so neither
    /// pipe can fill up and deadlock the two processes.
    fn ask(&mut self, requests: &[Value]) -> Vec<Value> {
        let stdin = &mut self.stdin;
        let stdout = &mut self.stdout;
        std::thread::scope(|scope| {
            scope.spawn(move || {
                for r in requests {
                    writeln!(stdin, "{r}").expect("write to oracle");
                }
                stdin.flush().expect("flush");
            });
            let mut answers = Vec::with_capacity(requests.len());
            for _ in requests {
                let mut line = String::new();
                stdout.read_line(&mut line).expect("read oracle");
                let answer: Value = serde_json::from_str(&line).expect("oracle answers JSON");
                assert!(answer.get("crash").is_none(), "oracle crashed: {answer}");
                answers.push(answer);
            }
            answers
        })
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ generators

struct Gen(fastrand::Rng);

const NAMES: &[&str] = &[
    "مریم",
    "رضایی",
    "محمد",
    "علی‌رضا",
    "فاطمة",
    "عبد الله",
    "王小明",
    "さくら",
    "김민준",
    "😀",
    "👩‍🎓",
    "🇮🇷",
    "José",
    "Zoë",
    "Ærøskøbing",
    "Ñandú",
    "ſtraße",
    "K",
    "test",
    "O'Brien",
    "a\"b",
    "back\\slash",
    "tab\there",
];

impl Gen {
    fn ws(&mut self) -> &'static str {
        ["", "", "", " ", "\n", "\t", "  ", "\r\n "][self.0.usize(..8)]
    }

    fn escaped_char(&mut self) -> String {
        match self.0.usize(..12) {
            0 => "\\\"".into(),
            1 => "\\\\".into(),
            2 => "\\/".into(),
            3 => ["\\b", "\\f", "\\n", "\\r", "\\t"][self.0.usize(..5)].into(),
            4 => format!("\\u{:04x}", self.0.u32(0..0x20)),
            5 => format!("\\u{:04X}", self.0.u32(0x20..0xD800)),
            6 => format!("\\u{:04x}", self.0.u32(0xE000..0x10000)),
            7 => {
                let c = self.0.u32(0x10000..0x110000) - 0x10000;
                format!(
                    "\\u{:04x}\\u{:04x}",
                    0xD800 + (c >> 10),
                    0xDC00 + (c & 0x3FF)
                )
            }
            8 => format!("\\u{:04x}", self.0.u32(0xD800..0xE000)), // lone surrogate
            9 => "\\u007f".into(),
            10 => "\u{7f}".into(),
            _ => "\u{2028}".into(),
        }
    }

    fn string_body(&mut self) -> String {
        let mut s = String::new();
        for _ in 0..self.0.usize(0..6) {
            match self.0.usize(..6) {
                0 | 1 => s.push_str(
                    NAMES[self.0.usize(..NAMES.len())]
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\t', "\\t")
                        .as_str(),
                ),
                2 => s.push_str(&self.escaped_char()),
                3 => s.push(
                    char::from_u32(self.0.u32(0x20..0x7F))
                        .filter(|c| *c != '"' && *c != '\\')
                        .unwrap_or('x'),
                ),
                4 => s.push(self.0.char('\u{a0}'..'\u{d7ff}')),
                _ => s.push_str("course-v1:edX+DemoX+Demo_Course"),
            }
        }
        s
    }

    fn number(&mut self) -> String {
        match self.0.usize(..14) {
            0 => self.0.i64(..).to_string(),
            1 => self.0.i32(-1000..1000).to_string(),
            2 => {
                let digits: String = (0..self.0.usize(1..300))
                    .map(|_| self.0.char('0'..='9'))
                    .collect();
                format!(
                    "{}{}",
                    if self.0.bool() { "-" } else { "" },
                    digits.trim_start_matches('0').to_owned() + "1"
                )
            }
            3 => "-0".into(),
            4 => [
                "1e16",
                "1e-5",
                "1E+2",
                "0.1",
                "1e400",
                "-1e400",
                "5e-324",
                "2.5e-320",
                "1e15",
                "1e17",
                "123.456e7",
                "0.000001234",
                "-0.0",
                "0e0",
                "1.0",
                "1.5e300",
                "12345678901234567890.5",
            ][self.0.usize(..17)]
            .into(),
            5 | 6 => format!("{:e}", f64::from_bits(self.0.u64(..)))
                .replace("inf", "1")
                .replace("NaN", "2"),
            7 => format!("{}", self.0.f64() * 10f64.powi(self.0.i32(-30..30))),
            8 => format!("{}.{}", self.0.i32(-99..99), self.0.u32(0..100000)),
            9 => format!(
                "{}e{}{}",
                self.0.i32(-9..9),
                ["", "+", "-"][self.0.usize(..3)],
                self.0.u32(0..330)
            ),
            10 => format!("{}E{}", self.0.u32(0..99999), self.0.i32(-330..330)),
            11 => format!("{}", self.0.f64()),
            12 => format!("{}.{:0>20}", self.0.u64(..), self.0.u64(..)),
            _ => self.0.u8(..).to_string(),
        }
    }

    fn value(&mut self, depth: usize) -> String {
        let pick = if depth > 4 {
            self.0.usize(..4)
        } else {
            self.0.usize(..7)
        };
        match pick {
            0 => ["null", "true", "false"][self.0.usize(..3)].into(),
            1 => self.number(),
            2 | 3 => format!("\"{}\"", self.string_body()),
            4 => {
                let items: Vec<String> = (0..self.0.usize(0..4))
                    .map(|_| format!("{}{}{}", self.ws(), self.value(depth + 1), self.ws()))
                    .collect();
                format!("[{}]", items.join(","))
            }
            _ => {
                let members: Vec<String> = (0..self.0.usize(0..4))
                    .map(|_| {
                        format!(
                            "{}\"{}\"{}:{}{}",
                            self.ws(),
                            self.string_body(),
                            self.ws(),
                            self.ws(),
                            self.value(depth + 1)
                        )
                    })
                    .collect();
                format!("{{{}}}", members.join(","))
            }
        }
    }

    fn lernito_payload(&mut self) -> Vec<u8> {
        let mut members = vec![
            format!("\"email\": \"{}@example.com\"", self.string_body()),
            format!("\"name\": \"{}\"", self.string_body()),
            format!("\"family\": \"{}\"", self.string_body()),
            format!("\"username\": \"{}\"", self.string_body()),
            format!(
                "\"courseIds\": [\"course-v1:edX+DemoX+Demo_Course\", \"{}\"]",
                self.string_body()
            ),
        ];
        for _ in 0..self.0.usize(0..4) {
            members.push(format!(
                "\"{}\":{}{}",
                self.string_body(),
                self.ws(),
                self.value(1)
            ));
        }
        if self.0.usize(..5) == 0 {
            members.push(format!("\"name\": {}", self.value(2))); // duplicate key
        }
        self.0.shuffle(&mut members);
        let sep = [",", ", ", ",\n  "][self.0.usize(..3)];
        let mut body = format!("{}{{{}}}{}", self.ws(), members.join(sep), self.ws()).into_bytes();
        // Some inputs Python must reject too.
        match self.0.usize(..40) {
            0 => body.extend_from_slice(b","),
            1 => body = b"{\"a\": NaN}".to_vec(),
            2 => body = format!("[{}]", "9".repeat(4301)).into_bytes(),
            3 => body.insert(1, 0xff),
            4 => body = b"{\"a\": \"\x01\"}".to_vec(),
            5 => body = b"{\"a\": \"\\x\"}".to_vec(),
            6 => body = b"{\"a\": -Infinity}".to_vec(),
            7 => body = b"[1,]".to_vec(),
            8 => body = format!("\u{feff}{}", String::from_utf8_lossy(&body)).into_bytes(),
            _ => {}
        }
        body
    }
}

#[test]
fn signatures_match_cpython_for_generated_payloads() {
    let mut gen = Gen(fastrand::Rng::with_seed(0x01e2_4170));
    let secret = "s3cr3t-ß-🔑";
    let bodies: Vec<Vec<u8>> = (0..15_000).map(|_| gen.lernito_payload()).collect();
    let requests: Vec<Value> = bodies
        .iter()
        .map(|b| json!({"op": "sign", "body": hex::encode(b), "secret": secret}))
        .collect();
    let answers = Oracle::start().ask(&requests);
    let (mut mismatches, mut accepted) = (Vec::new(), 0);
    for (body, answer) in bodies.iter().zip(&answers) {
        let ours = parse(body);
        match (answer["ok"].as_bool().unwrap_or(false), ours) {
            (true, Ok(value)) => {
                accepted += 1;
                let compact = value.dumps(Separators::Compact);
                let ok = compact == answer["compact"].as_str().unwrap_or_default()
                    && sign_hex(secret.as_bytes(), compact.as_bytes()) == answer["compact_sig"]
                    && sign_hex(
                        secret.as_bytes(),
                        value.dumps(Separators::Default).as_bytes(),
                    ) == answer["default_sig"];
                if !ok {
                    let py = answer["compact"].as_str().unwrap_or_default();
                    let at = compact
                        .bytes()
                        .zip(py.bytes())
                        .take_while(|(a, b)| a == b)
                        .count();
                    let from = at.saturating_sub(40);
                    mismatches.push(format!(
                        "first difference at byte {at}:\n ours …{}\n py   …{}",
                        compact
                            .get(from..(at + 40).min(compact.len()))
                            .unwrap_or_default(),
                        py.get(from..(at + 40).min(py.len())).unwrap_or_default(),
                    ));
                }
            }
            (false, Err(_)) => {}
            (py, ours) => mismatches.push(format!(
                "acceptance differs for {:?}: python ok={py}, ours={ours:?}",
                String::from_utf8_lossy(body)
            )),
        }
    }
    assert!(accepted > 10_000, "too few valid payloads ({accepted})");
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first: {:#?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}

// ------------------------------------------------------------------ DRF validation

fn field_value(gen: &mut Gen, email: bool) -> Option<String> {
    let r = &mut gen.0;
    let s = match r.usize(..22) {
        0 => return None,
        1 => "null".into(),
        2 => ["true", "false"][r.usize(..2)].into(),
        3 => r.i64(..).to_string(),
        4 => ["1.5", "1e16", "-0.0", "1e400", "0.1"][r.usize(..5)].into(),
        5 => "\"\"".into(),
        6 => [
            "\"   \"",
            "\"\\u3000\"",
            "\"\\u001c\\u001f\"",
            "\"\\u0085 \\u00a0\"",
            "\"\\t\\n\"",
        ][r.usize(..5)]
        .into(),
        7 => format!("\"{}\"", "x".repeat(r.usize(250..260))),
        8 => format!("\" {} \"", "y".repeat(r.usize(253..258))),
        9 => "\"a\\u0000b\"".into(),
        10 => "\"a\\ud800b\\udfff\"".into(),
        11 => "[]".into(),
        12 => "{}".into(),
        13 => "[\"a\"]".into(),
        14 => format!("\"{}\"", "é".repeat(r.usize(254..257))),
        _ if email => format!("\"{}\"", EMAILS[r.usize(..EMAILS.len())]),
        _ => format!(
            "\"{}\"",
            NAMES[r.usize(..NAMES.len())]
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\t', "\\t")
        ),
    };
    Some(s)
}

const EMAILS: &[&str] = &[
    "a@b.co",
    "learner@example.com",
    " padded@example.com ",
    "UPPER@EXAMPLE.COM",
    "first.last+tag@sub.example.co.uk",
    "\\\"quoted\\\\ user\\\"@example.com",
    "\\\"a\\\"@b.co",
    "\\\"a b\\\"@b.co",
    "user@localhost",
    "user@[127.0.0.1]",
    "user@[::1]",
    "user@[256.1.1.1]",
    "user@[01.2.3.4]",
    "user@[IPv6:::1]",
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
    "a@b..co",
    "a@b.co.",
    "é@b.co",
    "user@mañana.com",
    "user@例え.テスト",
    "user@bücher.de",
    "user@xn--bcher-kva.de",
    "Kelvin\u{212a}@example.com",
    "a@b.c_o",
    "a@b.c0",
    "a@b.123",
    "a@1.2.3.4",
    "a b@b.co",
    "a@b@c.co",
    "a\\u0000@b.co",
    "a@\u{212a}.co",
    "user@ex\u{3002}ample.com",
    "x@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
    "!#$%&'*+/=?^_`{}|~-@example.org",
];

fn course_ids_value(gen: &mut Gen) -> Option<String> {
    let r = &mut gen.0;
    let s = match r.usize(..20) {
        0 => return None,
        1 => "null".into(),
        2 => "\"course-v1:a+b+c\"".into(),
        3 => "{\"0\": \"x\"}".into(),
        4 => "7".into(),
        5 => "[]".into(),
        _ => {
            let items: Vec<String> = (0..r.usize(1..5))
                .map(|_| match r.usize(..24) {
                    0 => "null".into(),
                    1 => "\"\"".into(),
                    2 => "\"  \"".into(),
                    3 => "42".into(),
                    4 => "[\"x\"]".into(),
                    5 => format!("\"{}\"", "c".repeat(r.usize(254..257))),
                    6 => "true".into(),
                    7 => "2.5".into(),
                    _ => "\" course-v1:edX+DemoX+Demo_Course \"".into(),
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
    };
    Some(s)
}

#[test]
fn validation_matches_django_rest_framework() {
    let mut gen = Gen(fastrand::Rng::with_seed(7));
    let mut bodies = Vec::new();
    for i in 0..6_000 {
        if i % 500 == 0 {
            bodies.push(["[]", "\"x\"", "3", "null", "[{\"a\": 1}]"][i / 500 % 5].to_owned());
            continue;
        }
        let mut members = Vec::new();
        for field in ["name", "family", "username", "email"] {
            // Mostly valid values so later fields and validate() get exercised.
            let value = if gen.0.usize(..6) == 0 {
                field_value(&mut gen, field == "email")
            } else if field == "email" {
                Some(format!("\"{}\"", EMAILS[gen.0.usize(..EMAILS.len())]))
            } else {
                Some("\"Valid\"".to_owned())
            };
            if let Some(v) = value {
                members.push(format!("\"{field}\": {v}"));
            }
        }
        if let Some(v) = course_ids_value(&mut gen) {
            members.push(format!("\"courseIds\": {v}"));
        }
        if gen.0.bool() {
            members.push("\"extra\": {\"nested\": [1, 2]}".into());
        }
        gen.0.shuffle(&mut members);
        bodies.push(format!("{{{}}}", members.join(", ")));
    }
    let requests: Vec<Value> = bodies
        .iter()
        .map(|b| json!({"op": "validate", "body": hex::encode(b)}))
        .collect();
    let answers = Oracle::start().ask(&requests);
    let mut mismatches = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for (body, answer) in bodies.iter().zip(&answers) {
        let parsed = parse(body.as_bytes())
            .unwrap_or_else(|e| panic!("generator produced bad JSON {body}: {e}"));
        let ours = validate(&parsed);
        let same = match (&ours, answer["valid"].as_bool()) {
            (Ok(r), Some(true)) => {
                valid += 1;
                let theirs = &answer["data"];
                json!([r.name, r.family, r.username, r.email, r.course_ids]) == *theirs
            }
            (Err(errors), Some(false)) => {
                invalid += 1;
                errors.render_drf() == answer["errors"].as_str().unwrap_or_default()
            }
            _ => false,
        };
        if !same {
            let ours = match ours {
                Ok(r) => format!("{r:?}"),
                Err(e) => e.render_drf(),
            };
            mismatches.push(format!("body {body}\n ours {ours}\n drf  {answer}"));
        }
    }
    assert!(
        valid > 300 && invalid > 3000,
        "coverage: {valid} valid, {invalid} invalid"
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first: {:#?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}

// ------------------------------------------------------------------ course keys

fn key_part(r: &mut fastrand::Rng) -> String {
    const VALID: &[&str] = &[
        "edX",
        "DemoX",
        "Demo_Course",
        "2024",
        "T1",
        "a.b",
        "x-y",
        "~z",
        "a:b",
        "é",
        "٢٠٢٤",
        "中文",
        "_",
    ];
    if r.usize(..4) != 0 {
        return (0..r.usize(1..3))
            .map(|_| VALID[r.usize(..VALID.len())])
            .collect();
    }
    const PIECES: &[&str] = &[
        "edX",
        "DemoX",
        "Demo_Course",
        "2024",
        "T1",
        "a.b",
        "x-y",
        "~z",
        "a:b",
        "é",
        "٢٠٢٤",
        "中文",
        "a b",
        "a/b",
        "a%20",
        "",
        "a@b",
        "+",
        "\n",
        "_",
        "ſ",
        "Ⅻ",
        "²",
        "a\u{301}",
    ];
    (0..r.usize(1..3))
        .map(|_| PIECES[r.usize(..PIECES.len())])
        .collect()
}

#[test]
fn course_keys_match_opaque_keys() {
    let mut r = fastrand::Rng::with_seed(42);
    let mut keys = Vec::new();
    for _ in 0..6_000 {
        let (a, b, c) = (key_part(&mut r), key_part(&mut r), key_part(&mut r));
        let key = match r.usize(..12) {
            0..=2 => format!("course-v1:{a}+{b}+{c}"),
            3 => format!("course-v1:{a}+{b}"),
            4 => format!("{a}/{b}/{c}"),
            5 => format!("{a}/{b}"),
            6 => format!("course-v1:{a}+{b}+{c}+branch@{}", key_part(&mut r)),
            7 => format!(
                "course-v1:{a}+{b}+{c}+version@{}",
                [
                    "519665f6223ebd6980884f2b",
                    "519665F6223EBD6980884F2B",
                    "123",
                    "zz9665f6223ebd6980884f2b"
                ][r.usize(..4)]
            ),
            8 => format!("library-v1:{a}+{b}"),
            9 => format!(
                "ccx-v1:{a}+{b}+{c}+ccx@{}",
                ["1", "22", "x", ""][r.usize(..4)]
            ),
            10 => format!(
                "{}:{a}+{b}+{c}",
                ["course-v2", "COURSE-V1", "block-v1", ""][r.usize(..4)]
            ),
            _ => format!(
                "course-v1:{a}+{b}+{c}{}",
                [
                    "+",
                    "\n",
                    " ",
                    "+type@x+block@y",
                    "+branch@a+version@519665f6223ebd6980884f2b"
                ][r.usize(..5)]
            ),
        };
        keys.push(key);
    }
    let requests: Vec<Value> = keys
        .iter()
        .map(|k| json!({"op": "key", "key": k}))
        .collect();
    let answers = Oracle::start().ask(&requests);
    let mut mismatches = Vec::new();
    let mut accepted = 0;
    for (key, answer) in keys.iter().zip(&answers) {
        let ours = parse_course_key(key).ok().map(|k| k.to_string());
        let theirs = answer["ok"]
            .as_bool()
            .unwrap_or(false)
            .then(|| answer["key"].as_str().unwrap_or_default().to_owned());
        accepted += usize::from(theirs.is_some());
        if ours != theirs {
            mismatches.push(format!("{key:?}: ours {ours:?}, opaque-keys {theirs:?}"));
        }
    }
    assert!(accepted > 1000, "too few valid keys generated ({accepted})");
    assert!(
        mismatches.is_empty(),
        "{} mismatches: {:#?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(15)]
    );
}
