//! The command line: `serve` (default) | `init` | `migrate` | `check-config` | `users import|list` |
//! `mail list|retry` | `report` | `campaign enroll` | `scim token` | `healthcheck` | `backup` |
//! `manifest`.

mod args;
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

use crate::{config::Config, store::Store};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config_path = cli.config_path();
    let config_path = config_path.as_deref();
    if config_path.is_none()
        && std::env::var_os("OCTOPUS__DATABASE__URL").is_none()
        && cli.command.as_ref().is_some_and(Command::writes)
    {
        // Forgetting --config must not look like success against the real directory.
        let url = Config::load(None)
            .map(|c| database_label(secrecy::ExposeSecret::expose_secret(&c.database.url)));
        eprintln!(
            "warning: no configuration file (--config, OCTOPUS_CONFIG, {SYSTEM_CONFIG}): this \
             writes to the development database {}",
            url.unwrap_or_else(|_| "of the embedded defaults".into())
        );
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Init(args) => init::init(args),
        Command::CheckConfig { connect } => {
            let raw = Config::figment(config_path).extract::<crate::config::RawConfig>();
            match raw
                .map_err(|e| anyhow::Error::from(crate::config::explain(e)))
                .and_then(|r| Ok(r.validate()?))
                .and_then(|cfg| {
                    let mut problems: Vec<String> =
                        cfg.missing_shared_secret().into_iter().collect();
                    // A registered bot is a production install: its app package must build.
                    if matches!(cfg.bot.mode, crate::config::BotMode::Authenticated(_)) {
                        problems.extend(crate::teams::manifest::problems(&cfg));
                    }
                    if problems.is_empty() {
                        Ok(cfg)
                    } else {
                        Err(anyhow::anyhow!(
                            "invalid configuration:\n  - {}",
                            problems.join("\n  - ")
                        ))
                    }
                }) {
                Ok(cfg) => {
                    // URLs in the configuration may carry credentials (metadata, token URLs).
                    say(crate::telemetry::redact_secrets(&cfg.describe()));
                    for w in cfg.warnings() {
                        say(format!("warning: {w}"));
                    }
                    say("configuration OK");
                    if connect {
                        let mut failed = 0;
                        for r in maintenance::reach(&cfg).await {
                            let (mark, text) = match r.outcome {
                                Ok(t) => ("ok  ", t),
                                Err(e) => {
                                    failed += 1;
                                    ("FAIL", e)
                                }
                            };
                            say(crate::telemetry::redact_secrets(&format!(
                                "{mark} {:<17} {text}",
                                r.what
                            )));
                        }
                        anyhow::ensure!(failed == 0, "{failed} check(s) failed");
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        Command::Migrate => {
            let cfg = Config::load(config_path)?;
            let store = Store::connect(&cfg.database.url)
                .await
                .context("cannot open the database")?;
            let (before, known) = store.schema_state().await?;
            store.migrate().await?;
            let (after, _) = store.schema_state().await?;
            let label = database_label(secrecy::ExposeSecret::expose_secret(&cfg.database.url));
            say(if after > before {
                format!(
                    "{label}: applied {} migration(s); the schema is up to date ({known})",
                    after - before
                )
            } else {
                format!("{label}: the schema was already up to date ({known} migrations)")
            });
            Ok(())
        }
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
        Command::Manifest { out } => {
            let cfg = Config::load(config_path)?;
            let zip = crate::teams::manifest::build(&cfg)?;
            std::fs::write(&out, &zip)
                .with_context(|| format!("cannot write {}", out.display()))?;
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
        Command::Healthcheck => maintenance::healthcheck(&Config::load(config_path)?).await,
        Command::Backup { to } => maintenance::backup(&Config::load(config_path)?, &to).await,
        Command::Serve => serve::serve(Config::load(config_path)?).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
