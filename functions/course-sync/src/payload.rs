//! The domain: an Open edX course run → the object Richie's course-runs-sync API takes.
//!
//! Pure functions, no I/O. Field rules (Richie side: openfun/richie
//! `src/richie/apps/courses/serializers.py` `SyncCourseRunSerializer`, `api.py`
//! `sync_course_run`; sender parity: fccn/richie-openedx-sync `richie_openedx_sync/tasks.py`):
//!
//! * `resource_link`: a template over `{lms_host}` and `{course_id}` (richie-openedx-sync's
//!   `{lms_domain}` is accepted too), default `https://{lms_host}/courses/{course_id}/info`.
//!   Richie looks runs up by exact string, so the link must be byte-stable.
//! * dates: ISO-8601 with an explicit offset (Richie reads naive values in its own
//!   `TIME_ZONE`), or `null` to clear. `enrollment_start` falls back to `start`, as
//!   richie-openedx-sync ≥ 1.1.1 does.
//! * `languages`: exactly one code Richie accepts (Django's `global_settings.LANGUAGES`,
//!   see [`RICHIE_LANGUAGES`]); never empty (an empty list makes Richie answer 500).
//! * `enrollment_count`: only when known (Richie keeps its value on update, 0 on create).
//! * `catalog_visibility`: Richie's own values (`course_and_search`, `course_only`,
//!   `hidden`), mapped from Open edX's `both`/`about`/`none` like Richie's Open edX
//!   backend does (`lms/edx.py` `VISIBILITY_MAPPING`), or from the `hidden` flag.

use serde::{Deserialize, Serialize};

use edx_hooks_shared::course_key::{parse_course_key, Namespace};
use edx_hooks_shared::openedx_parse::CourseRun;

/// Default link: richie-openedx-sync's `resource_link_template` default.
pub const DEFAULT_RESOURCE_LINK_TEMPLATE: &str = "https://{lms_host}/courses/{course_id}/info";

/// Language codes Richie 3.5.1 accepts by default: Django 4.2's
/// `global_settings.LANGUAGES` (richie `apps/core/defaults.py` `ALL_LANGUAGES`), read
/// from the installed `django==4.2.30`.
pub const RICHIE_LANGUAGES: &[&str] = &[
    "af", "ar", "ar-dz", "ast", "az", "bg", "be", "bn", "br", "bs", "ca", "ckb", "cs", "cy", "da",
    "de", "dsb", "el", "en", "en-au", "en-gb", "eo", "es", "es-ar", "es-co", "es-mx", "es-ni",
    "es-ve", "et", "eu", "fa", "fi", "fr", "fy", "ga", "gd", "gl", "he", "hi", "hr", "hsb", "hu",
    "hy", "ia", "id", "ig", "io", "is", "it", "ja", "ka", "kab", "kk", "km", "kn", "ko", "ky",
    "lb", "lt", "lv", "mk", "ml", "mn", "mr", "ms", "my", "nb", "ne", "nl", "nn", "os", "pa", "pl",
    "pt", "pt-br", "ro", "ru", "sk", "sl", "sq", "sr", "sr-latn", "sv", "sw", "ta", "te", "tg",
    "th", "tk", "tr", "tt", "udm", "uk", "ur", "uz", "vi", "zh-hans", "zh-hant",
];

/// Codes Open edX uses that Django spells differently.
const LANGUAGE_ALIASES: &[(&str, &str)] = &[
    ("zh", "zh-hans"),
    ("zh-cn", "zh-hans"),
    ("zh-sg", "zh-hans"),
    ("zh-tw", "zh-hant"),
    ("zh-hk", "zh-hant"),
    ("zh-mo", "zh-hant"),
    ("no", "nb"),
    ("nb-no", "nb"),
    ("iw", "he"),
    ("in", "id"),
    ("sr-latn-rs", "sr-latn"),
];

/// Richie's `CourseRunCatalogVisibility` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    CourseAndSearch,
    CourseOnly,
    Hidden,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::CourseAndSearch => "course_and_search",
            Visibility::CourseOnly => "course_only",
            Visibility::Hidden => "hidden",
        }
    }

    /// An Open edX (`both|about|none`) or Richie value.
    pub fn parse(value: &str) -> Option<Visibility> {
        match value.trim().to_ascii_lowercase().as_str() {
            "both" | "course_and_search" => Some(Visibility::CourseAndSearch),
            "about" | "course_only" => Some(Visibility::CourseOnly),
            "none" | "hidden" => Some(Visibility::Hidden),
            _ => None,
        }
    }
}

