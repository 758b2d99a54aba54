//! Open edX course runs → Richie's course-runs-sync API.
//!
//! * [`event`]: inbound bodies (openedx-webhooks, openedx-events, `{"course_id"}`) → requests (pure).
//! * [`payload`]: the domain, a course run → Richie's payload (pure).
//! * [`sync`]: delivery through the `CatalogLms` and `RichieApi` ports.
//! * [`auth`]: URL token / HMAC header checks.
//! * [`queue`]: the retry queue port and its SQS adapter.
//! * [`service`]: HTTP, SQS, schedule and direct entry points without Lambda types.
//! * [`lambda`]: Lambda events ⇄ service, and wiring from the environment.
pub mod auth;
pub mod config;
pub mod event;
pub mod lambda;
pub mod payload;
pub mod queue;
pub mod service;
pub mod sync;
