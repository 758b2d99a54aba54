//! Inbound messages → what to synchronise. Pure parsing, no I/O.
//!
//! Accepted bodies (HTTP requests and SQS records alike):
//! 1. openedx-webhooks (aulasneo/openedx-webhooks, `receivers.py::_process_event`) for
//!    `COURSE_CATALOG_INFO_CHANGED`: the data under the fully-qualified class name
//!    `openedx_events.content_authoring.data.CourseCatalogData`, plus `event_metadata`.
//!    Datetimes are Python `str(datetime)` (`2030-01-01 00:00:00+00:00`); unknown fields
//!    (e.g. `effort`, added by newer openedx-events) are ignored.
//! 2. the openedx-events signal shape `{"catalog_info": {...}, "event_metadata": {...}}`
//!    (`openedx_events/content_authoring/signals.py`, data key `catalog_info`).
//! 3. `{"course_id": "course-v1:..."}` (or `course_key`), for manual triggers (the
//!    queue's job messages extend it, see `job.rs`).
//! 4. openedx-webhooks' enrollment events `COURSE_ENROLLMENT_CREATED` /
//!    `COURSE_ENROLLMENT_CHANGED` (sent by the **LMS**): `_process_event` posts
//!    `{"openedx_events.learning.data.CourseEnrollmentData": asdict(enrollment),
//!    "event_metadata": asdict(metadata)}` (aulasneo/openedx-webhooks
//!    `openedx_webhooks/receivers.py`, `course_enrollment_created_receiver` /
//!    `course_enrollment_changed_receiver`); the data class is openedx-events'
//!    `learning/data.py::CourseEnrollmentData` — `user` (`id`, `is_active`, `pii`:
//!    username, email, name), `course` (`CourseData`: `course_key`, `display_name`,
//!    `start`, `end`), `mode`, `is_active`, `creation_date`, `created_by` — and the event
//!    types are `org.openedx.learning.course.enrollment.{created,changed}.v1`
//!    (`learning/signals.py`). Only `course.course_key` is read (the learner's PII is
//!    never looked at or logged): [`Inbound::Enrollment`], a count refresh of that course.
//!    The LMS sends `COURSE_ENROLLMENT_CREATED` from `CourseEnrollment.enroll`
//!    (`common/djangoapps/student/models/course_enrollment.py`) as it happens, not on
//!    commit: the count queue's 5-minute delay also lets that transaction commit.
//!
//! An `event_metadata.event_type` other than the catalog-info-changed type is not an
//! error: the message is acknowledged and ignored (a webhook configured for the wrong
//! event must not be retried forever).

use serde_json::{Map, Value};

use crate::payload::CatalogSnapshot;

/// openedx-webhooks' top-level key for `COURSE_CATALOG_INFO_CHANGED`.
pub const CATALOG_DATA_KEY: &str = "openedx_events.content_authoring.data.CourseCatalogData";
/// `COURSE_CATALOG_INFO_CHANGED.event_type` (openedx-events `content_authoring/signals.py`).
pub const CATALOG_EVENT_TYPE: &str = "org.openedx.content_authoring.course.catalog_info.changed.v1";
/// openedx-webhooks' top-level key for the enrollment events (`CourseEnrollmentData`).
pub const ENROLLMENT_DATA_KEY: &str = "openedx_events.learning.data.CourseEnrollmentData";
/// `COURSE_ENROLLMENT_CREATED` / `COURSE_ENROLLMENT_CHANGED` event types (openedx-events
/// `learning/signals.py`).
pub const ENROLLMENT_EVENT_TYPES: [&str; 2] = [
    "org.openedx.learning.course.enrollment.created.v1",
    "org.openedx.learning.course.enrollment.changed.v1",
];
/// Longest course key we accept (edx-platform's `CourseKeyField` is 255 characters).
const MAX_COURSE_ID_LEN: usize = 255;

/// One course to synchronise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    pub course_id: String,
    /// The published state carried by a live event, if any.
    pub snapshot: Option<CatalogSnapshot>,
}

impl SyncRequest {
    pub fn course(course_id: impl Into<String>) -> Self {
        SyncRequest {
            course_id: course_id.into(),
            snapshot: None,
        }
    }
}

/// What a body asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    Course(SyncRequest),
    /// An enrollment in this course was created or changed: its enrollment count (and
    /// only the LMS's own values) should be refreshed. Never carries a snapshot.
    Enrollment(SyncRequest),
    /// A well-formed event of another type.
    Ignored {
        event_type: String,
    },
}

