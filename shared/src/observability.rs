//! Logging set-up shared by the functions.

/// Structured logs through `tracing`: JSON when Lambda asks for it
/// (`AWS_LAMBDA_LOG_FORMAT=JSON`) or when `EDX_HOOKS_LOG_FORMAT=json`, plain text
/// otherwise. Level from `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, default `info`.
pub fn init_logging() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
        || std::env::var("EDX_HOOKS_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(level.to_lowercase())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .without_time();
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
    let _ = result; // already initialised (tests): keep the existing subscriber
}
