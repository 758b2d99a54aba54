//! Rate limits: DRF's throttles on the enrollment views and the course list
//! (`rest_framework/throttling.py` `SimpleRateThrottle` as subclassed by
//! edx-platform) and django-ratelimit on the token endpoint.
//!
//! **DRF throttles.** One request history per cache key
//! `throttle_<scope>_<ident>` (`SimpleRateThrottle.cache_format`), where
//! `ident` is the user's pk for an authenticated caller and the client IP
//! otherwise (`UserRateThrottle.get_cache_key`). edx-platform's two throttle
//! classes both switch to scope `"staff"` for `is_staff`/`is_superuser`
//! callers and keep `"user"` for everyone else:
//!
//! * `EnrollmentUserThrottle` (`openedx/core/djangoapps/enrollments/views.py`):
//!   user 40/minute, staff 120/minute; an `X-Edx-Api-Key` matching
//!   `EDX_API_KEY` bypasses it (`has_api_key_permissions(request) or …`).
//! * `CourseListUserThrottle` (`lms/djangoapps/course_api/views.py`):
//!   user 20/minute, staff 40/minute.
//!
//! Because the keys do not name the view, **every throttled view shares one
//! history per caller** and each compares it with its own limit: a staff
//! service user's course-list calls and enrollment calls land in
//! `throttle_staff_<pk>`; anonymous calls (the enrollment course detail, an
//! anonymous course list) in `throttle_user_<ip>`.
//!
//! `SimpleRateThrottle.allow_request`: read the history (newest first; the
//! cache entry expires `duration` after the last write), drop entries older
//! than `now - duration`, refuse when `len >= num_requests`, else record `now`
//! (`throttle_success`; a refused request is **not** recorded). The refusal's
//! wait is `SimpleRateThrottle.wait`: `(duration - (now - oldest)) /
//! (num_requests - len + 1)`, or none when that divisor is ≤ 0 (a longer
//! history written under a higher limit by another view). `exceptions.Throttled`
//! renders `ceil(wait)`: `"Request was throttled. Expected available in N
//! seconds."` (`1 second.` for 1; just `"Request was throttled."` without a
//! wait) and DRF's handler adds `Retry-After: N` (`views.exception_handler`).
//!
//! **django-ratelimit** on `AccessTokenView.dispatch`
//! (`openedx/core/djangoapps/oauth_dispatch/views.py`: `ratelimit(key=real_ip,
//! rate=settings.RATELIMIT_RATE = '120/m', method=ALL, block=True)`): a fixed
//! window per IP whose end is `ts - ts % 60 + crc32(ip) % 60`
//! (`django_ratelimit/core.py` `_get_window`); every request increments the
//! window's counter (blocked ones too) and a count above the limit raises
//! `Ratelimited` (a `PermissionDenied`) → `handler403` →
//! `static_template_view/views.py` `render_403` → `render_429`: status 429,
//! the HTML page `static_templates/429.html`, no `Retry-After`.
//!
//! Time is the real clock (the emulator has no controllable clock); tests that
//! need a window to pass quickly configure short rates (`Rate::per_second`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::response::Response;

use super::http::{add_header, error, with_body, Kind, Req, Style};
use super::state::User;

/// A DRF / django-ratelimit rate: `requests` per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub requests: usize,
    pub period: Duration,
}

impl Rate {
    /// `"<n>/minute"`.
    pub const fn per_minute(requests: usize) -> Rate {
        Rate {
            requests,
            period: Duration::from_secs(60),
        }
    }

    /// `"<n>/second"` (for tests that want a window to pass quickly).
    pub const fn per_second(requests: usize) -> Rate {
        Rate {
            requests,
            period: Duration::from_secs(1),
        }
    }

    /// DRF `SimpleRateThrottle.parse_rate` / django-ratelimit `_split_rate`:
    /// `"<n>/<period>"` where only the period's first letter counts
    /// (`s`, `m`, `h`, `d`), e.g. `"40/minute"`, `"120/m"`.
    pub fn parse(s: &str) -> Option<Rate> {
        let (n, period) = s.split_once('/')?;
        let secs = match period.trim().chars().next()? {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        Some(Rate {
            requests: n.trim().parse().ok()?,
            period: Duration::from_secs(secs),
        })
    }
}

/// The two rates of an edx-platform throttle class: scope `"user"` and, for
/// `is_staff` / `is_superuser` callers, scope `"staff"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopedRates {
    pub user: Rate,
    pub staff: Rate,
}

