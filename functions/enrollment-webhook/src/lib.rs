//! The Lernito enrollment webhook: domain logic and the Lambda adapter.
//!
//! * [`request`]: body → validated request, DRF-identical error map (pure).
//! * `enroll`: the domain decision, through the `EnrollmentLms` port.
//! * `count_refresh`: after a success, ask course-sync (through its enrollment-count
//!   queue) to refresh the courses' counts in Richie — the `CountNotifier` port.
//! * `service`: one HTTP exchange without Lambda types.
//! * `lambda`: API Gateway ⇄ service, and wiring from the environment.
//!
//! All but [`request`] need the default `adapters` feature (Lambda runtime, LMS client,
//! Secrets Manager); `default-features = false` builds the pure validation alone.
#[cfg(feature = "adapters")]
pub mod count_refresh;
#[cfg(feature = "adapters")]
pub mod enroll;
#[cfg(feature = "adapters")]
pub mod lambda;
pub mod request;
#[cfg(feature = "adapters")]
pub mod service;
