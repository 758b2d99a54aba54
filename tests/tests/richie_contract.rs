//! The contract of Richie's course-runs-sync API that the course-sync forwarder relies
//! on, checked against the real Richie started by `tests/richie/` (PyPI `richie==3.5.1`,
//! see `tests/richie/requirements.txt`). Re-run after bumping Richie.
//!
//! openfun/richie `src/richie/apps/courses/api.py` `sync_course_runs_from_request`.

use edx_hooks_shared::signature::richie_authorization;
use edx_hooks_tests::richie_server::{RichieOptions, RichieServer, DEFAULT_SYNC_SECRET};
use serde_json::{json, Value};

const DEMO_LINK: &str = "https://localhost:8000/courses/course-v1:edX+DemoX+Demo_Course/info";

async fn post(richie: &RichieServer, body: &str, authorization: Option<String>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(richie.sync_url())
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.to_owned());
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    let response = request.send().await.expect("richie answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn sign(body: &str) -> Option<String> {
    Some(richie_authorization(
        DEFAULT_SYNC_SECRET.as_bytes(),
        body.as_bytes(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_object_list_and_read_back() {
    let richie = tokio::task::spawn_blocking(RichieServer::start)
        .await
        .unwrap();
    let (draft, public) = richie.seeded_run(DEMO_LINK).expect("seeded run");
    let public = public.expect("public copy");

    // Signature checks come first, on the whole header.
    let body = json!({"resource_link": DEMO_LINK, "start": "2031-01-01T00:00:00Z"}).to_string();
    assert_eq!(
        post(&richie, &body, None).await,
        (403, json!("Missing authentication."))
    );
    let wrong = Some(richie_authorization(b"other", body.as_bytes()));
    assert_eq!(
        post(&richie, &body, wrong).await,
        (401, json!("Invalid authentication."))
    );
    let upper = sign(&body).map(|s| format!("SIG-HMAC-SHA256 {}", s[16..].to_uppercase()));
    assert_eq!(
        post(&richie, &body, upper).await.0,
        401,
        "lowercase hex only"
    );
    let reserialized =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).unwrap()).unwrap();
    assert_eq!(
        post(&richie, &reserialized, sign(&body)).await.0,
        401,
        "the exact bytes are signed"
    );

    // Object form: an update of both the draft and the public run (sync_to_public).
    assert_eq!(
        post(&richie, &body, sign(&body)).await,
        (200, json!({"success": true}))
    );
    for id in [draft, public] {
        let (status, run) = richie.course_run(id);
        assert_eq!(status, 200);
        assert_eq!(run["start"], "2031-01-01T00:00:00Z");
        assert_eq!(
            run["end"], "2020-06-01T00:00:00Z",
            "fields not sent are kept"
        );
    }

    // List form: per-link results, 400 if any failed, the good items committed anyway.
    let unknown = "https://localhost:8000/courses/course-v1:edX+NOPE+1/info";
    let list = json!([
        {"resource_link": unknown, "languages": ["en"]},
        {"resource_link": DEMO_LINK, "end": "2031-06-01T00:00:00Z"},
    ])
    .to_string();
    let (status, answer) = post(&richie, &list, sign(&list)).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer[unknown],
        json!({"resource_link": ["Unknown course: NOPE."]})
    );
    assert_eq!(answer[DEMO_LINK], json!({"success": true}));
    assert_eq!(richie.course_run(public).1["end"], "2031-06-01T00:00:00Z");

    // Creation under an existing page, languages required.
    let e2e = "https://localhost:8000/courses/course-v1:edX+E2E-101+course/info";
    let missing_languages = json!({"resource_link": e2e}).to_string();
    assert_eq!(
        post(&richie, &missing_languages, sign(&missing_languages)).await,
        (400, json!({"languages": ["This field is required."]}))
    );
    let create = json!({"resource_link": e2e, "languages": ["fr"], "enrollment_count": 3, "catalog_visibility": "course_only"}).to_string();
    assert_eq!(post(&richie, &create, sign(&create)).await.0, 200);
    let runs = richie.runs_by_link(e2e);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs
        .iter()
        .all(|r| r["enrollment_count"] == 3 && r["catalog_visibility"] == "course_only"));

    // Why the forwarder validates before sending: these are Richie 400s or 500s.
    for (payload, status) in [
        (
            json!({"resource_link": DEMO_LINK, "languages": ["en-us"]}),
            400,
        ),
        (json!({"resource_link": DEMO_LINK, "languages": "en"}), 400),
        (
            json!({"resource_link": DEMO_LINK, "start": "2031-01-01 00:00:00+00:00 UTC"}),
            400,
        ),
        (
            json!({"resource_link": DEMO_LINK, "catalog_visibility": "both"}),
            200,
        ),
        (json!({"resource_link": DEMO_LINK, "languages": []}), 500),
    ] {
        let body = payload.to_string();
        assert_eq!(
            post(&richie, &body, sign(&body)).await.0,
            status,
            "{payload}"
        );
    }
    assert_eq!(
        richie.course_run(public).1["catalog_visibility"],
        "course_and_search",
        "Open edX value mapped by Richie"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_manual_mode_and_stock_regex() {
    let options = RichieOptions {
        secrets: vec!["old-secret".into(), "new-secret".into()],
        default_sync_mode: Some("manual".into()),
        course_regex: Some(r"^.*/courses/(?P<course_id>.*)/course/?$".into()),
        ..RichieOptions::default()
    };
    let richie = tokio::task::spawn_blocking(move || RichieServer::start_with(options))
        .await
        .unwrap();
    let body = json!({"resource_link": "https://localhost:8000/courses/course-v1:edX+E2E-101+course/course/", "languages": ["en"]}).to_string();
    for secret in ["old-secret", "new-secret"] {
        let auth = Some(richie_authorization(secret.as_bytes(), body.as_bytes()));
        assert_eq!(
            post(&richie, &body, auth).await,
            (
                400,
                json!({"resource_link": ["Unknown course run when creation is deactivated."]})
            ),
            "any configured secret authenticates"
        );
    }
    // Richie's stock COURSE_REGEX does not accept the `/info` links richie-openedx-sync sends.
    let info = json!({"resource_link": DEMO_LINK}).to_string();
    let auth = Some(richie_authorization(b"new-secret", info.as_bytes()));
    assert_eq!(
        post(&richie, &info, auth).await,
        (
            400,
            json!({"resource_link": ["No LMS configuration found for this resource link."]})
        )
    );
}
