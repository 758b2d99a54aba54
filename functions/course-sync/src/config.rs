//! Settings from the environment, read once per cold start. See the configuration table
//! in this function's README.

use std::time::Duration;

use edx_hooks_shared::openedx::catalog::{CatalogSources, EnrollmentCountSource, LanguageSource};
use edx_hooks_shared::openedx::OpenEdxConfig;
use edx_hooks_shared::richie::RichieClientConfig;

use crate::payload::{
    is_valid_language, PayloadConfig, Visibility, DEFAULT_RESOURCE_LINK_TEMPLATE,
};
use crate::sync::SyncSettings;

pub use edx_hooks_shared::openedx::config::{LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_LMS_URL};
/// Default time an HTTP request may spend syncing before it is queued instead
/// (API Gateway gives up after 30 s).
/// Below openedx-webhooks' 10 s request timeout (its POST blocks Studio's publish).
pub const DEFAULT_HTTP_BUDGET: Duration = Duration::from_secs(8);

/// A setting that cannot be used. The value is echoed only for non-secret settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration {name}: {reason}")]
pub struct SettingsError {
    pub name: &'static str,
    pub reason: String,
}

fn err(name: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError {
        name,
        reason: reason.into(),
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub openedx: OpenEdxConfig,
    pub sources: CatalogSources,
    pub payload: PayloadConfig,
    pub sync: SyncSettings,
    pub richie: RichieClientConfig,
    pub http_budget: Duration,
    pub queue_url: Option<String>,
    /// `COURSE_SYNC_COUNT_QUEUE_URL`: the enrollment-count FIFO queue (`count_queue.rs`).
    pub count_queue_url: Option<String>,
}

/// `host[:port]` of a base URL (`https://lms.example.com:8443/x` → `lms.example.com:8443`).
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_owned())
}

/// Parse `from=to,from=to` (language map).
pub fn parse_pairs(value: &str) -> Option<Vec<(String, String)>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
        })
        .map(|p| p.filter(|(a, b)| !a.is_empty() && !b.is_empty()))
        .collect()
}

/// The environment, abstracted so the parsing is testable.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

fn number<T: std::str::FromStr>(
    env: &dyn Env,
    name: &'static str,
) -> Result<Option<T>, SettingsError> {
    match env.get(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|_| err(name, format!("{v:?} is not a valid number"))),
    }
}