/// How course runs become payloads (read once at start-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadConfig {
    /// Host (and port) of the LMS in resource links, e.g. `lms.example.com`.
    pub lms_host: String,
    pub resource_link_template: String,
    /// Used when the LMS gives no (usable) language. Must be a Richie code.
    pub default_language: String,
    /// Explicit Open edX → Richie language mappings (case-insensitive keys, `_` = `-`),
    /// applied before the built-in rules; e.g. richie-openedx-sync's `pt_PT → pt`.
    pub language_map: Vec<(String, String)>,
    /// Richie visibility for a run the LMS reports only as `hidden: true` (Open edX
    /// `about` or `none`, indistinguishable through the course API).
    pub hidden_visibility: Visibility,
}

impl PayloadConfig {
    pub fn new(lms_host: &str) -> Self {
        PayloadConfig {
            lms_host: lms_host.to_owned(),
            resource_link_template: DEFAULT_RESOURCE_LINK_TEMPLATE.to_owned(),
            default_language: "en".to_owned(),
            language_map: Vec::new(),
            hidden_visibility: Visibility::Hidden,
        }
    }
}

/// What the openedx-webhooks / openedx-events payload said about the run when it was
/// published (`CourseCatalogData.schedule_data` and `hidden`).
/// Serialised into queue messages (`job.rs`) so a retry sends what the first attempt did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSnapshot {
    pub start: Option<String>,
    pub end: Option<String>,
    pub enrollment_start: Option<String>,
    pub enrollment_end: Option<String>,
    pub hidden: Option<bool>,
}

/// The object posted to Richie. Field order is the serialisation order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RichiePayload {
    pub resource_link: String,
    pub start: Option<String>,
    pub end: Option<String>,
    pub enrollment_start: Option<String>,
    pub enrollment_end: Option<String>,
    pub languages: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrollment_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_visibility: Option<Visibility>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Richie extracts the course code by splitting the key into exactly three parts
    /// (`lms/edx.py` `split_course_key`); anything else (e.g. `ccx-v1:…`) makes it
    /// answer 500, so such runs are not sent.
    #[error("course key {0:?} is not a course run Richie can take (course-v1:ORG+CODE+RUN or ORG/CODE/RUN)")]
    UnsupportedCourseKey(String),
    #[error("{field} {value:?} is not an ISO-8601 datetime")]
    InvalidDate { field: &'static str, value: String },
}

/// The organisation of a course key that Richie can take: a `course-v1:ORG+CODE+RUN` or
/// deprecated `ORG/CODE/RUN` key as opaque-keys parses it (shared `course_key`), without
/// branch, version or CCX parts (Richie splits the key into exactly three parts).
pub fn course_org(course_id: &str) -> Option<String> {
    let key = parse_course_key(course_id).ok()?;
    let plain = matches!(key.namespace, Namespace::CourseV1 | Namespace::Deprecated)
        && key.run.is_some()
        && key.branch.is_none()
        && key.version_guid.is_none()
        && key.ccx.is_none();
    let org = key.org.filter(|o| !o.is_empty())?;
    (plain && key.course.as_deref().is_some_and(|c| !c.is_empty())).then_some(org)
}

/// Fill the template: `{lms_host}` (or `{lms_domain}`) and `{course_id}`; the key is
/// inserted as is, like richie-openedx-sync's `str.format`.
pub fn resource_link(template: &str, lms_host: &str, course_id: &str) -> String {
    template
        .replace("{lms_host}", lms_host)
        .replace("{lms_domain}", lms_host)
        .replace("{course_id}", course_id)
}

fn normalize_code(code: &str) -> String {
    code.trim().replace('_', "-").to_ascii_lowercase()
}

fn is_richie_language(code: &str) -> bool {
    RICHIE_LANGUAGES.contains(&code)
}

/// Map an Open edX course language to one Richie accepts:
/// explicit map → exact Django code → alias (`zh-cn` → `zh-hans`…) → primary subtag
/// (`en-us` → `en`, `pt_PT` → `pt`) → the configured default.
pub fn richie_language(raw: Option<&str>, config: &PayloadConfig) -> String {
    let default = || config.default_language.clone();
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return default();
    };
    let code = normalize_code(raw);
    if let Some((_, to)) = config
        .language_map
        .iter()
        .find(|(from, _)| normalize_code(from) == code)
    {
        return to.clone();
    }
    if is_richie_language(&code) {
        return code;
    }
    if let Some((_, to)) = LANGUAGE_ALIASES.iter().find(|(from, _)| *from == code) {
        return (*to).to_owned();
    }
    if let Some(primary) = code.split('-').next().filter(|p| is_richie_language(p)) {
        return primary.to_owned();
    }
    default()
}

