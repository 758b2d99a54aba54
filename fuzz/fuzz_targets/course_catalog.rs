//! Open edX course API answers (what the course-sync forwarder reads) → course fields.
//!
//! Properties, for any body: no panic; a parsed course always has a non-blank id (its
//! own, else the requested one) and every other field is exactly the JSON value of its
//! key when that has the documented type (the parser invents and drops nothing);
//! a list page holds exactly the rows with a usable id, in order, and announces a next
//! page only as `page + 1`; parsed values survive a round trip through JSON; a parse
//! fails only when the body is not the documented shape; the optional lookups
//! (language, counts, Studio visibility, route probing) agree with the raw JSON.
#![no_main]

use edx_hooks_shared::openedx_parse::{
    course_run_from_json, parse_cms_catalog_visibility, parse_course_detail, parse_course_list,
    parse_courseware_language, parse_enrollments_page, parse_total_enrollment, route_missing,
    CourseRun,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

const REQUESTED: [&str; 4] = [
    "course-v1:edX+DemoX+Demo_Course",
    "",
    "  ",
    "edX/DemoX/2024",
];

fn own_id(v: &Value) -> Option<&str> {
    v.get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.trim().is_empty())
}

/// Every field is the JSON value of its key, when of the documented type.
fn faithful(f: &CourseRun, v: &Value) {
    let s = |key: &str| v.get(key).and_then(Value::as_str);
    assert!(!f.course_id.trim().is_empty(), "blank course id");
    assert_eq!(f.name.as_deref(), s("name"));
    assert_eq!(f.start.as_deref(), s("start"));
    assert_eq!(f.end.as_deref(), s("end"));
    assert_eq!(f.enrollment_start.as_deref(), s("enrollment_start"));
    assert_eq!(f.enrollment_end.as_deref(), s("enrollment_end"));
    assert_eq!(f.language.as_deref(), s("language"));
    assert_eq!(f.catalog_visibility.as_deref(), s("catalog_visibility"));
    assert_eq!(f.hidden, v.get("hidden").and_then(Value::as_bool));
    assert_eq!(
        f.enrollment_count,
        v.get("enrollment_count").and_then(Value::as_u64)
    );
}

fn to_json(f: &CourseRun) -> Value {
    json!({
        "id": f.course_id, "name": f.name, "start": f.start, "end": f.end,
        "enrollment_start": f.enrollment_start, "enrollment_end": f.enrollment_end,
        "language": f.language, "catalog_visibility": f.catalog_visibility,
        "hidden": f.hidden, "enrollment_count": f.enrollment_count,
    })
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = data.split_at(data.len().min(5));
    let mut h = [0u8; 5];
    h[..head.len()].copy_from_slice(head);
    let page = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let requested = REQUESTED[usize::from(h[4]) % REQUESTED.len()];
    let json: Option<Value> = serde_json::from_slice(body).ok();

    // Detail: `GET /api/courses/v1/courses/{id}/`.
    match parse_course_detail(body, requested) {
        Ok(course) => {
            let v = json.as_ref().expect("parsed, so the body is JSON");
            assert!(v.is_object());
            assert_eq!(course.course_id, own_id(v).unwrap_or(requested));
            faithful(&course, v);
            let again = parse_course_detail(to_json(&course).to_string().as_bytes(), "")
                .expect("our own rendering parses");
            assert_eq!(again, course);
        }
        Err(_) => {
            if let Some(v) = &json {
                assert!(
                    !v.is_object() || (own_id(v).is_none() && requested.trim().is_empty()),
                    "a JSON object with an id was refused"
                );
            }
        }
    }

    // List: `GET /api/courses/v1/courses/?page=`.
    let results = json
        .as_ref()
        .and_then(|v| v.get("results"))
        .and_then(Value::as_array);
    match parse_course_list(body, page) {
        Ok(list) => {
            let rows = results.expect("parsed, so there is a results list");
            let usable: Vec<&Value> = rows
                .iter()
                .filter(|r| r.is_object() && own_id(r).is_some())
                .collect();
            assert_eq!(list.courses.len(), usable.len());
            for (course, row) in list.courses.iter().zip(&usable) {
                assert_eq!(Some(course.course_id.as_str()), own_id(row));
                faithful(course, row);
                assert_eq!(course_run_from_json(row, "").as_ref(), Some(course));
            }
            if let Some(next) = list.next_page {
                assert_eq!(Some(next), page.checked_add(1));
            }
            let rendered = json!({
                "results": list.courses.iter().map(to_json).collect::<Vec<_>>(),
                "pagination": {"next": list.next_page.map(|_| "next"), "count": list.total},
            });
            let again = parse_course_list(rendered.to_string().as_bytes(), page)
                .expect("our own rendering parses");
            assert_eq!(again, list);
        }
        Err(_) => assert!(results.is_none(), "a page with a results list was refused"),
    }

    // Optional lookups of `CatalogClient`.
    match parse_courseware_language(body) {
        Ok(language) => {
            let v = json.as_ref().expect("parsed, so the body is JSON");
            if let Some(l) = &language {
                assert!(!l.trim().is_empty());
                assert_eq!(v.get("language").and_then(Value::as_str), Some(l.as_str()));
            }
        }
        Err(_) => assert!(json.is_none()),
    }
    if let Ok(Some(count)) = parse_total_enrollment(body) {
        assert_eq!(
            json.as_ref().and_then(|v| v.get("total_enrollment")),
            Some(&json!(count))
        );
    }
    if let Ok(Some(visibility)) = parse_cms_catalog_visibility(body) {
        let v = json.as_ref().expect("parsed, so the body is JSON");
        assert_eq!(v["catalog_visibility"]["value"], json!(visibility));
    }
    match parse_enrollments_page(body) {
        Ok(enrollments) => {
            let rows = json
                .as_ref()
                .and_then(|v| v.get("results"))
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            assert!(enrollments.active <= rows as u64);
        }
        Err(_) => assert!(json.is_none()),
    }
    assert_eq!(
        route_missing(404, body),
        !json.as_ref().is_some_and(Value::is_object)
    );
    assert!(!route_missing(200, body));
});
