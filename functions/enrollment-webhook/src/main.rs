//! Lambda entry point: wiring only.

use std::sync::Arc;

use edx_hooks_shared::openedx::deadline;
use enrollment_webhook::lambda::{doctor_report, handle, route, service_from_env, Invocation};
use lambda_http::{service_fn, Adapter, Error, LambdaEvent, Request, Service};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    edx_hooks_shared::observability::init_logging();
    let service = Arc::new(service_from_env().await?);
    // What `lambda_http::run` runs (the same request and response conversions), behind
    // one dispatch: `{"doctor": true}` is not an HTTP event.
    let http = Adapter::from(service_fn(move |request: Request| {
        let service = service.clone();
        async move { handle(&service, request).await }
    }));
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let mut http = http.clone();
        async move {
            match route(&event.payload)? {
                // Boxed: the doctor's future is deep enough to hit the type-layout recursion limit.
                // Within the invocation's deadline: an LMS that hangs gives failed
                // checks, not a Lambda timeout.
                Invocation::Doctor(course) => {
                    let report = Box::pin(doctor_report(course.as_deref()));
                    let margin = std::time::Duration::from_secs(2);
                    Ok::<Value, Error>(
                        match deadline::from_unix_ms(event.context.deadline, margin) {
                            Some(at) => deadline::with_deadline(at, report).await,
                            None => report.await,
                        },
                    )
                }
                Invocation::Http(request) => {
                    let response = http.call(LambdaEvent::new(*request, event.context)).await?;
                    Ok(serde_json::to_value(response)?)
                }
            }
        }
    }))
    .await
}