/// Is `code` something Richie accepts (checked once at start-up for the default)?
pub fn is_valid_language(code: &str, config: &PayloadConfig) -> bool {
    is_richie_language(code) || config.language_map.iter().any(|(_, to)| to == code)
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// Normalise an Open edX datetime to what DRF's `DateTimeField` parses, with an
/// explicit offset:
/// * `2030-01-01T00:00:00Z` (course API) stays as is;
/// * `2030-01-01 00:00:00+00:00` (Python `str(datetime)`, openedx-webhooks) gets a `T`;
/// * fractions are cut to microseconds; a naive value is UTC (edx-platform stores UTC);
/// * a bare date becomes midnight UTC.
pub fn normalize_datetime(value: &str) -> Option<String> {
    let v = value.trim();
    let (date, rest) = (v.get(..10)?, v.get(10..)?);
    let mut d = date.split('-');
    let (y, m, dd) = (d.next()?, d.next()?, d.next()?);
    if !(digits(y, 4) && digits(m, 2) && digits(dd, 2)) {
        return None;
    }
    if rest.is_empty() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    // Split the time from the offset.
    let split = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (time, offset) = rest.split_at(split);
    let (clock, fraction) = match time.split_once(['.', ',']) {
        Some((c, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            (c, Some(&f[..f.len().min(6)]))
        }
        Some(_) => return None,
        None => (time, None),
    };
    let fields: Vec<&str> = clock.split(':').collect();
    let clock_ok = match fields.as_slice() {
        [h, mi] => digits(h, 2) && digits(mi, 2),
        [h, mi, s] => digits(h, 2) && digits(mi, 2) && digits(s, 2),
        _ => false,
    };
    if !clock_ok || (fraction.is_some() && fields.len() != 3) {
        return None;
    }
    let offset = match offset {
        "" | "Z" | "z" => "Z".to_owned(),
        // Offsets are ASCII (`+HH:MM`); anything else would also make the byte
        // offsets below land inside a multi-byte character (`+1é1` panicked).
        o if !o.is_ascii() => return None,
        o => {
            let (sign, hm) = o.split_at(1);
            // `z00` (found by the `event_dates` fuzz target) is no offset.
            if !matches!(sign, "+" | "-") {
                return None;
            }
            let (h, mi) = match hm.split_once(':') {
                Some((h, mi)) => (h, mi),
                None if hm.len() == 4 => hm.split_at(2),
                None if hm.len() == 2 => (hm, "00"),
                None => return None,
            };
            if !(digits(h, 2) && digits(mi, 2)) {
                return None;
            }
            format!("{sign}{h}:{mi}")
        }
    };
    Some(match fraction {
        Some(f) => format!("{date}T{clock}.{f}{offset}"),
        None => format!("{date}T{clock}{offset}"),
    })
}

fn date_field(field: &'static str, value: Option<&str>) -> Result<Option<String>, PayloadError> {
    match value
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "None")
    {
        None => Ok(None),
        Some(v) => normalize_datetime(v)
            .map(Some)
            .ok_or_else(|| PayloadError::InvalidDate {
                field,
                value: v.to_owned(),
            }),
    }
}

/// Build the payload of one run.
///
/// `snapshot` (the published state carried by a live course-published event) wins over
/// the LMS for the fields it has: the LMS course API reads `CourseOverview`, which the
/// CMS refreshes in another receiver of the same signal and may not have refreshed yet.
/// `template` overrides the configured resource-link template (per-target setting).
pub fn build_payload(
    run: &CourseRun,
    snapshot: Option<&CatalogSnapshot>,
    config: &PayloadConfig,
    template: Option<&str>,
) -> Result<RichiePayload, PayloadError> {
    if course_org(&run.course_id).is_none() {
        return Err(PayloadError::UnsupportedCourseKey(run.course_id.clone()));
    }
    let pick = |event: Option<&Option<String>>, lms: &Option<String>| -> Option<String> {
        match event {
            Some(v) => v.clone(),
            None => lms.clone(),
        }
    };
    let s = snapshot;
    let start = date_field("start", pick(s.map(|s| &s.start), &run.start).as_deref())?;
    let end = date_field("end", pick(s.map(|s| &s.end), &run.end).as_deref())?;
    let enrollment_start = date_field(
        "enrollment_start",
        pick(s.map(|s| &s.enrollment_start), &run.enrollment_start).as_deref(),
    )?
    .or_else(|| start.clone());
    let enrollment_end = date_field(
        "enrollment_end",
        pick(s.map(|s| &s.enrollment_end), &run.enrollment_end).as_deref(),
    )?;
    let hidden = s.and_then(|s| s.hidden).or(run.hidden);
    let catalog_visibility = match run
        .catalog_visibility
        .as_deref()
        .and_then(Visibility::parse)
    {
        // A fresh `hidden` from the event beats a visibility string that disagrees with it.
        Some(v) if hidden.is_none_or(|h| h == (v != Visibility::CourseAndSearch)) => Some(v),
        _ => hidden.map(|h| {
            if h {
                config.hidden_visibility
            } else {
                Visibility::CourseAndSearch
            }
        }),
    };
    Ok(RichiePayload {
        resource_link: resource_link(
            template.unwrap_or(&config.resource_link_template),
            &config.lms_host,
            &run.course_id,
        ),
        start,
        end,
        enrollment_start,
        enrollment_end,
        languages: vec![richie_language(run.language.as_deref(), config)],
        enrollment_count: run.enrollment_count,
        catalog_visibility,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str) -> CourseRun {
        CourseRun {
            course_id: id.into(),
            start: Some("2030-01-01T00:00:00Z".into()),
            end: Some("2030-06-30T23:59:00Z".into()),
            ..CourseRun::default()
        }
    }

    #[test]
    fn non_ascii_offsets_are_refused_not_a_panic() {
        for bad in [
            "2030-01-01T00:00:00+1\u{e9}1",
            "2030-01-01T00:00:00+\u{e9}\u{e9}",
            "2030-01-01 00:00:00-0\u{1f600}",
        ] {
            assert_eq!(normalize_datetime(bad), None, "{bad}");
        }
        assert_eq!(
            normalize_datetime("2030-01-01T00:00:00+0130").as_deref(),
            Some("2030-01-01T00:00:00+01:30")
        );
    }

    #[test]
    fn richie_openedx_sync_parity() {
        let config = PayloadConfig::new("lms.example.com");
        let mut r = run("course-v1:edX+DemoX+Demo_Course");
        r.language = Some("fr".into());
        r.enrollment_count = Some(42);
        r.catalog_visibility = Some("about".into());
        let p = build_payload(&r, None, &config, None).unwrap();
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"resource_link":"https://lms.example.com/courses/course-v1:edX+DemoX+Demo_Course/info","start":"2030-01-01T00:00:00Z","end":"2030-06-30T23:59:00Z","enrollment_start":"2030-01-01T00:00:00Z","enrollment_end":null,"languages":["fr"],"enrollment_count":42,"catalog_visibility":"course_only"}"#
        );
    }

    #[test]
    fn unknown_fields_are_left_out_and_language_defaults() {
        let config = PayloadConfig {
            default_language: "pt".into(),
            ..PayloadConfig::new("lms")
        };
        let p = build_payload(
            &run("a/b/c"),
            None,
            &config,
            Some("http://{lms_domain}/courses/{course_id}/course/"),
        )
        .unwrap();
        assert_eq!(p.resource_link, "http://lms/courses/a/b/c/course/");
        assert_eq!(p.languages, vec!["pt"]);
        let json = serde_json::to_value(&p).unwrap();
        assert!(json.get("enrollment_count").is_none() && json.get("catalog_visibility").is_none());
    }

    #[test]
    fn snapshot_wins_over_the_lms() {
        let config = PayloadConfig::new("lms");
        let snapshot = CatalogSnapshot {
            start: Some("2031-02-01 09:00:00+00:00".into()),
            end: None,
            enrollment_start: Some("2031-01-01 00:00:00.123456789+01:00".into()),
            enrollment_end: None,
            hidden: Some(true),
        };
        let mut r = run("course-v1:o+c+r");
        r.hidden = Some(false);
        r.catalog_visibility = Some("both".into());
        let p = build_payload(&r, Some(&snapshot), &config, None).unwrap();
        assert_eq!(p.start.as_deref(), Some("2031-02-01T09:00:00+00:00"));
        assert_eq!(p.end, None, "the event clears the end date");
        assert_eq!(
            p.enrollment_start.as_deref(),
            Some("2031-01-01T00:00:00.123456+01:00")
        );
        assert_eq!(p.catalog_visibility, Some(Visibility::Hidden));
        let config = PayloadConfig {
            hidden_visibility: Visibility::CourseOnly,
            ..config
        };
        assert_eq!(
            build_payload(&r, Some(&snapshot), &config, None)
                .unwrap()
                .catalog_visibility,
            Some(Visibility::CourseOnly)
        );
    }

    #[test]
    fn keys_richie_cannot_take_are_refused() {
        let config = PayloadConfig::new("lms");
        for bad in [
            "ccx-v1:edX+DemoX+Demo_Course+ccx@3",
            "course-v1:edX+DemoX",
            "course-v1:a+b+c+d",
            "a/b",
            "",
            "course-v1:a++c",
        ] {
            assert!(
                matches!(
                    build_payload(&run(bad), None, &config, None),
                    Err(PayloadError::UnsupportedCourseKey(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            course_org("course-v1:edX+DemoX+Demo_Course").as_deref(),
            Some("edX")
        );
        assert_eq!(course_org("MITx/6.002x/2012_Fall").as_deref(), Some("MITx"));
        assert_eq!(
            course_org("course-v1:edX+DemoX+Demo_Course+branch@draft"),
            None
        );
        assert_eq!(course_org("library-v1:edX+Lib1"), None);
    }

    #[test]
    fn bad_dates_are_permanent_errors() {
        let config = PayloadConfig::new("lms");
        let mut r = run("course-v1:o+c+r");
        r.start = Some("next monday".into());
        assert_eq!(
            build_payload(&r, None, &config, None),
            Err(PayloadError::InvalidDate {
                field: "start",
                value: "next monday".into()
            })
        );
        r.start = Some("None".into());
        assert_eq!(
            build_payload(&r, None, &config, None).unwrap().start,
            None,
            "Python's str(None) is no date"
        );
    }

    #[test]
    fn datetimes() {
        for (input, want) in [
            ("2030-01-01T00:00:00Z", Some("2030-01-01T00:00:00Z")),
            (
                "2030-01-01 00:00:00+00:00",
                Some("2030-01-01T00:00:00+00:00"),
            ),
            (
                "2029-12-01 10:00:00.123456+00:00",
                Some("2029-12-01T10:00:00.123456+00:00"),
            ),
            ("2030-01-01T00:00", Some("2030-01-01T00:00Z")),
            (
                "2030-01-01T00:00:00.1234567-0530",
                Some("2030-01-01T00:00:00.123456-05:30"),
            ),
            ("2030-01-01T00:00:00+02", Some("2030-01-01T00:00:00+02:00")),
            ("2030-01-01", Some("2030-01-01T00:00:00Z")),
            ("2030-01-01T00:00:00", Some("2030-01-01T00:00:00Z")),
            ("2030-1-01T00:00:00Z", None),
            ("2030-01-01X00:00:00Z", None),
            ("2030-01-01T00:00:00.Z", None),
            ("2030-01-01T0:00:00Z", None),
            ("2030-01-01T00:00:00+2:00", None),
            ("2030-01-01T00:00.5Z", None),
            // Found by the `event_dates` fuzz target: was `…T00:00z00:00`.
            ("2031-01-01T00:00z00", None),
            ("2030-01-01T00:00:00Z05:00", None),
            ("2030-01-01T00:00:00z", Some("2030-01-01T00:00:00Z")),
            ("é", None),
            ("", None),
        ] {
            assert_eq!(normalize_datetime(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn languages() {
        let config = PayloadConfig {
            language_map: vec![
                ("pt_PT".into(), "pt".into()),
                ("x-klingon".into(), "en".into()),
            ],
            default_language: "fr".into(),
            ..PayloadConfig::new("lms")
        };
        for (raw, want) in [
            (Some("en"), "en"),
            (Some("EN"), "en"),
            (Some("en-us"), "en"),
            (Some("en_GB"), "en-gb"),
            (Some("pt-br"), "pt-br"),
            (Some("pt_PT"), "pt"),
            (Some("zh_CN"), "zh-hans"),
            (Some("zh-tw"), "zh-hant"),
            (Some("zh"), "zh-hans"),
            (Some("x-klingon"), "en"),
            (Some("xx"), "fr"),
            (Some(""), "fr"),
            (None, "fr"),
        ] {
            assert_eq!(richie_language(raw, &config), want, "{raw:?}");
        }
        assert!(is_valid_language("pt-br", &config));
        assert!(!is_valid_language("en-us", &config));
    }
}
