//! Who may call the course-published endpoint.
//!
//! openedx-webhooks can neither sign nor add headers (`openedx_webhooks/utils.py::send`
//! posts with fixed headers), so the shared secret rides in the URL: `?token=<secret>`.
//! Senders that can sign may instead send `X-Edx-Hooks-Signature: <hex HMAC-SHA256 of
//! the raw body>` keyed with the same secret. Several secrets may be valid at once
//! (rotation). All comparisons are constant-time and combined without branching.

use subtle::{Choice, ConstantTimeEq};

use edx_hooks_shared::signature::{mac, verify_hex_any};

pub const SIGNATURE_HEADER: &str = "x-edx-hooks-signature";
pub const TOKEN_PARAM: &str = "token";
/// Longest token or signature looked at (a longer value is simply wrong).
pub const MAX_CREDENTIAL_LEN: usize = 512;

/// Domain separation for hashing tokens before comparing them: the comparison then
/// runs over two fixed-length digests, so not even the token's length leaks.
const TOKEN_HASH_KEY: &[u8] = b"edx-hooks/course-sync/token";

/// How a request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Token,
    Signature,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Token => "token",
            AuthMethod::Signature => "signature",
        }
    }
}

/// Does `presented` equal one of `secrets`?
pub fn token_matches<S: AsRef<str>>(presented: &str, secrets: &[S]) -> bool {
    if presented.is_empty() || presented.len() > MAX_CREDENTIAL_LEN {
        return false;
    }
    let presented = mac(TOKEN_HASH_KEY, presented.as_bytes());
    let mut matched = Choice::from(0);
    for secret in secrets {
        let secret = secret.as_ref();
        if secret.is_empty() {
            continue; // an empty secret would let an empty token in
        }
        matched |= mac(TOKEN_HASH_KEY, secret.as_bytes()).ct_eq(&presented);
    }
    bool::from(matched)
}

/// Is `header` the hex HMAC-SHA256 of `body` under one of `secrets`? Either case.
pub fn signature_matches<S: AsRef<str>>(header: &str, secrets: &[S], body: &[u8]) -> bool {
    let secrets: Vec<&[u8]> = secrets.iter().map(|s| s.as_ref().as_bytes()).collect();
    verify_hex_any(header, &secrets, &[body]).is_some()
}

/// Check whichever credentials the request carries.
pub fn authenticate<S: AsRef<str>>(
    token: Option<&str>,
    signature: Option<&str>,
    secrets: &[S],
    body: &[u8],
) -> Option<AuthMethod> {
    if signature.is_some_and(|s| signature_matches(s, secrets, body)) {
        return Some(AuthMethod::Signature);
    }
    if token.is_some_and(|t| token_matches(t, secrets)) {
        return Some(AuthMethod::Token);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use edx_hooks_shared::signature::sign_hex;

    #[test]
    fn tokens() {
        let secrets = ["old-token", "new-token"];
        assert!(token_matches("new-token", &secrets));
        assert!(token_matches("old-token", &secrets));
        assert!(!token_matches("new-token ", &secrets));
        assert!(!token_matches("NEW-TOKEN", &secrets));
        assert!(!token_matches("", &secrets));
        assert!(!token_matches("", &[""]));
        assert!(!token_matches(&"x".repeat(600), &[&"x".repeat(600)]));
        let none: [&str; 0] = [];
        assert!(!token_matches("new-token", &none));
    }

    #[test]
    fn signatures() {
        let body = br#"{"course_id": "course-v1:edX+DemoX+Demo_Course"}"#;
        let sig = sign_hex(b"k2", body);
        assert!(signature_matches(&sig, &["k1", "k2"], body));
        assert!(signature_matches(&sig.to_uppercase(), &["k2"], body));
        assert!(!signature_matches(&sig, &["k1"], body));
        assert!(!signature_matches(&sig, &["k2"], b"{}"));
        assert!(!signature_matches(&sig[..62], &["k2"], body));
        assert!(!signature_matches(&format!("sha256={sig}"), &["k2"], body));
        assert!(!signature_matches(&sign_hex(b"", body), &[""], body));
        assert_eq!(
            authenticate(Some("k1"), Some("bad"), &["k1"], body),
            Some(AuthMethod::Token)
        );
        assert_eq!(
            authenticate(None, Some(&sig), &["k2"], body),
            Some(AuthMethod::Signature)
        );
        assert_eq!(authenticate(Some("nope"), None, &["k2"], body), None);
        assert_eq!(authenticate(None, None, &["k2"], body), None);
    }
}
