//! Code shared by the edx-hooks Lambdas: Python-compatible canonical JSON,
//! HMAC signatures, secrets, course keys and the Open edX REST client.
//!
//! Without the default `adapters` feature only the pure parts build (no AWS SDK, no
//! HTTP client, no async runtime): what the fuzz targets in `fuzz/` link against.
pub mod canonical_json;
pub mod count_refresh;
pub mod course_key;
pub mod enrollment_answers;
pub mod enrollment_mode;
pub mod metrics;
pub mod openedx_parse;
pub mod richie_answer;
pub mod signature;

#[cfg(feature = "adapters")]
pub mod doctor;
#[cfg(feature = "adapters")]
pub mod observability;
#[cfg(feature = "adapters")]
pub mod openedx;
#[cfg(feature = "adapters")]
pub mod richie;
#[cfg(feature = "adapters")]
pub mod secrets;
#[cfg(feature = "adapters")]
pub mod sqs;
