//! Lambda entry point: wiring only.

use std::sync::Arc;

use course_sync::lambda::{handle_event, service_from_env};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    edx_hooks_shared::observability::init_logging();
    // Boxed: the AWS SDK's configuration future is deep enough to hit the type-layout recursion limit.
    let service = Arc::new(Box::pin(service_from_env()).await?);
    run(service_fn(move |event: LambdaEvent<Value>| {
        let service = service.clone();
        async move { Box::pin(handle_event(&service, event.payload)).await }
    }))
    .await
}
