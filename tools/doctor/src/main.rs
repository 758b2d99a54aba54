//! `edx-hooks-doctor`: see `--help` and README "Before go-live".

use std::process::ExitCode;

use edx_hooks_doctor::{run, Args, UsageError, USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    // Logs (the clients' own tracing) go to stderr; the report goes to stdout.
    edx_hooks_shared::observability::init_logging();
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("edx-hooks-doctor: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(&args).await {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.render_text());
            }
            ExitCode::from(report.exit_code() as u8)
        }
        Err(e @ UsageError::Usage(_)) => {
            eprintln!("edx-hooks-doctor: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("edx-hooks-doctor: {e}");
            ExitCode::from(2)
        }
    }
}
