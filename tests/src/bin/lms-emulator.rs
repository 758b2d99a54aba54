//! Local Open edX LMS emulator.
//!
//! ```text
//! lms-emulator [--port 8300] [--profile master|teak|sumac|redwood] [--token-ttl 3600]
//! ```
//! Environment: `LMS_EMULATOR_PORT`, `LMS_EMULATOR_PROFILE`, `LMS_EMULATOR_TOKEN_TTL`
//! (flags win). Listens on 127.0.0.1, seeds the demo data (courses
//! `course-v1:edX+DemoX+Demo_Course` and `course-v1:edX+E2E-101+course`,
//! staff service user `edx-hooks-service` with OAuth client `edx-hooks-local` /
//! `edx-hooks-local-secret`, learner `learner` / `learner@example.com`) and
//! prints `LMS_EMULATOR_READY http://127.0.0.1:PORT` once it accepts
//! connections.

use std::io::Write;
use std::process::ExitCode;

use edx_hooks_tests::lms_emulator::{CourseInfo, EmulatorConfig, LmsEmulator, ReleaseProfile};

fn usage() -> ExitCode {
    eprintln!(
        "usage: lms-emulator [--port N] [--profile redwood|sumac|teak|master] [--token-ttl SECS] [--extra-courses N]"
    );
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut port: Option<String> = std::env::var("LMS_EMULATOR_PORT").ok();
    let mut profile: Option<String> = std::env::var("LMS_EMULATOR_PROFILE").ok();
    let mut ttl: Option<String> = std::env::var("LMS_EMULATOR_TOKEN_TTL").ok();
    let mut extra: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let slot = match name.as_str() {
            "--port" => &mut port,
            "--profile" => &mut profile,
            "--token-ttl" => &mut ttl,
            // Benchmarks: also create course-v1:Bench+C{i}+Run for i in 0..N.
            "--extra-courses" => &mut extra,
            "-h" | "--help" => return usage(),
            _ => {
                eprintln!("unknown argument {arg}");
                return usage();
            }
        };
        match inline.or_else(|| args.next()) {
            Some(v) => *slot = Some(v),
            None => return usage(),
        }
    }
    let port: u16 = match port.as_deref().unwrap_or("8300").parse() {
        Ok(p) => p,
        Err(_) => {
            eprintln!("invalid port");
            return usage();
        }
    };
    let profile = match profile.as_deref() {
        None => ReleaseProfile::Master,
        Some(p) => match ReleaseProfile::parse(p) {
            Some(p) => p,
            None => {
                eprintln!("invalid profile {p}");
                return usage();
            }
        },
    };
    let token_ttl_secs: u64 = match ttl.as_deref().unwrap_or("3600").parse() {
        Ok(t) => t,
        Err(_) => {
            eprintln!("invalid token ttl");
            return usage();
        }
    };
    let config = EmulatorConfig {
        port: Some(port),
        profile,
        token_ttl_secs,
        ..EmulatorConfig::demo()
    };
    let emulator = match LmsEmulator::try_start(config).await {
        Ok(e) => {
            let extra: usize = extra.as_deref().and_then(|n| n.parse().ok()).unwrap_or(0);
            for i in 0..extra {
                e.state().add_course(
                    &format!("course-v1:Bench+C{i}+Run"),
                    CourseInfo::named("Bench course"),
                );
            }
            e
        }
        Err(e) => {
            eprintln!("lms-emulator: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::from(1);
        }
    };
    println!("LMS_EMULATOR_READY {}", emulator.base_url());
    let _ = std::io::stdout().flush();
    eprintln!("profile {profile:?}; token ttl {token_ttl_secs}s; Ctrl-C to stop");
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
