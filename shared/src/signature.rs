//! HMAC-SHA256 signatures: Lernito's `X-Lernito-Signature` (verified here) and
//! Richie's `SIG-HMAC-SHA256` (produced here).
//!
//! Everything that decides "authentic or not" lives in this one small module so it
//! can be read in one sitting and tested hard.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use crate::canonical_json::{PyJson, Separators};

type HmacSha256 = Hmac<Sha256>;

/// Length of a hex-encoded SHA-256 MAC.
pub const HEX_SIGNATURE_LEN: usize = 64;

fn keyed_hmac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!())
}

/// Raw HMAC-SHA256 of `message` under `secret`.
pub fn mac(secret: &[u8], message: &[u8]) -> [u8; 32] {
    let mut m = keyed_hmac(secret);
    m.update(message);
    m.finalize().into_bytes().into()
}

/// Lowercase hex HMAC-SHA256, what Python's `hmac.new(...).hexdigest()` prints.
pub fn sign_hex(secret: &[u8], message: &[u8]) -> String {
    hex::encode(mac(secret, message))
}

/// Which bytes a valid Lernito signature was computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedForm {
    /// `json.dumps(body, sort_keys=True, separators=(",", ":"))`: what the plugin verifies.
    CompactJson,
    /// `json.dumps(body, sort_keys=True)`: what the plugin's README tells senders to sign.
    DefaultJson,
    /// The request body exactly as received.
    RawBody,
}

impl SignedForm {
    pub fn as_str(self) -> &'static str {
        match self {
            SignedForm::CompactJson => "compact_json",
            SignedForm::DefaultJson => "default_json",
            SignedForm::RawBody => "raw_body",
        }
    }
}

/// The three messages a Lernito signature may cover, computed once per request.
pub struct SignedMessages<'a> {
    compact: Vec<u8>,
    default: Vec<u8>,
    raw: &'a [u8],
}

impl<'a> SignedMessages<'a> {
    pub fn new(parsed: &PyJson, raw: &'a [u8]) -> Self {
        let (compact, default) = parsed.canonical_forms_sized(raw.len().saturating_mul(3) + 16);
        SignedMessages {
            compact,
            default,
            raw,
        }
    }

    fn forms(&self) -> [(SignedForm, &[u8]); 3] {
        [
            (SignedForm::CompactJson, &self.compact),
            (SignedForm::DefaultJson, &self.default),
            (SignedForm::RawBody, self.raw),
        ]
    }
}

