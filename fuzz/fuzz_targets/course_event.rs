//! The course-sync event classifier: an HTTP body or SQS record
//! (`parse_course_event`) and a direct invocation (`parse_command`).
//!
//! Properties, for any bytes: no panic; an accepted course id is a plausible course
//! key (non-empty, at most 255 bytes, no whitespace or control character, trimmed);
//! an ignored event type is kept to at most 200 characters; a body that is a single
//! course is the same single course as a direct command; the snapshot's dates come
//! out of the body unchanged (normalised later, by the payload builder). The queue
//! reader (`Job::from_queue_body`) never panics either, and a job it accepts is
//! written back (one message per target) as messages that read back as that job.
#![no_main]

use std::collections::BTreeSet;

use course_sync::event::{parse_command, parse_course_event, Command, Inbound};
use course_sync::job::{Job, Owed};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn plausible_key(id: &str) {
    assert!(!id.is_empty() && id.len() <= 255, "{id:?}");
    assert!(
        !id.chars().any(|c| c.is_whitespace() || c.is_control()),
        "{id:?}"
    );
}

fn queue_round_trip(data: &[u8]) {
    let Ok(Some(job)) = Job::from_queue_body(data) else {
        return;
    };
    plausible_key(&job.course_id);
    let names = ["a", "b"];
    let bodies = job.queue_bodies(&names);
    let expected: Vec<String> = match &job.targets {
        Owed::All => names.iter().map(|n| (*n).to_owned()).collect(),
        Owed::Only(owed) => owed.iter().cloned().collect(),
    };
    assert_eq!(bodies.len(), expected.len());
    for (body, name) in bodies.iter().zip(expected) {
        let back = Job::from_queue_body(body.as_bytes())
            .expect("our own message reads back")
            .expect("a job");
        assert_eq!(back, job.owing(BTreeSet::from([name])));
    }
}

fuzz_target!(|data: &[u8]| {
    queue_round_trip(data);
    let parsed = parse_course_event(data);
    let value: Option<Value> = serde_json::from_slice(data).ok();
    match &parsed {
        Ok(Inbound::Course(request) | Inbound::Enrollment(request)) => {
            plausible_key(&request.course_id)
        }
        Ok(Inbound::Ignored { event_type }) => assert!(event_type.chars().count() <= 200),
        Err(_) => {}
    }
    let Some(value) = value else {
        assert!(parsed.is_err(), "only JSON is accepted");
        return;
    };
    let command = parse_command(&value);
    match &command {
        Ok(Command::Courses(requests)) => requests.iter().for_each(|r| plausible_key(&r.course_id)),
        Ok(Command::ResyncAll) => assert_eq!(value["resync"], "all"),
        Ok(Command::ResyncFrom(page)) => {
            assert_eq!(value["resync"], "all");
            assert!(*page >= 1);
            assert_eq!(value["from_page"].as_u64(), Some(u64::from(*page)));
        }
        Err(_) => {}
    }
    let is_command = value.get("resync").is_some() || value.get("course_ids").is_some();
    if !is_command {
        match (&parsed, &command) {
            (
                Ok(Inbound::Course(request) | Inbound::Enrollment(request)),
                Ok(Command::Courses(requests)),
            ) => {
                assert_eq!(requests.as_slice(), std::slice::from_ref(request))
            }
            (Ok(Inbound::Ignored { .. }), Ok(Command::Courses(requests))) => {
                assert!(requests.is_empty())
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!("body {a:?} but command {b:?}"),
        }
    }
});
