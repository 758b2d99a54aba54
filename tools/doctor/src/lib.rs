//! `edx-hooks-doctor`: the operator's preflight (see README "Before go-live").
//!
//! The LMS and Richie checks are the shared crate's (`edx_hooks_shared::doctor`), the
//! same the deployed functions run for `{"doctor": true}`; the stack checks
//! ([`stack`]) need AWS credentials and live only here.

pub mod stack;

use std::sync::Arc;

use course_sync::config::{ProcessEnv, Settings};
use course_sync::payload::resource_link;
use edx_hooks_shared::doctor::env::{
    apply_api_from_env, lernito_secret_from_env, lms_from_env, richie_from_env, token_from_env,
};
use edx_hooks_shared::doctor::Report;
use edx_hooks_shared::openedx::config::LOCAL_LMS_URL;
use edx_hooks_shared::openedx::OpenEdxConfig;
use edx_hooks_shared::richie::RichieTarget;

pub use stack::{check_stack, AwsClients, StackFunctions};

pub const USAGE: &str = "\
edx-hooks-doctor: check the LMS, the Richie sites and a deployed stack before go-live

USAGE: edx-hooks-doctor [OPTIONS]

Reads the functions' environment (OPENEDX_BASE_URL, OPENEDX_CLIENT_SECRET_ARN or
OPENEDX_CLIENT_ID/OPENEDX_CLIENT_SECRET, OPENEDX_SERVICE_USERNAME, OPENEDX_APPLY_API,
LERNITO_SECRET_ARN, RICHIE_TARGETS_SECRET_ARN or RICHIE_TARGETS, COURSE_SYNC_TOKEN_SECRET_ARN
or COURSE_SYNC_TOKEN, COURSE_SYNC_RESOURCE_LINK_TEMPLATE, LMS_HOST, ...).

OPTIONS:
  --course COURSE_ID            a course of the LMS: its endpoints, its Richie link and page
  --function webhook|sync|all   whose configuration to check [all]
  --stack-functions webhook=NAME,sync=NAME[,resync=NAME]
                                also check the deployed stack (AWS credentials and region
                                from the usual AWS environment)
  --course-published-url URL    the course-published URL without its token (token length check)
  --json                        one JSON document instead of the checklist
  --help                        this text

EXIT STATUS: 0 every required check passed (warnings allowed), 1 a required check
failed, 2 usage or configuration error.
";

/// Which function's configuration to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Webhook,
    Sync,
    All,
}

/// The command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub course: Option<String>,
    pub json: bool,
    pub scope: Scope,
    pub stack: Option<StackFunctions>,
    pub course_published_url: Option<String>,
    pub help: bool,
}

/// A usage or configuration error: exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{0}")]
    Usage(String),
    #[error("configuration: {0}")]
    Config(String),
}

impl Args {
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Args, UsageError> {
        let mut out = Args {
            course: None,
            json: false,
            scope: Scope::All,
            stack: None,
            course_published_url: None,
            help: false,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| UsageError::Usage(format!("{name} needs a value")))
            };
            match flag.as_str() {
                "--help" | "-h" => out.help = true,
                "--json" => out.json = true,
                "--course" => out.course = Some(value("--course")?),
                "--course-published-url" => {
                    out.course_published_url = Some(value("--course-published-url")?)
                }
                "--function" => {
                    out.scope = match value("--function")?.as_str() {
                        "webhook" | "enrollment-webhook" => Scope::Webhook,
                        "sync" | "course-sync" => Scope::Sync,
                        "all" => Scope::All,
                        other => {
                            return Err(UsageError::Usage(format!(
                                "--function {other}: expected webhook, sync or all"
                            )))
                        }
                    }
                }
                "--stack-functions" => {
                    out.stack = Some(
                        StackFunctions::parse(&value("--stack-functions")?)
                            .map_err(|e| UsageError::Usage(format!("--stack-functions: {e}")))?,
                    )
                }
                other => return Err(UsageError::Usage(format!("unknown argument {other:?}"))),
            }
        }
        Ok(out)
    }
}