/// Decode a hex signature (either case) into 32 bytes. `None` for anything else.
fn decode_hex_signature(header: &str) -> Option<[u8; 32]> {
    let bytes = header.as_bytes();
    if bytes.len() != HEX_SIGNATURE_LEN {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Check a hex signature (either case) against every `(secret, message)` pair
/// and return the index of the first message it signs.
///
/// Every candidate MAC is computed and compared in constant time, and the results
/// are combined without branching, so timing reveals neither which secret or
/// message matched nor how many leading bytes of a forged signature were right. A
/// header that is not 64 hex characters is compared against a dummy value and
/// then rejected, so it takes the same path as a wrong signature. Empty secrets
/// are skipped: they would let anyone sign.
pub fn verify_hex_any<S: AsRef<[u8]>>(
    header: &str,
    secrets: &[S],
    messages: &[&[u8]],
) -> Option<usize> {
    let decoded = decode_hex_signature(header.trim());
    let well_formed = Choice::from(u8::from(decoded.is_some()));
    let presented = decoded.unwrap_or([0u8; 32]);
    let mut matched = vec![Choice::from(0); messages.len()];
    for secret in secrets.iter().map(AsRef::as_ref).filter(|s| !s.is_empty()) {
        // Key the HMAC once per secret; each message starts from a copy.
        let keyed = keyed_hmac(secret);
        for (slot, message) in matched.iter_mut().zip(messages) {
            let mut m = keyed.clone();
            m.update(message);
            let tag: [u8; 32] = m.finalize().into_bytes().into();
            *slot |= tag.ct_eq(&presented);
        }
    }
    let mut result = None;
    // Report the first matching message; no data-dependent early exit.
    for (index, slot) in matched.iter().enumerate().rev() {
        if bool::from(*slot & well_formed) {
            result = Some(index);
        }
    }
    result
}

/// Check an `X-Lernito-Signature` header against every secret and every accepted
/// form (see [`verify_hex_any`] for the constant-time guarantees). Returns the
/// form that matched.
pub fn verify_lernito<S: AsRef<[u8]>>(
    header: &str,
    secrets: &[S],
    messages: &SignedMessages<'_>,
) -> Option<SignedForm> {
    let forms = messages.forms();
    let bytes: [&[u8]; 3] = [forms[0].1, forms[1].1, forms[2].1];
    verify_hex_any(header, secrets, &bytes).map(|index| forms[index].0)
}

/// The `Authorization` header value Richie expects for `body`:
/// `SIG-HMAC-SHA256 <lowercase hex HMAC-SHA256(secret, body)>`.
pub fn richie_authorization(secret: &[u8], body: &[u8]) -> String {
    format!("SIG-HMAC-SHA256 {}", sign_hex(secret, body))
}

/// Sign a Lernito payload the way the plugin's README tells senders to
/// (`json.dumps(data, sort_keys=True)`), or in the compact form.
pub fn sign_lernito(secret: &[u8], payload: &PyJson, separators: Separators) -> String {
    sign_hex(secret, payload.dumps(separators).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical_json::parse;

    const PLUGIN_EXAMPLE: &str = r#"{"email": "test@example.com", "name": "Test", "family": "User", "username": "testuser", "courseIds": ["course-v1:edX+DemoX+Demo_Course"]}"#;

    #[test]
    fn plugin_vectors() {
        // Computed with CPython hmac/json (see the plugin's views.py comment).
        let parsed = parse(PLUGIN_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(
            sign_lernito(b"123456", &parsed, Separators::Default),
            "0a48a78817b613abdc3d094ca2a7ba59bddfe6d5535c99a00eefc73a6b26e64f"
        );
        assert_eq!(
            sign_lernito(b"123456", &parsed, Separators::Compact),
            "39b3cf39391ecbd9635359cafd89e508da724584b11b59a521088bfec80f158e"
        );
    }

    #[test]
    fn accepts_each_form_any_case_any_secret() {
        let raw = PLUGIN_EXAMPLE.as_bytes();
        let parsed = parse(raw).unwrap();
        let messages = SignedMessages::new(&parsed, raw);
        let secrets = ["old", "123456"];
        let default = "0a48a78817b613abdc3d094ca2a7ba59bddfe6d5535c99a00eefc73a6b26e64f";
        assert_eq!(
            verify_lernito(default, &secrets, &messages),
            Some(SignedForm::DefaultJson)
        );
        assert_eq!(
            verify_lernito(&default.to_uppercase(), &secrets, &messages),
            Some(SignedForm::DefaultJson)
        );
        let compact = "39b3cf39391ecbd9635359cafd89e508da724584b11b59a521088bfec80f158e";
        assert_eq!(
            verify_lernito(compact, &secrets, &messages),
            Some(SignedForm::CompactJson)
        );
        let raw_sig = sign_hex(b"old", raw);
        assert_eq!(
            verify_lernito(&raw_sig, &secrets, &messages),
            Some(SignedForm::RawBody)
        );
    }

    #[test]
    fn rejects_forgeries() {
        let raw = PLUGIN_EXAMPLE.as_bytes();
        let parsed = parse(raw).unwrap();
        let messages = SignedMessages::new(&parsed, raw);
        let good = "0a48a78817b613abdc3d094ca2a7ba59bddfe6d5535c99a00eefc73a6b26e64f";
        let mut flipped = good.to_owned();
        flipped.replace_range(63..64, "e");
        for bad in [
            "",
            &flipped,
            &good[..62],
            &format!("{good}00"),
            &format!("sha256={good}"),
            "zz48a78817b613abdc3d094ca2a7ba59bddfe6d5535c99a00eefc73a6b26e64f",
            "ü0a48a78817b613abdc3d094ca2a7ba59bddfe6d5535c99a00eefc73a6b26e6",
        ] {
            assert_eq!(verify_lernito(bad, &["123456"], &messages), None, "{bad:?}");
        }
        assert_eq!(verify_lernito(good, &["wrong"], &messages), None);
        let no_secrets: [&str; 0] = [];
        assert_eq!(verify_lernito(good, &no_secrets, &messages), None);
        // An empty configured secret never validates anything.
        let empty_sig = sign_hex(b"", raw);
        assert_eq!(verify_lernito(&empty_sig, &[""], &messages), None);
    }

    #[test]
    fn richie_header_format() {
        // hmac.new(b"shared secret", b'{"a": 1}', hashlib.sha256).hexdigest()
        let header = richie_authorization(b"shared secret", br#"{"a": 1}"#);
        assert!(header.starts_with("SIG-HMAC-SHA256 "));
        assert_eq!(header.len(), "SIG-HMAC-SHA256 ".len() + 64);
        assert_eq!(&header[16..], sign_hex(b"shared secret", br#"{"a": 1}"#));
    }
}
