//! Secrets Manager through the real `aws-sdk-secretsmanager` against a real
//! `moto_server`: plain and list values, rotation stages, deletion, caching.

use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use edx_hooks_shared::secrets::{
    flatten_secret_versions, SecretCache, SecretError, SecretFetcher, SecretSource,
    SecretsManagerSecret,
};
use edx_hooks_tests::support::{sdk_config_for, MotoServer};

#[tokio::test]
async fn rotation_stages_cache_and_deletion() {
    let moto = MotoServer::start();
    let sm = Client::new(&moto.sdk_config().await);
    let created = sm
        .create_secret()
        .name("edx-hooks/lernito")
        .secret_string("first-secret")
        .send()
        .await
        .expect("create secret");
    let arn = created.arn().expect("arn").to_owned();
    let first_version = created.version_id().expect("version").to_owned();

    let source = SecretsManagerSecret::new(sm.clone(), arn.clone());
    assert_eq!(source.fetch().await.unwrap(), vec!["first-secret"]);

    // Rotation step 1: a pending version exists; both are accepted.
    let pending = sm
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(r#"{"secrets": ["second-secret", "first-secret"]}"#)
        .version_stages("AWSPENDING")
        .send()
        .await
        .expect("put pending");
    let pending_version = pending.version_id().expect("pending version").to_owned();
    let versions = source.fetch().await.unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(
        flatten_secret_versions(&versions).unwrap(),
        vec!["first-secret", "second-secret"]
    );

    // Rotation step 2: the pending version becomes current.
    sm.update_secret_version_stage()
        .secret_id(&arn)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&pending_version)
        .remove_from_version_id(&first_version)
        .send()
        .await
        .expect("promote");
    sm.update_secret_version_stage()
        .secret_id(&arn)
        .version_stage("AWSPENDING")
        .remove_from_version_id(&pending_version)
        .send()
        .await
        .expect("clear pending");
    let versions = source.fetch().await.unwrap();
    assert_eq!(
        flatten_secret_versions(&versions).unwrap(),
        vec!["second-secret", "first-secret"]
    );

    // The cache serves warm invocations, and keeps the last good value when the
    // secret disappears.
    let cache = SecretCache::new(
        SecretSource::SecretsManager(source.clone()),
        Duration::from_millis(200),
        Duration::ZERO,
    );
    let cached = cache.get().await.unwrap();
    sm.delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        cache.get().await.unwrap(),
        cached,
        "served from cache within the TTL"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        cache.get().await.unwrap(),
        cached,
        "last good value kept after a failed refresh"
    );
    match source.fetch().await {
        Err(SecretError::Fetch { code, .. }) => assert_eq!(code, "ResourceNotFoundException"),
        other => panic!("expected a fetch error, got {other:?}"),
    }

    // A cold start with no reachable secret has nothing to serve.
    let cold = SecretCache::new(
        SecretSource::SecretsManager(source),
        Duration::from_secs(300),
        Duration::ZERO,
    );
    assert!(cold.get().await.is_err());
}

#[tokio::test]
async fn unreachable_secrets_manager_is_an_error_not_a_hang() {
    // Nothing listens on this port.
    let port = edx_hooks_tests::support::free_port();
    let sm = Client::new(&sdk_config_for(&format!("http://127.0.0.1:{port}")).await);
    let source = SecretsManagerSecret::new(sm, "missing");
    let started = std::time::Instant::now();
    assert!(matches!(
        source.fetch().await,
        Err(SecretError::Fetch { .. })
    ));
    assert!(started.elapsed() < Duration::from_secs(20));
}
