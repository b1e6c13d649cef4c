//! `octopus-teams campaign enroll`: the command-line side of [`super`].

use std::{
    io::IsTerminal,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::Context;

use super::{Campaigner, Outcome, Progress, SHARE, Summary};
use crate::teams::bot::{cards::Cards, connector::ConnectorClient, pace::Pacer};
use crate::{
    clock::SystemClock,
    config::{BotMode, Config},
    i18n::Strings,
    org::Organisation,
    teams::campaign::records::Campaigns,
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
    /// Requests per second to the Bot Connector (default: 95% of the organisation's
    /// `teams_requests_per_second`). Lower it to leave room for other apps of the tenant.
    #[arg(long)]
    pub rate: Option<f64>,
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
    let campaigns = Campaigns::connect(&cfg.database.url, clock.clone()).await?;
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let auth = match &cfg.bot.mode {
        BotMode::LocalDev => None,
        BotMode::Authenticated(a) => Some(a.as_ref().clone()),
    };
    let rate = args.rate.unwrap_or(org.teams_requests_per_second * SHARE);
    anyhow::ensure!(
        rate.is_finite() && (0.5..=1000.0).contains(&rate),
        "--rate: between 0.5 and 1000 requests per second"
    );
    let pacer = Arc::new(Pacer::new(rate));
    let stop = Arc::new(AtomicBool::new(false));
    if !args.dry_run {
        stop_on_ctrl_c(stop.clone());
    }
    let campaigner = Campaigner {
        campaigns,
        connector: ConnectorClient::configured(http, auth, &cfg.bot, &(clock.clone() as _))
            .with_pacer(pacer.clone()),
        cards: Cards::load(Strings::load()?)?,
        pacer,
        progress: if args.dry_run {
            Box::new(|_| {})
        } else {
            progress_display(&org, &name)
        },
        stop,
    };
    let summary = campaigner
        .enroll(&org, &name, args.dry_run, args.limit)
        .await?;
    Ok(render(&summary))
}

/// The first Ctrl-C stops the run after the people in progress (their outcomes are recorded);
/// a second one ends the process at once (their claims stay: nobody is written to twice).
fn stop_on_ctrl_c(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        stop.store(true, Ordering::SeqCst);
        eprintln!(
            "stopping after the people in progress (Ctrl-C again to quit now; the next run continues)"
        );
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
}

/// On a terminal, a progress bar; otherwise (a log, a pipe) a line every 5% (at most every 500
/// people), each with the pace and the expected end in the organisation's time.
fn progress_display(org: &Organisation, name: &str) -> Box<dyn Fn(Progress) + Send + Sync> {
    let zone = org.time_zone;
    let name = name.to_string();
    let end = move |p: &Progress| {
        (chrono::Utc::now() + p.remaining())
            .with_timezone(&zone)
            .format("%H:%M")
            .to_string()
    };
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} people, {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(name);
        return Box::new(move |p: Progress| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            bar.set_message(format!(
                "{:.1} requests/s, expected end {}",
                p.per_second,
                end(&p)
            ));
            if p.done == p.total {
                bar.finish();
            }
        });
    }
    Box::new(move |p: Progress| {
        let every = (p.total / 20).clamp(1, 500);
        if p.done == 0 || p.done == p.total || p.done.is_multiple_of(every) {
            eprintln!(
                "campaign {name}, {} of {} people written to, {:.1} requests/s, expected end {} ({})",
                p.done,
                p.total,
                p.per_second,
                end(&p),
                zone
            );
        }
    })
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
    if summary.throttled > 0 {
        out.push_str(&format!(
            "note: Teams asked to slow down {} times (429): the pace was lowered to {:.1} requests/s\n",
            summary.throttled, summary.per_second
        ));
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