/// A direct (`aws lambda invoke`) command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `{"course_ids": [...]}` (or any accepted single-course body).
    Courses(Vec<SyncRequest>),
    /// `{"resync": "all"}`.
    ResyncAll,
    /// `{"resync": "all", "from_page": N}`: the continuation of a resync that stopped
    /// before page N (see [`resync_continuation`]).
    ResyncFrom(u32),
}

/// The body that continues a resync at course-list page `page`: a direct command, and
/// the queue message a resync leaves when it stops early (its consumer accepts it too).
pub fn resync_continuation(page: u32) -> String {
    serde_json::json!({"resync": "all", "from_page": page}).to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("body is not JSON ({0}); configure the webhook without www-form encoding")]
    NotJson(String),
    #[error("unrecognised body: expected the openedx-webhooks COURSE_CATALOG_INFO_CHANGED payload or {{\"course_id\": \"...\"}}")]
    Unrecognized,
    #[error("{field}: {reason}")]
    InvalidField {
        field: &'static str,
        reason: &'static str,
    },
}

fn course_id_field(value: Option<&Value>, field: &'static str) -> Result<String, EventError> {
    let id = value
        .ok_or(EventError::InvalidField {
            field,
            reason: "missing",
        })?
        .as_str()
        .ok_or(EventError::InvalidField {
            field,
            reason: "must be a string",
        })?
        .trim();
    if id.is_empty() {
        return Err(EventError::InvalidField {
            field,
            reason: "must not be empty",
        });
    }
    if id.len() > MAX_COURSE_ID_LEN || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EventError::InvalidField {
            field,
            reason: "is not a course key",
        });
    }
    Ok(id.to_owned())
}

/// A datetime field of `schedule_data`: `null`/absent → `None`, a string → as is
/// (normalised later by the payload builder); anything else is an error.
fn optional_text(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, EventError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(EventError::InvalidField {
            field,
            reason: "must be a string or null",
        }),
    }
}

fn catalog_data(data: &Value) -> Result<SyncRequest, EventError> {
    let data = data.as_object().ok_or(EventError::InvalidField {
        field: "catalog_info",
        reason: "must be an object",
    })?;
    let course_id = course_id_field(data.get("course_key"), "course_key")?;
    let snapshot = match data.get("schedule_data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(schedule)) => Some(CatalogSnapshot {
            start: optional_text(schedule, "start")?,
            end: optional_text(schedule, "end")?,
            enrollment_start: optional_text(schedule, "enrollment_start")?,
            enrollment_end: optional_text(schedule, "enrollment_end")?,
            hidden: data.get("hidden").and_then(Value::as_bool),
        }),
        Some(_) => {
            return Err(EventError::InvalidField {
                field: "schedule_data",
                reason: "must be an object",
            })
        }
    };
    Ok(SyncRequest {
        course_id,
        snapshot,
    })
}

/// The course of an enrollment event: `<ENROLLMENT_DATA_KEY>.course.course_key` (or
/// the openedx-events signal's own data key, `enrollment`).
fn enrollment_data(body: &Map<String, Value>) -> Result<SyncRequest, EventError> {
    let data = body
        .get(ENROLLMENT_DATA_KEY)
        .or_else(|| body.get("enrollment"))
        .ok_or(EventError::InvalidField {
            field: "enrollment",
            reason: "missing",
        })?;
    let course = data.get("course").ok_or(EventError::InvalidField {
        field: "course",
        reason: "missing",
    })?;
    let course_id = course_id_field(course.get("course_key"), "course_key")?;
    Ok(SyncRequest::course(course_id))
}

/// The event type in `event_metadata`, if the body has one.
fn event_type(body: &Map<String, Value>) -> Option<&str> {
    body.get("event_metadata")?.get("event_type")?.as_str()
}

/// Parse an already-decoded JSON body.
pub fn parse_course_value(value: &Value) -> Result<Inbound, EventError> {
    let body = value.as_object().ok_or(EventError::Unrecognized)?;
    if let Some(kind) = event_type(body) {
        if ENROLLMENT_EVENT_TYPES.contains(&kind) {
            return enrollment_data(body).map(Inbound::Enrollment);
        }
        if kind != CATALOG_EVENT_TYPE {
            return Ok(Inbound::Ignored {
                event_type: kind.chars().take(200).collect(),
            });
        }
    }
    if let Some(data) = body
        .get(CATALOG_DATA_KEY)
        .or_else(|| body.get("catalog_info"))
    {
        return catalog_data(data).map(Inbound::Course);
    }
    if let Some(id) = body.get("course_id") {
        return Ok(Inbound::Course(SyncRequest::course(course_id_field(
            Some(id),
            "course_id",
        )?)));
    }
    if let Some(id) = body.get("course_key") {
        return Ok(Inbound::Course(SyncRequest::course(course_id_field(
            Some(id),
            "course_key",
        )?)));
    }
    Err(EventError::Unrecognized)
}

