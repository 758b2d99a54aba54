//! Lambda entry point: wiring only.

use std::sync::Arc;
use std::time::Duration;

use course_sync::lambda::{handle_event_until, service_from_env};
use edx_hooks_shared::openedx::deadline;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() -> Result<(), Error> {
    edx_hooks_shared::observability::init_logging();
    // Boxed: the AWS SDK's configuration future is deep enough to hit the type-layout recursion limit.
    let service = Arc::new(Box::pin(service_from_env()).await?);
    run(service_fn(move |event: LambdaEvent<Value>| {
        let service = service.clone();
        // Room to answer (and, for a queue batch, to report its failures) after the
        // last call: nothing may run into Lambda's own timeout.
        let deadline = deadline::from_unix_ms(event.context.deadline, DEADLINE_MARGIN);
        async move { Box::pin(handle_event_until(&service, event.payload, deadline)).await }
    }))
    .await
}
