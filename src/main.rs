use clap::Parser;
use octopus_teams::{cli, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    telemetry::init(cli.log_format);
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {}", telemetry::redact_secrets(&format!("{e:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}
