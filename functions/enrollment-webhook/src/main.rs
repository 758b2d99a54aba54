//! Lambda entry point: wiring only.

use std::sync::Arc;

use enrollment_webhook::lambda::{handle, service_from_env};
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    edx_hooks_shared::observability::init_logging();
    let service = Arc::new(service_from_env().await?);
    run(service_fn(move |request: Request| {
        let service = service.clone();
        async move { handle(&service, request).await }
    }))
    .await
}