impl Settings {
    /// `openedx` comes from the shared `OPENEDX_*` reader; the rest from the
    /// `COURSE_SYNC_*`, `RICHIE_*` and `LMS_HOST` variables.
    pub fn from_env(env: &dyn Env, openedx: OpenEdxConfig) -> Result<Settings, SettingsError> {
        let lms_host = match env.get("LMS_HOST") {
            Some(h) => h.trim().trim_end_matches('/').to_owned(),
            None => host_of(&openedx.base_url)
                .ok_or_else(|| err("LMS_HOST", "unset and OPENEDX_BASE_URL has no host"))?,
        };
        let mut payload = PayloadConfig::new(&lms_host);
        if let Some(t) = env.get("COURSE_SYNC_RESOURCE_LINK_TEMPLATE") {
            if !t.contains("{course_id}") {
                return Err(err(
                    "COURSE_SYNC_RESOURCE_LINK_TEMPLATE",
                    "must contain {course_id}",
                ));
            }
            payload.resource_link_template = t.trim().to_owned();
        } else {
            payload.resource_link_template = DEFAULT_RESOURCE_LINK_TEMPLATE.to_owned();
        }
        if let Some(map) = env.get("COURSE_SYNC_LANGUAGE_MAP") {
            payload.language_map = parse_pairs(&map)
                .ok_or_else(|| err("COURSE_SYNC_LANGUAGE_MAP", "expected from=to,from=to"))?;
        }
        if let Some(lang) = env.get("COURSE_SYNC_DEFAULT_LANGUAGE") {
            payload.default_language = lang.trim().to_owned();
        }
        if !is_valid_language(&payload.default_language, &payload) {
            return Err(err(
                "COURSE_SYNC_DEFAULT_LANGUAGE",
                format!(
                    "{:?} is not a language code Richie accepts (e.g. en, fr, pt-br)",
                    payload.default_language
                ),
            ));
        }
        if let Some(v) = env.get("COURSE_SYNC_HIDDEN_VISIBILITY") {
            payload.hidden_visibility = match Visibility::parse(&v) {
                Some(Visibility::CourseAndSearch) | None => {
                    return Err(err(
                        "COURSE_SYNC_HIDDEN_VISIBILITY",
                        "expected hidden or course_only",
                    ))
                }
                Some(v) => v,
            };
        }

        let mut sources = CatalogSources {
            cms_base_url: env
                .get("OPENEDX_CMS_BASE_URL")
                .map(|u| u.trim().trim_end_matches('/').to_owned()),
            ..CatalogSources::default()
        };
        if let Some(v) = env.get("COURSE_SYNC_LANGUAGE_SOURCE") {
            sources.language = match v.trim() {
                "courseware" => LanguageSource::Courseware,
                "none" => LanguageSource::None,
                _ => {
                    return Err(err(
                        "COURSE_SYNC_LANGUAGE_SOURCE",
                        "expected courseware or none",
                    ))
                }
            };
        }
        if let Some(v) = env.get("COURSE_SYNC_ENROLLMENT_COUNT_SOURCE") {
            sources.enrollment_count = match v.trim() {
                "instructor_v2" => EnrollmentCountSource::InstructorV2,
                "enrollments_v1" => EnrollmentCountSource::EnrollmentsList {
                    max_pages: number::<u32>(env, "COURSE_SYNC_ENROLLMENT_COUNT_MAX_PAGES")?
                        .unwrap_or(10)
                        .max(1),
                },
                "none" => EnrollmentCountSource::None,
                _ => {
                    return Err(err(
                        "COURSE_SYNC_ENROLLMENT_COUNT_SOURCE",
                        "expected instructor_v2, enrollments_v1 or none",
                    ))
                }
            };
        }

        let mut sync = SyncSettings {
            course_concurrency: openedx.max_concurrency.max(1),
            ..SyncSettings::default()
        };
        if let Some(n) = number::<usize>(env, "COURSE_SYNC_CONCURRENCY")? {
            sync.course_concurrency = n.max(1);
        }
        if let Some(n) = number::<u32>(env, "COURSE_SYNC_PAGE_SIZE")? {
            sync.page_size = n.clamp(1, 1000);
        }
        if let Some(n) = number::<usize>(env, "COURSE_SYNC_CHUNK_SIZE")? {
            sync.chunk_size = n.max(1);
        }
        if let Some(n) = number::<u64>(env, "COURSE_SYNC_LIST_PAGES_PER_MINUTE")? {
            // 0: no pacing (the LMS client still waits out a 429).
            sync.list_pages_per_minute = n.min(60_000) as usize;
        }
        let mut richie = RichieClientConfig::default();
        if let Some(n) = number::<usize>(env, "RICHIE_MAX_CONCURRENCY")? {
            richie.max_concurrency = n.max(1);
        }
        sync.delivery_concurrency = richie.max_concurrency;
        if let Some(n) = number::<u32>(env, "RICHIE_MAX_ATTEMPTS")? {
            richie.retry.max_attempts = n.max(1);
        }
        let http_budget = number::<u64>(env, "COURSE_SYNC_HTTP_BUDGET_MS")?
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_HTTP_BUDGET);
        Ok(Settings {
            openedx,
            sources,
            payload,
            sync,
            richie,
            http_budget,
            queue_url: env
                .get("COURSE_SYNC_QUEUE_URL")
                .map(|u| u.trim().to_owned()),
            count_queue_url: env
                .get("COURSE_SYNC_COUNT_QUEUE_URL")
                .map(|u| u.trim().to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<&'static str, &'static str>);
    impl Env for Map {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    fn openedx() -> OpenEdxConfig {
        OpenEdxConfig {
            base_url: "https://lms.example.com".into(),
            max_concurrency: 6,
            ..OpenEdxConfig::default()
        }
    }

    #[test]
    fn defaults() {
        let s = Settings::from_env(&Map(HashMap::new()), openedx()).unwrap();
        assert_eq!(s.payload.lms_host, "lms.example.com");
        assert_eq!(
            s.payload.resource_link_template,
            DEFAULT_RESOURCE_LINK_TEMPLATE
        );
        assert_eq!(s.payload.default_language, "en");
        assert_eq!(s.sync.course_concurrency, 6);
        assert_eq!(s.sync.chunk_size, 50);
        assert_eq!(
            s.sync.list_pages_per_minute, 30,
            "30 course-list pages a minute: a quarter of the staff throttle's 40 is left"
        );
        assert_eq!(s.http_budget, DEFAULT_HTTP_BUDGET);
        assert_eq!(s.queue_url, None);
        assert_eq!(s.count_queue_url, None);
        assert_eq!(s.sources, CatalogSources::default());
    }

    #[test]
    fn overrides_and_errors() {
        let env = Map(HashMap::from([
            ("LMS_HOST", "courses.example.org/"),
            ("COURSE_SYNC_LANGUAGE_MAP", "pt_PT=pt, x=fr"),
            ("COURSE_SYNC_DEFAULT_LANGUAGE", "pt-br"),
            ("COURSE_SYNC_HIDDEN_VISIBILITY", "course_only"),
            ("COURSE_SYNC_CHUNK_SIZE", "10"),
            ("COURSE_SYNC_LIST_PAGES_PER_MINUTE", "20"),
            ("COURSE_SYNC_LANGUAGE_SOURCE", "none"),
            ("OPENEDX_CMS_BASE_URL", "https://studio.example.org/"),
            (
                "COURSE_SYNC_QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/1/q",
            ),
        ]));
        let s = Settings::from_env(&env, openedx()).unwrap();
        assert_eq!(s.payload.lms_host, "courses.example.org");
        assert_eq!(
            s.payload.language_map,
            vec![("pt_PT".into(), "pt".into()), ("x".into(), "fr".into())]
        );
        assert_eq!(s.payload.hidden_visibility, Visibility::CourseOnly);
        assert_eq!(s.sync.chunk_size, 10);
        assert_eq!(s.sync.list_pages_per_minute, 20);
        assert_eq!(s.sources.language, LanguageSource::None);
        assert_eq!(
            s.sources.cms_base_url.as_deref(),
            Some("https://studio.example.org")
        );
        for (name, value) in [
            ("COURSE_SYNC_DEFAULT_LANGUAGE", "en-us"),
            ("COURSE_SYNC_HIDDEN_VISIBILITY", "both"),
            ("COURSE_SYNC_RESOURCE_LINK_TEMPLATE", "https://x/"),
            ("COURSE_SYNC_CHUNK_SIZE", "ten"),
            ("COURSE_SYNC_LANGUAGE_MAP", "pt"),
        ] {
            let e =
                Settings::from_env(&Map(HashMap::from([(name, value)])), openedx()).unwrap_err();
            assert_eq!(e.name, name);
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(
            host_of("http://127.0.0.1:8300").as_deref(),
            Some("127.0.0.1:8300")
        );
        assert_eq!(
            host_of("https://u:p@lms.example.com/x?y").as_deref(),
            Some("lms.example.com")
        );
        assert_eq!(host_of("https://"), None);
    }
}
