use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CIVICGRID_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Structured JSON lines (for log collectors) unless CIVICGRID_LOG_FORMAT=text.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("CIVICGRID_LOG_FORMAT").is_ok_and(|f| f == "text") {
        logs.init();
    } else {
        logs.json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    }
    let cli = civicgrid::cli::Cli::parse();
    let mut stdout = std::io::stdout().lock();
    let mut stdin = std::io::stdin().lock();
    match civicgrid::cli::run(cli, &mut stdin, &mut stdout).await {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