/// Rate limiting of the emulated LMS. [`Throttling::default`] is what a
/// production LMS does (the real rates, `RateLimitConfiguration` enabled by
/// `common/djangoapps/util/migrations/0002_data__default_rate_limit_config.py`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Throttling {
    /// Emulator master switch: `false` = nothing is throttled anywhere (no single
    /// LMS setting does that; for tests that are about something else).
    pub enabled: bool,
    /// `RateLimitConfiguration.enabled` (`common/djangoapps/util/models.py`).
    /// `false` lifts the throttle only of the views decorated with
    /// `@can_disable_rate_limit` (`common/djangoapps/util/disable_rate_limit.py`):
    /// v1 `EnrollmentView`, `EnrollmentCourseDetailView`, `EnrollmentListView`,
    /// `CourseEnrollmentsApiListView` and the v2 `EnrollmentViewSet` — not
    /// `EnrollmentAllowedView`, the course list, the other v2 views nor the
    /// token endpoint.
    pub rate_limit_configuration: bool,
    /// `EnrollmentUserThrottle.THROTTLE_RATES`: user 40/minute, staff 120/minute.
    pub enrollment: ScopedRates,
    /// `CourseListUserThrottle.THROTTLE_RATES`: user 20/minute, staff 40/minute
    /// (the waffle switches `USE_RATE_LIMIT_2/10_FOR_COURSE_LIST_API` lower them
    /// to 2/10 or 10/20; set the rates to emulate those).
    pub course_list: ScopedRates,
    /// django-ratelimit on the token endpoint: `RATELIMIT_RATE` = `120/m` per
    /// client IP; `None` = `RATELIMIT_ENABLE = False`.
    pub token: Option<Rate>,
}

impl Default for Throttling {
    fn default() -> Self {
        Throttling {
            enabled: true,
            rate_limit_configuration: true,
            enrollment: ScopedRates {
                user: Rate::per_minute(40),
                staff: Rate::per_minute(120),
            },
            course_list: ScopedRates {
                user: Rate::per_minute(20),
                staff: Rate::per_minute(40),
            },
            token: Some(Rate::per_minute(120)),
        }
    }
}

impl Throttling {
    /// No rate limit anywhere.
    pub fn off() -> Throttling {
        Throttling {
            enabled: false,
            ..Throttling::default()
        }
    }
}

/// Which DRF throttle class a view declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThrottleClass {
    /// `EnrollmentUserThrottle`; `can_disable` = the view is decorated with
    /// `@can_disable_rate_limit`.
    Enrollment { can_disable: bool },
    /// `CourseListUserThrottle` (the view is not decorated).
    CourseList,
}

/// A refused request (DRF `exceptions.Throttled`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Throttled {
    /// `SimpleRateThrottle.wait()`, seconds.
    wait: Option<f64>,
}

impl Throttled {
    /// `Throttled.wait` = `math.ceil(wait)`.
    fn wait_secs(&self) -> Option<u64> {
        self.wait.map(|w| w.ceil().max(0.0) as u64)
    }

    /// `Throttled.detail` (`rest_framework/exceptions.py`).
    fn detail(&self) -> String {
        match self.wait_secs() {
            None => "Request was throttled.".to_owned(),
            Some(1) => "Request was throttled. Expected available in 1 second.".to_owned(),
            Some(n) => format!("Request was throttled. Expected available in {n} seconds."),
        }
    }

    /// The 429 as a view in `style` renders it: DRF's handler sets
    /// `Retry-After` (`'%d' % exc.wait`, only when the wait is truthy) and
    /// `{"detail"}`; `DeveloperErrorViewMixin.handle_exception` builds a new
    /// `{"developer_message"}` response **without** the header; the ADR 0029
    /// envelope (slug `rate-limited`, title "Too Many Requests",
    /// `edx_rest_framework_extensions/errors.py` `_BUILTIN_ERROR_TYPES`) only
    /// replaces the data, so the header stays.
    pub(crate) fn respond(&self, style: Style, instance: &str) -> Response {
        let resp = error(style, Kind::Throttled, 429, &self.detail(), instance, None);
        match (style, self.wait_secs()) {
            (Style::Developer, _) | (_, None) | (_, Some(0)) => resp,
            (_, Some(n)) => add_header(resp, "retry-after", &n.to_string()),
        }
    }
}

#[derive(Debug)]
struct History {
    /// Request times (seconds since the emulator's epoch), newest first.
    times: Vec<f64>,
    /// The cache entry's expiry (`cache.set(key, history, duration)`).
    expires: f64,
}

#[derive(Debug)]
struct State {
    config: Throttling,
    histories: HashMap<String, History>,
    /// django-ratelimit counters by (window end, ip).
    token_windows: HashMap<(u64, String), usize>,
}

/// The throttle caches of one emulator.
#[derive(Debug)]
pub(crate) struct Throttles {
    epoch: Instant,
    state: Mutex<State>,
}

