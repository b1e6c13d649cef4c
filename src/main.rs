use clap::Parser;
use octopus_teams::{cli, telemetry};

/// mimalloc rather than glibc's malloc: under the bot's load glibc's malloc and free were about
/// a quarter of the service's CPU (the profile in BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    telemetry::init(cli.log_format, &cli.log_settings());
    let serves = cli.serves();
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let raw = format!("{e:#}");
            let text = telemetry::redact_secrets(&raw);
            // The service's failure goes to its log; a command's is said once, to its user.
            if serves {
                tracing::error!("{text}");
            }
            eprintln!("error: {text}");
            std::process::ExitCode::FAILURE
        }
    }
}
