//! `check-config [--connect]`: the configuration as the service would read it, described with
//! its secrets redacted, its warnings, and (with `--connect`) what it names, tried.

use std::path::Path;

use super::{maintenance, say};
use crate::{
    config::{BotMode, Config, RawConfig},
    telemetry::redact_secrets,
};

pub async fn check_config(config_path: Option<&Path>, connect: bool) -> anyhow::Result<()> {
    let cfg = checked(config_path)?;
    // URLs in the configuration may carry credentials (metadata, token URLs).
    say(redact_secrets(&cfg.describe()));
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
            say(redact_secrets(&format!("{mark} {:<17} {text}", r.what)));
        }
        anyhow::ensure!(failed == 0, "{failed} check(s) failed");
    }
    Ok(())
}

/// The configuration validated as `serve` does, plus what only a production install needs: the
/// shared secret of several instances, and for a registered bot an app package that builds.
fn checked(config_path: Option<&Path>) -> anyhow::Result<Config> {
    let raw = Config::figment(config_path)
        .extract::<RawConfig>()
        .map_err(crate::config::explain)?;
    let cfg = raw.validate()?;
    let mut problems: Vec<String> = cfg.missing_shared_secret().into_iter().collect();
    if matches!(cfg.bot.mode, BotMode::Authenticated(_)) {
        problems.extend(crate::teams::manifest::problems(&cfg));
    }
    anyhow::ensure!(
        problems.is_empty(),
        "invalid configuration:\n  - {}",
        problems.join("\n  - ")
    );
    Ok(cfg)
}
