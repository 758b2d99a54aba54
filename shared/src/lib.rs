//! Code shared by the edx-hooks Lambdas: Python-compatible canonical JSON,
//! HMAC signatures, secrets, course keys and the Open edX REST client.
pub mod canonical_json;
pub mod course_key;
pub mod metrics;
pub mod observability;
pub mod openedx;
pub mod openedx_parse;
pub mod richie;
pub mod richie_answer;
pub mod secrets;
pub mod signature;
