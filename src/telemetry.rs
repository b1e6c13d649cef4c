//! Logging: `RUST_LOG`-style filter, pretty for people or JSON for collectors.

use tracing_subscriber::{EnvFilter, fmt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Pretty,
    Json,
}

pub const DEFAULT_FILTER: &str = "octopus_teams=info,tower_http=warn";

pub fn init(format: Format) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        Format::Pretty => builder.try_init(),
        Format::Json => builder.json().flatten_event(true).try_init(),
    };
}
