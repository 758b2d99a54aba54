//! The Lernito enrollment webhook: domain logic and the Lambda adapter.
//!
//! * [`request`]: body → validated request, DRF-identical error map (pure).
//! * [`enroll`]: the domain decision, through the `EnrollmentLms` port.
//! * [`service`]: one HTTP exchange without Lambda types.
//! * [`lambda`]: API Gateway ⇄ service, and wiring from the environment.
pub mod enroll;
pub mod lambda;
pub mod request;
pub mod service;
