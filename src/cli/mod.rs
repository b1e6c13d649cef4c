//! The command line: `serve` (default) | `init` | `migrate` | `check-config` | `users import|list` |
//! `mail list|retry` | `report` | `campaign enroll` | `scim token` | `healthcheck` | `backup` |
//! `manifest`.

mod args;
mod check;
pub mod init;
mod mail;
pub mod maintenance;
mod out;
mod report;
mod scim;
mod serve;
mod users;

pub use args::*;
pub use out::{SYSTEM_CONFIG, database_label, say};

use anyhow::Context;

use crate::config::Config;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config_path = cli.config_path();
    let config_path = config_path.as_deref();
    if config_path.is_none() && cli.command.as_ref().is_some_and(Command::writes) {
        warn_of_the_development_database();
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Init(args) => init::init(args),
        Command::CheckConfig { connect } => check::check_config(config_path, connect).await,
        Command::Migrate => maintenance::migrate(&Config::load(config_path)?).await,
        Command::Users(cmd) => users::users(Config::load(config_path)?, cmd).await,
        Command::Scim(ScimCommand::Token {
            org,
            rotate,
            grace_hours,
            revoke,
        }) => {
            let grace = rotate.then(|| std::time::Duration::from_secs(grace_hours * 3600));
            scim::scim_token(Config::load(config_path)?, &org, grace, revoke).await
        }
        Command::Mail(cmd) => mail::mail(Config::load(config_path)?, cmd).await,
        Command::Campaign(CampaignCommand::Enroll(args)) => {
            let report =
                crate::teams::campaign::cli::enroll(Config::load(config_path)?, args).await?;
            say(report.trim_end());
            Ok(())
        }
        Command::Report {
            org,
            since,
            format,
            detail,
        } => report::report(Config::load(config_path)?, &org, &since, format, detail).await,
        Command::Manifest { out } => manifest(&Config::load(config_path)?, &out),
        Command::Healthcheck => maintenance::healthcheck(&Config::load(config_path)?).await,
        Command::Backup { to } => maintenance::backup(&Config::load(config_path)?, &to).await,
        Command::Serve => serve::serve(Config::load(config_path)?).await,
    }
}

/// `manifest --out FILE`: the Teams app package for this configuration.
fn manifest(cfg: &Config, out: &std::path::Path) -> anyhow::Result<()> {
    let zip = crate::teams::manifest::build(cfg)?;
    std::fs::write(out, &zip).with_context(|| format!("cannot write {}", out.display()))?;
    say(format!(
        "{}: Teams app package {} (version {}) for https://{}, {} bytes",
        out.display(),
        cfg.teams_app.short_name,
        cfg.teams_app.version,
        cfg.http.public_base_url.host_str().unwrap_or_default(),
        zip.len()
    ));
    Ok(())
}

/// Forgetting --config must not look like success against the real directory.
fn warn_of_the_development_database() {
    if std::env::var_os("OCTOPUS__DATABASE__URL").is_some() {
        return;
    }
    let url = Config::load(None)
        .map(|c| database_label(secrecy::ExposeSecret::expose_secret(&c.database.url)));
    eprintln!(
        "warning: no configuration file (--config, OCTOPUS_CONFIG, {SYSTEM_CONFIG}): this \
         writes to the development database {}",
        url.unwrap_or_else(|_| "of the embedded defaults".into())
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
