//! Open edX course runs → Richie's course-runs-sync API.
//!
//! * [`event`]: inbound bodies (openedx-webhooks, openedx-events, `{"course_id"}`) → requests (pure).
//! * [`payload`]: the domain, a course run → Richie's payload (pure).
//! * `sync`: delivery through the `CatalogLms` and `RichieApi` ports.
//! * `auth`: URL token / HMAC header checks.
//! * `queue`: the retry queue port and its SQS adapter.
//! * `service`: HTTP, SQS, schedule and direct entry points without Lambda types.
//! * `lambda`: Lambda events ⇄ service, and wiring from the environment.
//!
//! All but the pure modules need the default `adapters` feature (Lambda runtime, LMS
//! and Richie clients, SQS); `default-features = false` builds the parsers alone (the
//! fuzz targets' view).
#[cfg(feature = "adapters")]
pub mod auth;
#[cfg(feature = "adapters")]
pub mod config;
pub mod event;
#[cfg(feature = "adapters")]
pub mod lambda;
pub mod payload;
#[cfg(feature = "adapters")]
pub mod queue;
#[cfg(feature = "adapters")]
pub mod service;
#[cfg(feature = "adapters")]
pub mod sync;
