//! The Lambda adapter: API Gateway (HTTP API v2 / REST / function URL) events in,
//! responses out, and the wiring of the service from the environment (done once
//! per cold start; everything it builds is reused by warm invocations).

use std::sync::Arc;

use lambda_http::{Body, Request, Response};

use edx_hooks_shared::openedx::config::{LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, LOCAL_LMS_URL};
use edx_hooks_shared::openedx::rest::{credential_cache, credentials_from_env};
use edx_hooks_shared::openedx::{OpenEdxClient, OpenEdxConfig};
use edx_hooks_shared::secrets::{
    secrets_manager_client, SecretCache, SecretSource, SecretsManagerSecret, StaticSecret,
    DEFAULT_MIN_FORCED_REFRESH,
};

use crate::service::{Reply, WebhookService, SIGNATURE_HEADER};

/// The webhook secret: Secrets Manager when `LERNITO_SECRET_ARN` is set, otherwise
/// `LERNITO_WEBHOOK_SECRET` (comma-separated list allowed) for local runs.
pub async fn webhook_secret_source() -> SecretSource {
    match std::env::var("LERNITO_SECRET_ARN")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        Some(arn) => SecretSource::SecretsManager(SecretsManagerSecret::new(
            secrets_manager_client().await,
            arn,
        )),
        None => SecretSource::Static(StaticSecret::from_env_list("LERNITO_WEBHOOK_SECRET")),
    }
}

pub async fn service_from_env() -> Result<WebhookService<OpenEdxClient>, lambda_http::Error> {
    let config = OpenEdxConfig::from_env(LOCAL_LMS_URL)?;
    let credentials =
        credential_cache(credentials_from_env(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET).await);
    let lms = OpenEdxClient::new(config, credentials)?;
    let secrets = Arc::new(SecretCache::new(
        webhook_secret_source().await,
        edx_hooks_shared::secrets::ttl_from_env(),
        DEFAULT_MIN_FORCED_REFRESH,
    ));
    Ok(WebhookService::new(Arc::new(lms), secrets))
}

/// Convert one API Gateway request, call the service, convert the reply.
pub async fn handle<L: edx_hooks_shared::openedx::EnrollmentLms>(
    service: &WebhookService<L>,
    request: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let body: &[u8] = match request.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    let reply = service
        .handle(&method, &path, signature.as_deref(), body)
        .await;
    Ok(to_response(reply)?)
}

fn to_response(reply: Reply) -> Result<Response<Body>, lambda_http::http::Error> {
    let mut builder = Response::builder()
        .status(reply.status)
        .header("content-type", "application/json");
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::Text(reply.body))
}