/// Renders a course's `resource_link` for a target.
pub type LinkRenderer = dyn Fn(&RichieTarget, &str) -> String + Send + Sync;

/// course-sync's `resource_link` of `course` for a target, from course-sync's settings.
pub fn link_renderer(settings: &Settings) -> Arc<LinkRenderer> {
    let template = settings.payload.resource_link_template.clone();
    let host = settings.payload.lms_host.clone();
    Arc::new(move |target: &RichieTarget, course: &str| {
        let t = target
            .resource_link_template
            .as_deref()
            .unwrap_or(&template);
        resource_link(t, &host, course)
    })
}

/// Check the configuration the functions would refuse to start with (exit 2).
pub fn validate_config(scope: Scope) -> Result<Option<Settings>, UsageError> {
    let openedx =
        OpenEdxConfig::from_env(LOCAL_LMS_URL).map_err(|e| UsageError::Config(e.to_string()))?;
    if scope != Scope::Sync {
        apply_api_from_env().map_err(|e| UsageError::Config(e.to_string()))?;
    }
    if scope == Scope::Webhook {
        return Ok(None);
    }
    Settings::from_env(&ProcessEnv, openedx)
        .map(Some)
        .map_err(|e| UsageError::Config(e.to_string()))
}

/// Run the LMS, secret and Richie checks of `scope` from the environment.
pub async fn run_checks(args: &Args, settings: Option<&Settings>) -> Result<Report, UsageError> {
    let course = args.course.as_deref();
    let mut report = Report::new();
    let apply = match args.scope {
        Scope::Sync => None,
        _ => Some(apply_api_from_env().map_err(|e| UsageError::Config(e.to_string()))?),
    };
    let lms = lms_from_env(course, apply)
        .await
        .map_err(|e| UsageError::Config(e.to_string()))?;
    report.checks.extend(lms.checks);
    if args.scope != Scope::Sync {
        report.checks.extend(lernito_secret_from_env().await.checks);
    }
    if let (Some(settings), true) = (settings, args.scope != Scope::Webhook) {
        let render = link_renderer(settings);
        let wanted = args.course.clone();
        let link_for = move |t: &RichieTarget| wanted.as_deref().map(|c| render(t, c));
        let richie = richie_from_env(course, &link_for)
            .await
            .map_err(|e| UsageError::Config(e.to_string()))?;
        report.checks.extend(richie.checks);
        report.checks.extend(
            token_from_env(args.course_published_url.as_deref())
                .await
                .checks,
        );
    }
    Ok(report)
}

/// Everything: the checks, then the stack when asked.
pub async fn run(args: &Args) -> Result<Report, UsageError> {
    let settings = validate_config(args.scope)?;
    let mut report = run_checks(args, settings.as_ref()).await?;
    if let Some(functions) = &args.stack {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let stack = check_stack(&AwsClients::new(&config), functions).await;
        report.checks.extend(stack.checks);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, UsageError> {
        Args::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn command_line() {
        let a = parse(&["--course", "course-v1:a+b+c", "--json", "--function=sync"]).unwrap();
        assert_eq!(a.course.as_deref(), Some("course-v1:a+b+c"));
        assert!(a.json);
        assert_eq!(a.scope, Scope::Sync);
        let a = parse(&["--stack-functions", "webhook=w,sync=s"]).unwrap();
        assert_eq!(a.stack.unwrap().sync.as_deref(), Some("s"));
        assert!(parse(&["--help"]).unwrap().help);
        for bad in [
            &["--course"][..],
            &["--nope"],
            &["--function", "x"],
            &["--stack-functions", "x"],
        ] {
            assert!(matches!(parse(bad), Err(UsageError::Usage(_))), "{bad:?}");
        }
    }
}