impl Throttles {
    pub(crate) fn new(config: Throttling) -> Throttles {
        Throttles {
            epoch: Instant::now(),
            state: Mutex::new(State {
                config,
                histories: HashMap::new(),
                token_windows: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn config(&self) -> Throttling {
        self.lock().config.clone()
    }

    /// Replace the rates (the histories are kept, as a settings change would).
    pub(crate) fn set_config(&self, config: Throttling) {
        self.lock().config = config;
    }

    /// Forget every history and counter (a cache flush).
    pub(crate) fn clear(&self) {
        let mut s = self.lock();
        s.histories.clear();
        s.token_windows.clear();
    }

    /// DRF `APIView.check_throttles` for a view with `class`, after
    /// authentication and permissions: `user` is `request.user` (`None` =
    /// anonymous), `api_key` = `X-Edx-Api-Key` matched.
    pub(crate) fn check(
        &self,
        req: &Req,
        class: ThrottleClass,
        user: Option<&User>,
        api_key: bool,
    ) -> Result<(), Throttled> {
        let mut s = self.lock();
        let c = &s.config;
        if !c.enabled {
            return Ok(());
        }
        let rates = match class {
            ThrottleClass::Enrollment { can_disable } => {
                if can_disable && !c.rate_limit_configuration {
                    return Ok(());
                }
                if api_key {
                    // EnrollmentUserThrottle.allow_request: has_api_key_permissions(request) or …
                    return Ok(());
                }
                c.enrollment
            }
            ThrottleClass::CourseList => c.course_list,
        };
        let staff = user.is_some_and(|u| u.is_staff || u.is_superuser);
        let (scope, rate) = if staff {
            ("staff", rates.staff)
        } else {
            ("user", rates.user)
        };
        let ident = match user {
            Some(u) => u.id.to_string(),
            None => drf_ident(req),
        };
        let key = format!("throttle_{scope}_{ident}");
        let now = self.epoch.elapsed().as_secs_f64();
        let duration = rate.period.as_secs_f64();
        let history = s.histories.entry(key).or_insert(History {
            times: Vec::new(),
            expires: f64::INFINITY,
        });
        if history.expires <= now {
            history.times.clear();
        }
        while history.times.last().is_some_and(|t| *t <= now - duration) {
            history.times.pop();
        }
        if history.times.len() >= rate.requests {
            let remaining = match history.times.last() {
                Some(oldest) => duration - (now - oldest),
                None => duration,
            };
            let available = rate.requests as f64 - history.times.len() as f64 + 1.0;
            let wait = (available > 0.0).then(|| remaining / available);
            return Err(Throttled { wait });
        }
        history.times.insert(0, now);
        history.expires = now + duration;
        Ok(())
    }

    /// django-ratelimit for `AccessTokenView` (see the module docs): `Err` is
    /// the 429 page.
    pub(crate) fn check_token(&self, req: &Req) -> Result<(), Response> {
        let mut s = self.lock();
        let Some(rate) = s.config.token.filter(|_| s.config.enabled) else {
            return Ok(());
        };
        let ip = req.peer.map(|p| p.ip().to_string()).unwrap_or_default();
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let period = rate.period.as_secs().max(1);
        let window = if period == 1 {
            ts
        } else {
            let w = ts - ts % period + u64::from(crc32(ip.as_bytes())) % period;
            if w < ts {
                w + period
            } else {
                w
            }
        };
        s.token_windows.retain(|(end, _), _| *end + period >= ts);
        let count = s.token_windows.entry((window, ip)).or_insert(0);
        *count += 1;
        if *count > rate.requests {
            return Err(too_many_requests_page());
        }
        Ok(())
    }
}

/// DRF `BaseThrottle.get_ident` with `NUM_PROXIES = None` (the LMS default):
/// the whole `X-Forwarded-For` without whitespace when present, else
/// `REMOTE_ADDR`.
fn drf_ident(req: &Req) -> String {
    if let Some(xff) = req.header("x-forwarded-for") {
        return xff.split_whitespace().collect();
    }
    req.peer
        .map(|p| match p.ip() {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => v6.to_string(),
        })
        .unwrap_or_default()
}

/// `lms/templates/static_templates/429.html` (inside the LMS `main.html`
/// chrome, not reproduced), as `render_429` returns it.
fn too_many_requests_page() -> Response {
    with_body(
        429,
        Some("text/html; charset=utf-8"),
        "<!DOCTYPE html><html><head><title>Too Many Requests</title></head><body>\
         <main id=\"main\" aria-label=\"Content\" tabindex=\"-1\"><section class=\"outside-app\">\
         <h1>Too Many Requests</h1><p>Your request has been rate-limited. Please try again later.</p>\
         </section></main></body></html>",
    )
}

/// zlib's CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_crc() {
        assert_eq!(Rate::parse("40/minute"), Some(Rate::per_minute(40)));
        assert_eq!(Rate::parse("120/m"), Some(Rate::per_minute(120)));
        assert_eq!(Rate::parse("3/s"), Some(Rate::per_second(3)));
        assert_eq!(Rate::parse("3/x"), None);
        // zlib.crc32(b"127.0.0.1") == 3619153832
        assert_eq!(crc32(b"127.0.0.1"), 3_619_153_832);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn throttled_texts() {
        let t = |w: Option<f64>| Throttled { wait: w };
        assert_eq!(
            t(Some(59.2)).detail(),
            "Request was throttled. Expected available in 60 seconds."
        );
        assert_eq!(
            t(Some(0.4)).detail(),
            "Request was throttled. Expected available in 1 second."
        );
        assert_eq!(t(None).detail(), "Request was throttled.");
    }
}
