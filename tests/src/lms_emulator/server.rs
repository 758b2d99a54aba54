//! The axum app: one middleware that records calls, counts concurrency and
//! injects faults, and one fallback handler that routes like the LMS
//! `urls.py` files do (on the percent-decoded path).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;

use super::faults::{FaultAction, Faults};
use super::http::{django_404, form_decode, percent_decode, with_body, Req};
use super::record::{Begin, Recorder};
use super::state::LmsState;
use super::throttle::{ThrottleClass, Throttled, Throttles};
use super::{accounts, auth, courses, enrollment, enrollment_v2, EmulatorConfig, TOKEN_PATH};

const MAX_BODY: usize = 16 * 1024 * 1024;

pub(crate) struct Shared {
    pub state: Mutex<LmsState>,
    pub faults: Faults,
    pub recorder: Arc<Recorder>,
    pub throttles: Throttles,
    pub config: EmulatorConfig,
}

impl Shared {
    pub fn state(&self) -> MutexGuard<'_, LmsState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// DRF `check_throttles` of a view declaring `class` (see `throttle.rs`).
    pub fn throttle(
        &self,
        req: &Req,
        class: ThrottleClass,
        user: Option<&super::state::User>,
        api_key: bool,
    ) -> Result<(), Throttled> {
        self.throttles.check(req, class, user, api_key)
    }
}

pub(crate) fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(dispatch)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            record_and_inject,
        ))
        .with_state(shared)
}

async fn record_and_inject(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return with_body(413, Some("text/plain"), "request body too large"),
    };
    let path = parts.uri.path().to_owned();
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let guard = shared.recorder.begin(Begin {
        method: parts.method.as_str(),
        path: &path,
        query: parts.uri.query(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: &bytes,
        counted: path != TOKEN_PATH,
    });

    let latency = shared.config.latency + shared.faults.latency_for(&path);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let response = match shared.faults.take(parts.method.as_str(), &path) {
        Some(FaultAction::Respond {
            status,
            body,
            content_type,
            retry_after,
        }) => {
            guard.set_fault(&format!("respond {status}"));
            let resp = with_body(status, Some(&content_type), body);
            match retry_after {
                Some(s) => super::http::add_header(resp, "retry-after", &s.to_string()),
                None => resp,
            }
        }
        Some(FaultAction::Hang) => {
            guard.set_fault("hang");
            tokio::time::sleep(shared.config.hang_duration).await;
            with_body(504, Some("text/html"), "<h1>504 Gateway Time-out</h1>")
        }
        Some(FaultAction::DropConnection) => {
            guard.set_fault("drop");
            drop(guard);
            // Unwinding out of the connection task makes hyper drop the socket
            // without writing a response; `resume_unwind` skips the panic hook,
            // so nothing is printed. tokio contains the unwind to this task.
            std::panic::resume_unwind(Box::new("lms-emulator: injected connection drop"));
        }
        Some(FaultAction::Delay(d)) => {
            guard.set_fault("delay");
            tokio::time::sleep(d).await;
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };

    let (rparts, rbody) = response.into_parts();
    let rbytes = to_bytes(rbody, MAX_BODY).await.unwrap_or_default();
    guard.finish(Some(rparts.status.as_u16()), &rbytes);
    Response::from_parts(rparts, Body::from(rbytes))
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let raw_query = parts.uri.query().map(str::to_owned);
    let peer = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let req = Req {
        method: parts.method,
        path: percent_decode(parts.uri.path()),
        query: raw_query.as_deref().map(form_decode).unwrap_or_default(),
        raw_query,
        headers: parts.headers,
        body,
        peer,
    };
    route(&shared, &req)
}

fn route(shared: &Shared, req: &Req) -> Response {
    let path = req.path.as_str();
    let profile = shared.config.profile;

    if path == TOKEN_PATH {
        // django-ratelimit wraps AccessTokenView.dispatch: counted before anything else.
        if let Err(page) = shared.throttles.check_token(req) {
            return page;
        }
        return auth::access_token(shared, req);
    }
    // lms/urls.py path('api/user/', include(user_api.urls)) → user_api/urls.py
    // path('v1/accounts', ACCOUNT_LIST) (exact; no trailing slash).
    if path == "/api/user/v1/accounts" {
        return accounts::list(shared, req);
    }
    if let Some(rest) = path.strip_prefix("/api/enrollment/v1/") {
        return enrollment::route(shared, req, rest);
    }
    if let Some(rest) = path.strip_prefix("/api/enrollment/v2/") {
        if profile.has_enrollment_v2() {
            return enrollment_v2::route(shared, req, rest);
        }
        return django_404();
    }
    if let Some(rest) = path.strip_prefix("/api/courses/v1/courses/") {
        return courses::course_api(shared, req, rest);
    }
    if path == "/api/courses/v1/courses" {
        // Django CommonMiddleware APPEND_SLASH: GET is redirected permanently.
        if req.method == Method::GET {
            let mut loc = format!("{}/api/courses/v1/courses/", req.origin());
            if let Some(q) = &req.raw_query {
                loc.push('?');
                loc.push_str(q);
            }
            return super::http::add_header(with_body(301, None, Body::empty()), "location", &loc);
        }
        return django_404();
    }
    // lms/urls.py: routed only with FEATURES['ENABLE_BULK_ENROLLMENT_VIEW'].
    if path == "/api/bulk_enroll/v1/bulk_enroll" && shared.config.bulk_enroll_view {
        return super::bulk::bulk_enroll(shared, req);
    }
    if let Some(rest) = path.strip_prefix("/api/course_modes/v1/courses/") {
        return courses::course_modes(shared, req, rest);
    }
    if let Some(rest) = path.strip_prefix("/api/courseware/course/") {
        return courses::courseware(shared, req, rest);
    }
    if let Some(rest) = path.strip_prefix("/api/instructor/v2/courses/") {
        if profile.has_instructor_v2() {
            return courses::instructor_v2(shared, req, rest);
        }
        return django_404();
    }
    if let Some(rest) = path.strip_prefix("/api/contentstore/v1/course_details/") {
        return courses::cms_course_details(shared, req, rest);
    }
    if let Some(rest) = path.strip_prefix("/api/contentstore/v0/advanced_settings/") {
        return courses::cms_advanced_settings(shared, req, rest);
    }
    if path == "/heartbeat" {
        return super::http::json(200, serde_json::json!({}));
    }
    django_404()
}
