//! Cold start: the forwarder refuses to start when the LMS service user cannot be
//! known (the course API would answer as for an anonymous visitor, and every upcoming
//! course would be "not found"), but not when the LMS is merely unreachable.
//! The LMS emulator issues opaque (non-JWT) tokens, so without
//! `OPENEDX_SERVICE_USERNAME` there is no `preferred_username` to discover.

use std::time::{Duration, Instant};

use serde_json::json;

use course_sync::lambda::{check_service_user, SERVICE_USER_UNKNOWN};
use edx_hooks_shared::openedx::rest::credential_cache;
use edx_hooks_shared::openedx::{OpenEdxClient, OpenEdxConfig};
use edx_hooks_shared::secrets::{SecretSource, StaticSecret};
use edx_hooks_tests::lms_emulator::{
    EmulatorConfig, LmsEmulator, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_SERVICE_USER,
};
use edx_hooks_tests::support::free_port;

fn client(base_url: String, service_username: Option<&str>) -> OpenEdxClient {
    let creds = json!({"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET});
    let source = SecretSource::Static(StaticSecret::new("creds", vec![creds.to_string()]));
    OpenEdxClient::new(
        OpenEdxConfig {
            base_url,
            service_username: service_username.map(str::to_owned),
            ..OpenEdxConfig::default()
        },
        credential_cache(source),
    )
    .expect("client")
}

#[tokio::test]
async fn an_unknown_service_user_is_a_start_up_error_with_the_fix() {
    let lms = LmsEmulator::start(EmulatorConfig::demo()).await;
    let err = check_service_user(&client(lms.base_url(), None))
        .await
        .expect_err("no username anywhere");
    assert_eq!(err.to_string(), SERVICE_USER_UNKNOWN);
    assert!(err.to_string().contains("Set OPENEDX_SERVICE_USERNAME"));
    assert_eq!(
        lms.calls_to("/oauth2/access_token").len(),
        1,
        "one token fetch"
    );

    check_service_user(&client(lms.base_url(), Some(DEMO_SERVICE_USER)))
        .await
        .expect("a configured username starts");
}

#[tokio::test]
async fn an_unreachable_lms_does_not_stop_the_start() {
    let started = Instant::now();
    check_service_user(&client(format!("http://127.0.0.1:{}", free_port()), None))
        .await
        .expect("checked again on first use");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}