/// Parse a raw body (HTTP request or SQS record).
pub fn parse_course_event(body: &[u8]) -> Result<Inbound, EventError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| EventError::NotJson(e.to_string()))?;
    parse_course_value(&value)
}

/// Parse a direct invocation: `{"course_ids": [...]}`, `{"resync": "all"}`, or any
/// single-course body.
pub fn parse_command(value: &Value) -> Result<Command, EventError> {
    if let Some(resync) = value.get("resync") {
        if resync.as_str() != Some("all") {
            return Err(EventError::InvalidField {
                field: "resync",
                reason: "must be \"all\"",
            });
        }
        return match value.get("from_page") {
            None => Ok(Command::ResyncAll),
            Some(page) => match page.as_u64() {
                Some(n) if (1..=u64::from(u32::MAX)).contains(&n) => {
                    Ok(Command::ResyncFrom(n as u32))
                }
                _ => Err(EventError::InvalidField {
                    field: "from_page",
                    reason: "must be a page number (1 or more)",
                }),
            },
        };
    }
    if let Some(ids) = value.get("course_ids") {
        let ids = ids.as_array().ok_or(EventError::InvalidField {
            field: "course_ids",
            reason: "must be a list",
        })?;
        if ids.is_empty() {
            return Err(EventError::InvalidField {
                field: "course_ids",
                reason: "must not be empty",
            });
        }
        let requests = ids
            .iter()
            .map(|id| course_id_field(Some(id), "course_ids").map(SyncRequest::course))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Command::Courses(requests));
    }
    match parse_course_value(value)? {
        Inbound::Course(request) | Inbound::Enrollment(request) => {
            Ok(Command::Courses(vec![request]))
        }
        Inbound::Ignored { .. } => Ok(Command::Courses(Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WEBHOOKS_22: &str =
        include_str!("../../../events/course-sync/openedx-webhooks-body.json");

    #[test]
    fn openedx_webhooks_payload() {
        let Inbound::Course(req) = parse_course_event(WEBHOOKS_22.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(req.course_id, "course-v1:edX+DemoX+Demo_Course");
        let s = req.snapshot.unwrap();
        assert_eq!(s.start.as_deref(), Some("2030-01-01 00:00:00+00:00"));
        assert_eq!(s.end.as_deref(), Some("2030-06-30 23:59:00+00:00"));
        assert_eq!(s.enrollment_start, None);
        assert_eq!(s.hidden, Some(false));
    }

    #[test]
    fn other_shapes() {
        let generic = r#"{"catalog_info": {"course_key": "course-v1:a+b+c", "schedule_data": {"start": "2030-01-01T00:00:00+00:00", "pacing": "self"}, "effort": "2h", "hidden": true}, "event_metadata": {"event_type": "org.openedx.content_authoring.course.catalog_info.changed.v1"}}"#;
        let Inbound::Course(req) = parse_course_event(generic.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(req.snapshot.as_ref().and_then(|s| s.hidden), Some(true));
        assert_eq!(
            parse_course_event(br#"{"course_id": " course-v1:a+b+c "}"#).unwrap(),
            Inbound::Course(SyncRequest::course("course-v1:a+b+c"))
        );
        assert_eq!(
            parse_course_event(br#"{"course_key": "a/b/c", "extra": 1}"#).unwrap(),
            Inbound::Course(SyncRequest::course("a/b/c"))
        );
        assert_eq!(
            parse_course_event(br#"{"openedx_events.x": {}, "event_metadata": {"event_type": "org.openedx.learning.course.unenrollment.completed.v1"}}"#).unwrap(),
            Inbound::Ignored { event_type: "org.openedx.learning.course.unenrollment.completed.v1".into() }
        );
    }

    #[test]
    fn enrollment_events_are_count_refreshes_of_their_course() {
        // openedx-webhooks' body for COURSE_ENROLLMENT_CREATED (`asdict(enrollment,
        // value_serializer=str)` + `asdict(metadata)`), as in events/course-sync/.
        let created =
            include_str!("../../../events/course-sync/openedx-webhooks-enrollment-created.json");
        assert_eq!(
            parse_course_event(created.as_bytes()).unwrap(),
            Inbound::Enrollment(SyncRequest::course("course-v1:edX+DemoX+Demo_Course"))
        );
        // COURSE_ENROLLMENT_CHANGED (e.g. a mode change or a deactivation); the
        // openedx-events signal shape (`enrollment`) is read the same way.
        let changed = r#"{"enrollment": {"user": {"id": 7, "is_active": true, "pii": {"username": "u", "email": "u@example.com", "name": ""}}, "course": {"course_key": "course-v1:a+b+c", "display_name": "", "start": null, "end": null}, "mode": "verified", "is_active": false, "creation_date": "2030-01-01 00:00:00+00:00", "created_by": null}, "event_metadata": {"event_type": "org.openedx.learning.course.enrollment.changed.v1"}}"#;
        assert_eq!(
            parse_course_event(changed.as_bytes()).unwrap(),
            Inbound::Enrollment(SyncRequest::course("course-v1:a+b+c"))
        );
        // Malformed enrollment events are errors (400), never a sync of something else.
        for bad in [
            r#"{"event_metadata": {"event_type": "org.openedx.learning.course.enrollment.created.v1"}}"#,
            r#"{"openedx_events.learning.data.CourseEnrollmentData": {"course": {}}, "event_metadata": {"event_type": "org.openedx.learning.course.enrollment.created.v1"}}"#,
            r#"{"openedx_events.learning.data.CourseEnrollmentData": {"course": {"course_key": "a b"}}, "event_metadata": {"event_type": "org.openedx.learning.course.enrollment.changed.v1"}}"#,
            r#"{"openedx_events.learning.data.CourseEnrollmentData": [], "event_metadata": {"event_type": "org.openedx.learning.course.enrollment.changed.v1"}}"#,
        ] {
            assert!(parse_course_event(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(
            parse_command(&serde_json::from_str(created).unwrap()).unwrap(),
            Command::Courses(vec![SyncRequest::course("course-v1:edX+DemoX+Demo_Course")])
        );
    }

    #[test]
    fn malformed_bodies() {
        assert!(matches!(
            parse_course_event(
                b"openedx_events.content_authoring.data.CourseCatalogData_course_key=x"
            ),
            Err(EventError::NotJson(_))
        ));
        assert_eq!(parse_course_event(b"[]"), Err(EventError::Unrecognized));
        assert_eq!(parse_course_event(b"{}"), Err(EventError::Unrecognized));
        assert_eq!(
            parse_course_event(br#"{"course_id": 5}"#),
            Err(EventError::InvalidField {
                field: "course_id",
                reason: "must be a string"
            })
        );
        assert_eq!(
            parse_course_event(br#"{"course_id": "a b"}"#),
            Err(EventError::InvalidField {
                field: "course_id",
                reason: "is not a course key"
            })
        );
        let long = format!(r#"{{"course_id": "{}"}}"#, "x".repeat(300));
        assert!(parse_course_event(long.as_bytes()).is_err());
        assert_eq!(
            parse_course_event(
                br#"{"catalog_info": {"course_key": "a/b/c", "schedule_data": {"start": 5}}}"#
            ),
            Err(EventError::InvalidField {
                field: "start",
                reason: "must be a string or null"
            })
        );
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse_command(&serde_json::json!({"resync": "all"})).unwrap(),
            Command::ResyncAll
        );
        assert!(parse_command(&serde_json::json!({"resync": true})).is_err());
        let continuation: Value = serde_json::from_str(&resync_continuation(7)).unwrap();
        assert_eq!(
            parse_command(&continuation).unwrap(),
            Command::ResyncFrom(7)
        );
        for page in [json!(0), json!(-1), json!("2"), json!(1.5)] {
            assert!(
                parse_command(&json!({"resync": "all", "from_page": page})).is_err(),
                "{page}"
            );
        }
        assert_eq!(
            parse_command(&serde_json::json!({"course_ids": ["a/b/c", "course-v1:a+b+c"]}))
                .unwrap(),
            Command::Courses(vec![
                SyncRequest::course("a/b/c"),
                SyncRequest::course("course-v1:a+b+c")
            ])
        );
        assert!(parse_command(&serde_json::json!({"course_ids": []})).is_err());
        assert!(parse_command(&serde_json::json!({"course_ids": "a/b/c"})).is_err());
        assert_eq!(
            parse_command(&serde_json::json!({"course_id": "a/b/c"})).unwrap(),
            Command::Courses(vec![SyncRequest::course("a/b/c")])
        );
    }
}
