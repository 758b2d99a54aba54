//! Open edX course runs → Richie's course-runs-sync API.
//!
//! * [`event`]: inbound bodies (openedx-webhooks, openedx-events, `{"course_id"}`) → requests (pure).
//! * [`payload`]: the domain, a course run → Richie's payload (pure).
//! * [`job`]: the unit of work — a course, the targets still owed, the event snapshot —
//!   and its queue message (pure).
//! * `plan`: `decide(job, outcome) -> Plan`, the whole retry and permanence policy.
//! * `sync`: delivery through the `CatalogLms` and `RichieApi` ports; `pacer`: the
//!   resync's course-list rate (a sliding window, like the LMS's throttle).
//! * `http`: the HTTP layer (statuses, answers); `render`: JSON summaries.
//! * `auth`: URL token / HMAC header checks.
//! * `queue`: the retry queue port and its SQS adapter.
//! * `count_queue`: enrollment counts — the count-refresh FIFO queue's port and SQS
//!   adapter, enrollment events on the HTTP route, the FIFO consumer's failure rule.
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
#[cfg(feature = "adapters")]
pub mod count_queue;
pub mod event;
#[cfg(feature = "adapters")]
pub mod http;
pub mod job;
#[cfg(feature = "adapters")]
pub mod lambda;
#[cfg(feature = "adapters")]
pub mod pacer;
pub mod payload;
#[cfg(feature = "adapters")]
pub mod plan;
#[cfg(feature = "adapters")]
pub mod queue;
#[cfg(feature = "adapters")]
pub mod render;
#[cfg(feature = "adapters")]
pub mod service;
#[cfg(feature = "adapters")]
pub mod sync;
