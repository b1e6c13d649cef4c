//! `octopus-teams campaign enroll`: the command-line side of [`super::campaign`].

use std::sync::Arc;

use anyhow::Context;

use super::{
    campaign::{Campaigner, Outcome, Summary},
    cards::Cards,
    connector::ConnectorClient,
};
use crate::{
    clock::SystemClock,
    config::{BotMode, Config},
    i18n::Strings,
    reset::campaign::Campaigns,
};

#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// Organisation slug or tenant id.
    #[arg(long)]
    pub org: String,
    /// List who would be written to, and how, without sending anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Write to at most this many people in this run (the next run continues).
    #[arg(long)]
    pub limit: Option<usize>,
    /// The campaign: running the same name again continues it and never writes twice to one
    /// person; a new name (e.g. for the next intake) starts afresh. Default: enroll-<org slug>.
    #[arg(long)]
    pub name: Option<String>,
}

/// Runs the campaign and returns what to print ([`render`]); the caller prints it.
pub async fn enroll(cfg: Config, args: EnrollArgs) -> anyhow::Result<String> {
    let org = cfg
        .organisations
        .by_slug(&args.org)
        .or_else(|| cfg.organisations.by_tenant(&args.org))
        .cloned()
        .with_context(|| format!("no organisation {:?} in the configuration", args.org))?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("enroll-{}", org.slug));
    anyhow::ensure!(
        !name.trim().is_empty() && name.len() <= 100,
        "--name: 1 to 100 characters"
    );
    let clock = Arc::new(SystemClock);
    let campaigns = Campaigns::connect(&cfg.database_url, clock.clone()).await?;
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let auth = match &cfg.bot {
        BotMode::LocalDev => None,
        BotMode::Authenticated(a) => Some(a.as_ref().clone()),
    };
    let campaigner = Campaigner {
        campaigns,
        connector: ConnectorClient::new(http, auth, cfg.connector_retries, clock.clone())
            .with_timeout(cfg.connector_timeout),
        cards: Cards::load(Strings::load()?)?,
    };
    let summary = campaigner
        .enroll(&org, &name, args.dry_run, args.limit)
        .await?;
    Ok(render(&summary))
}

/// What `campaign enroll` prints: the notes and `name: count` lines first (what a person reads
/// before thousands of lines), then a line per account.
pub fn render(summary: &Summary) -> String {
    let mut out = format!(
        "campaign {}{}\n",
        summary.campaign,
        if summary.dry_run {
            " (dry run: nothing sent)"
        } else {
            ""
        }
    );
    for note in &summary.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    let figures = [
        ("never enrolled", summary.never_enrolled),
        ("already enrolled", summary.already_enrolled),
        ("already reached by this campaign", summary.already_reached),
        (
            "would be reached",
            summary.count(|o| matches!(o, Outcome::WouldReach(_))),
        ),
        (
            "reached",
            summary.count(|o| matches!(o, Outcome::Reached(_))),
        ),
        (
            "not found in Teams",
            summary.count(|o| *o == Outcome::NotFound),
        ),
        (
            "failed",
            summary.count(|o| matches!(o, Outcome::Failed(_) | Outcome::Uncertain(_))),
        ),
        (
            "left for the next run",
            summary.count(|o| *o == Outcome::Left),
        ),
    ];
    for (name, n) in figures {
        if name == "would be reached" && !summary.dry_run {
            continue;
        }
        out.push_str(&format!("{name}: {n}\n"));
    }
    for (username, outcome) in &summary.accounts {
        let what = match outcome {
            Outcome::Reached(how) => format!("reached ({how})"),
            Outcome::WouldReach(how) => format!("would be reached ({how})"),
            Outcome::NotFound => "not found in Teams".into(),
            Outcome::Failed(why) => format!("failed, will be retried: {why}"),
            Outcome::Uncertain(why) => {
                format!("failed, perhaps delivered, not retried: {why}")
            }
            Outcome::Left => "left for the next run".into(),
        };
        out.push_str(&format!("  {username:<20} {what}\n"));
    }
    out
}
