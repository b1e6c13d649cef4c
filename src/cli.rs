//! The command line: `serve` (default) | `init` | `migrate` | `check-config` | `users import|list` |
//! `mail list|retry` | `report` | `campaign enroll` | `scim token` | `healthcheck` | `backup` |
//! `manifest`.

use std::{io::Write, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{
    app::Application,
    clock::{Clock, SystemClock},
    config::Config,
    directory::{self, ImportError},
    reset::service::Retry,
    store::{self, Store, lockout, outbox},
    telemetry,
};

#[derive(Debug, Parser)]
#[command(
    name = "octopus-teams",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("OCTOPUS_COMMIT"), ")"),
    about = "Octopus password self-service for Microsoft Teams"
)]
pub struct Cli {
    /// Configuration file (TOML); environment variables OCTOPUS__SECTION__KEY override it.
    /// Without one, /etc/octopus-teams/config.toml when it exists, else the embedded defaults.
    #[arg(long, global = true, env = "OCTOPUS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format (default: `[log] format` of the configuration, else pretty).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<telemetry::Format>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per run: the size of `init`'s flags costs nothing"
)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Write a first install's configuration file (asks what it needs on a terminal, or takes
    /// flags), with a generated service key, mode 0600, checked before it is written.
    Init(crate::init::InitArgs),
    /// Print the effective configuration (secrets redacted) and name every problem.
    CheckConfig {
        /// Also try what it names: the database and its schema, the mail relay (TLS, AUTH;
        /// nothing is sent), the bot's OpenID metadata and app token. Fails if any fails.
        #[arg(long)]
        connect: bool,
    },
    /// The account directory.
    #[command(subcommand)]
    Users(UsersCommand),
    /// The mail outbox: what is pending, sent, or dead-lettered.
    #[command(subcommand)]
    Mail(MailCommand),
    /// What the service did for one organisation over a window: requests, mails sent and failed,
    /// links used and expired, changes, lockouts, unlocks, accounts never enrolled. Counts only;
    /// --detail adds the usernames concerned (never emails or tokens).
    Report {
        /// Organisation slug or tenant id.
        #[arg(long)]
        org: String,
        /// The window, ending now: 30d, 12h, 2w, 90m.
        #[arg(long, default_value = "30d")]
        since: String,
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
        /// Also list the usernames behind each figure (personal data).
        #[arg(long)]
        detail: bool,
    },
    /// Campaigns in Teams.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// SCIM provisioning from Entra ID (the enterprise application's "Provisioning").
    #[command(subcommand)]
    Scim(ScimCommand),
    /// Exit 0 when the running service answers /readyz on its address (the image's health
    /// check; no curl needed).
    Healthcheck,
    /// A consistent copy of the SQLite database, taken while the service serves (VACUUM INTO),
    /// private to its owner; restore: stop the service, put the copy in place of the database
    /// file (and remove its -wal and -shm files), start it.
    Backup {
        /// The new file to write (never overwritten).
        #[arg(long)]
        to: PathBuf,
    },
    /// Build the Teams app package (manifest, icons, translations) to upload or sideload.
    Manifest {
        /// Where to write the zip.
        #[arg(long, default_value = "octopus-teams.zip")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Import or update accounts from a CSV file, as Excel writes it: separated by commas,
    /// semicolons or tabs; UTF-8 (with or without BOM) or Windows-1252; columns in English or
    /// French: username (Nom d'utilisateur, Utilisateur), email (Courriel, Adresse courriel),
    /// display_name (Nom complet, Nom affiché), and optionally entra_object_id (ID d'objet), upn,
    /// locale (Langue: fr-CA, en, pt). Nothing is imported when any row is bad.
    Import {
        file: PathBuf,
        /// Organisation slug or tenant id (default: the first organisation).
        #[arg(long)]
        org: Option<String>,
        /// Check the file and say what would be created, changed, left unchanged or disabled;
        /// write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The file is the whole directory: disable the accounts it does not list (leavers).
        /// Their links and sessions end; they keep their history, and a later import that lists
        /// them enables them again. Refused when that would disable more than half of the
        /// enabled accounts (an empty or cut file) unless --force.
        #[arg(long)]
        disable_missing: bool,
        /// With --disable-missing: disable them even when they are more than half.
        #[arg(long, requires = "disable_missing")]
        force: bool,
    },
    /// List the accounts.
    List {
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScimCommand {
    /// Makes the organisation's provisioning token and prints it once (only its hash is kept):
    /// paste it into Entra ID as the "Secret Token", with <public URL>/scim/v2 as the "Tenant
    /// URL".
    Token {
        /// Organisation slug or tenant id.
        #[arg(long)]
        org: String,
        /// Replace the current token: it keeps working for --grace-hours, while the new one is
        /// pasted into Entra ID.
        #[arg(long, conflicts_with = "revoke")]
        rotate: bool,
        #[arg(long, default_value_t = 24, requires = "rotate")]
        grace_hours: u64,
        /// End every token of the organisation now (provisioning stops).
        #[arg(long)]
        revoke: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Sends « M'inscrire au service » once to each person whose account never had a password,
    /// in their 1:1 chat with the bot (a stored one, or one opened through the organisation's
    /// teams' rosters); prints who was reached, not found in Teams, already enrolled, failed.
    Enroll(crate::teams::campaign::cli::EnrollArgs),
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List the newest mails (state, attempts, last error); --dead: only the dead letters, which
    /// the relay refused for good or that failed mail.max_attempts times. Their link is erased:
    /// the person asks for a new one.
    List {
        #[arg(long)]
        dead: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Re-send a dead letter (ID from `mail list --dead`). Its link was erased, so a reset or
    /// enrolment mail gets a fresh link (older ones stop working) in a new mail; a "password
    /// changed" notice is not re-sent.
    Retry { id: String },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Csv,
    Md,
}

impl Command {
    /// Whether the command changes the database (or the mail it sends).
    fn writes(&self) -> bool {
        matches!(
            self,
            Command::Migrate
                | Command::Users(UsersCommand::Import { .. })
                | Command::Mail(MailCommand::Retry { .. })
                | Command::Campaign(_)
                | Command::Scim(_)
        )
    }
}

/// The configuration file read when neither --config nor OCTOPUS_CONFIG names one.
pub const SYSTEM_CONFIG: &str = "/etc/octopus-teams/config.toml";

impl Cli {
    /// The configuration file: `--config`, `OCTOPUS_CONFIG`, else [`SYSTEM_CONFIG`] when it
    /// exists.
    pub fn config_path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            let system = PathBuf::from(SYSTEM_CONFIG);
            system.is_file().then_some(system)
        })
    }

    /// `[log]` as the configuration has it (its defaults when the configuration cannot be read:
    /// the command then says why, in the log it starts).
    pub fn log_settings(&self) -> telemetry::LogSettings {
        Config::figment(self.config_path().as_deref())
            .extract_inner("log")
            .unwrap_or_default()
    }

    /// Whether the command is the service itself, whose failure is logged (to the journal, the
    /// collector) rather than only printed for a person at a terminal.
    pub fn serves(&self) -> bool {
        matches!(self.command, None | Some(Command::Serve))
    }
}

/// A table for people: columns as wide as what they hold (accents and all), no borders.
fn table<const N: usize>(header: [&str; N]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header);
    t
}

/// Prints a [`table`] flush left, without trailing spaces.
fn say_table(table: &comfy_table::Table) {
    let text = table.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect();
    say(lines.join("\n"));
}

/// Prints to standard output: the CLI's one way to talk to the admin.
pub fn say(text: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", text.as_ref());
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config_path = cli.config_path();
    let config_path = config_path.as_deref();
    if config_path.is_none()
        && std::env::var_os("OCTOPUS__DATABASE__URL").is_none()
        && cli.command.as_ref().is_some_and(Command::writes)
    {
        // Forgetting --config must not look like success against the real directory.
        let url = Config::load(None)
            .map(|c| database_label(secrecy::ExposeSecret::expose_secret(&c.database_url)));
        eprintln!(
            "warning: no configuration file (--config, OCTOPUS_CONFIG, {SYSTEM_CONFIG}): this \
             writes to the development database {}",
            url.unwrap_or_else(|_| "of the embedded defaults".into())
        );
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Init(args) => crate::init::init(args),
        Command::CheckConfig { connect } => {
            let raw = Config::figment(config_path).extract::<crate::config::RawConfig>();
            match raw
                .map_err(|e| anyhow::Error::from(crate::config::explain(e)))
                .and_then(|r| Ok(r.validate()?))
                .and_then(|cfg| {
                    let mut problems: Vec<String> =
                        cfg.missing_shared_secret().into_iter().collect();
                    // A registered bot is a production install: its app package must build.
                    if matches!(cfg.bot, crate::config::BotMode::Authenticated(_)) {
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
                        for r in crate::maintenance::reach(&cfg).await {
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
            let store = Store::connect(&cfg.database_url)
                .await
                .context("cannot open the database")?;
            let (before, known) = store.schema_state().await?;
            store.migrate().await?;
            let (after, _) = store.schema_state().await?;
            let label = database_label(secrecy::ExposeSecret::expose_secret(&cfg.database_url));
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
        Command::Users(cmd) => users(Config::load(config_path)?, cmd).await,
        Command::Scim(ScimCommand::Token {
            org,
            rotate,
            grace_hours,
            revoke,
        }) => {
            let grace = rotate.then(|| std::time::Duration::from_secs(grace_hours * 3600));
            scim_token(Config::load(config_path)?, &org, grace, revoke).await
        }
        Command::Mail(cmd) => mail(Config::load(config_path)?, cmd).await,
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
        } => report(Config::load(config_path)?, &org, &since, format, detail).await,
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
                cfg.public_base_url.host_str().unwrap_or_default(),
                zip.len()
            ));
            Ok(())
        }
        Command::Healthcheck => crate::maintenance::healthcheck(&Config::load(config_path)?).await,
        Command::Backup { to } => {
            crate::maintenance::backup(&Config::load(config_path)?, &to).await
        }
        Command::Serve => serve(Config::load(config_path)?).await,
    }
}

async fn users(cfg: Config, cmd: UsersCommand) -> anyhow::Result<()> {
    let store = Store::connect(&cfg.database_url)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    let pick = |hint: &Option<String>| -> anyhow::Result<_> {
        match hint {
            None => Ok(cfg.organisations.default_org().clone()),
            Some(h) => cfg
                .organisations
                .by_slug(h)
                .or_else(|| cfg.organisations.by_tenant(h))
                .cloned()
                .with_context(|| format!("no organisation {h:?} in the configuration")),
        }
    };
    match cmd {
        UsersCommand::Import {
            file,
            org,
            dry_run,
            disable_missing,
            force,
        } => {
            let org = pick(&org)?;
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let db = database_label(secrecy::ExposeSecret::expose_secret(&cfg.database_url));
            let options = directory::ImportOptions {
                dry_run,
                disable_missing,
                force,
            };
            match directory::import_csv_with(&store, &org, f, SystemClock.unix(), options).await {
                Ok(r) => {
                    let verb = if r.dry_run { "would be" } else { "" };
                    say(format!(
                        "{} ({}) in {db}, from {} ({}): {} {verb} created, {} {verb} updated, \
                         {} unchanged, {} {verb} enabled again, {} {verb} disabled{}",
                        org.slug,
                        org.name,
                        file.display(),
                        r.read_as,
                        r.created,
                        r.updated,
                        r.unchanged,
                        r.enabled,
                        r.disabled,
                        if r.dry_run {
                            " (dry run: nothing written)"
                        } else {
                            ""
                        }
                    )
                    .replace("  ", " "));
                    Ok(())
                }
                Err(ImportError::BadRows(rows)) => {
                    const SHOWN: usize = 20;
                    for r in rows.iter().take(SHOWN) {
                        say(format!("{}:{}: {}", file.display(), r.line, r.reason));
                    }
                    if rows.len() > SHOWN {
                        say(format!("… and {} more bad row(s)", rows.len() - SHOWN));
                    }
                    anyhow::bail!("nothing imported: {} bad row(s)", rows.len())
                }
                Err(e) => Err(e.into()),
            }
        }
        UsersCommand::List { org } => {
            let orgs: Vec<_> = match &org {
                Some(_) => vec![pick(&org)?],
                None => cfg.organisations.iter().cloned().collect(),
            };
            let mut conn = store.conn().await?;
            let now = SystemClock.unix();
            let mut table = table(["username", "email", "display name", "enrolled", "state"]);
            let mut count = 0;
            for org in &orgs {
                for e in store::directory::all(&mut conn, &org.tenant_id).await? {
                    let a = &e.account;
                    let subject = crate::reset::signin::lock_subject(a.username.as_str());
                    let locked = lockout::locked_until(&mut conn, &a.tenant_id, &subject).await?;
                    let state = match (&e.disabled_by, e.disabled_at) {
                        (by, Some(_)) => format!("disabled ({})", by.as_deref().unwrap_or("?")),
                        _ if locked.is_some_and(|t| t > now) => "locked".into(),
                        _ => "ok".into(),
                    };
                    let enrolled = if a.password_hash.is_some() {
                        "yes"
                    } else {
                        "no"
                    };
                    table.add_row([
                        a.username.to_string(),
                        a.email.full().to_string(),
                        a.display_name.clone(),
                        enrolled.to_string(),
                        state,
                    ]);
                    count += 1;
                }
            }
            say_table(&table);
            say(format!("{count} account(s)"));
            Ok(())
        }
    }
}

async fn scim_token(
    cfg: Config,
    hint: &str,
    rotate: Option<std::time::Duration>,
    revoke: bool,
) -> anyhow::Result<()> {
    let org = cfg
        .organisations
        .by_slug(hint)
        .or_else(|| cfg.organisations.by_tenant(hint))
        .cloned()
        .with_context(|| format!("no organisation {hint:?} in the configuration"))?;
    let store = Store::connect(&cfg.database_url)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    let now = SystemClock.unix();
    if revoke {
        crate::scim::token::revoke(&store, &org, now).await?;
        say(format!(
            "{}: every provisioning token ended; provisioning stops",
            org.slug
        ));
        return Ok(());
    }
    let token = crate::scim::token::issue(&store, &org, rotate, now).await?;
    let base = cfg.public_base_url.as_str().trim_end_matches('/');
    say(format!("Tenant URL:   {base}/scim/v2"));
    say(format!("Secret Token: {}", token.expose()));
    say(match rotate {
        Some(grace) => format!(
            "{}: the previous token keeps working for {} h; paste this one into Entra ID now. \
             It is shown only once.",
            org.slug,
            grace.as_secs() / 3600
        ),
        None => format!("{}: shown only once; only its hash is kept.", org.slug),
    });
    Ok(())
}

async fn retry(cfg: Config, store: Store, id: &str) -> anyhow::Result<()> {
    let reset = crate::app::reset_service_for_cli(&cfg, store)?;
    match reset.retry_dead_letter(id, None).await? {
        Retry::Reissued(d) => {
            say(format!(
                "{id}: a fresh link for {} (valid until {}) is queued; older links no longer work",
                d.email.full(),
                chrono::DateTime::from_timestamp(d.expires_at, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default()
            ));
            Ok(())
        }
        Retry::NotDead => {
            anyhow::bail!("{id}: no dead letter has this id (see `octopus-teams mail list --dead`)")
        }
        Retry::NothingToResend(template) => anyhow::bail!(
            "{id}: a \"{template}\" mail carries no link and its content is erased: nothing is \
             re-sent (tell the person directly if needed)"
        ),
        Retry::NoAccount => anyhow::bail!(
            "{id}: its address matches no single account of its organisation any more: nothing \
             is re-sent"
        ),
    }
}

async fn mail(cfg: Config, cmd: MailCommand) -> anyhow::Result<()> {
    let store = Store::connect(&cfg.database_url)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    let (dead, limit) = match cmd {
        MailCommand::List { dead, limit } => (dead, limit),
        MailCommand::Retry { id } => return retry(cfg, store, &id).await,
    };
    let mut conn = store.conn().await?;
    let list = outbox::list(&mut conn, dead, limit.max(1)).await?;
    // In the organisation's own time, its zone shown (people at the desk work in it).
    let when = |t: i64, tenant: &str| {
        let Some(utc) = chrono::DateTime::from_timestamp(t, 0) else {
            return String::new();
        };
        match cfg.organisations.by_exact_tenant(tenant) {
            Some(org) => utc
                .with_timezone(&org.time_zone)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string(),
            None => utc.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    };
    let mut table = table([
        "id",
        "template",
        "recipient",
        "queued",
        "state",
        "attempts",
        "last error",
    ]);
    for m in &list {
        let state = match (m.sent_at, m.dead_at, m.expired_at) {
            (Some(_), _, _) => "sent",
            (None, Some(_), Some(_)) => "expired",
            (None, Some(_), None) => "dead",
            (None, None, _) => "pending",
        };
        let error: String = m
            .last_error
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(80)
            .collect();
        table.add_row([
            m.outbox_id.clone(),
            m.template.clone(),
            m.recipient.clone(),
            when(m.created_at, &m.tenant_id),
            state.to_string(),
            m.attempts.to_string(),
            error,
        ]);
    }
    say_table(&table);
    say(format!(
        "{} mail(s){}",
        list.len(),
        if dead { " dead-lettered" } else { "" }
    ));
    Ok(())
}

async fn report(
    cfg: Config,
    org: &str,
    since: &str,
    format: ReportFormat,
    detail: bool,
) -> anyhow::Result<()> {
    let org = cfg
        .organisations
        .by_slug(org)
        .or_else(|| cfg.organisations.by_tenant(org))
        .cloned()
        .with_context(|| format!("no organisation {org:?} in the configuration"))?;
    let window = crate::reset::report::parse_window(since).with_context(|| {
        format!("--since {since:?}: expected a number and a unit, e.g. 30d, 12h, 2w or 90m")
    })?;
    let store = Store::connect(&cfg.database_url)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    let now = SystemClock.unix();
    let report =
        crate::reset::report::build(&store, &org, now.saturating_sub(window), now, detail).await?;
    say(match format {
        ReportFormat::Csv => report.to_csv(),
        ReportFormat::Md => report.to_markdown(),
    }
    .trim_end());
    Ok(())
}

/// The database a command wrote to, as a person names it: scheme, host and database (or file),
/// never a user, a password or the URL's parameters.
pub(crate) fn database_label(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.path()
        ),
        Err(_) => "the configured database".into(),
    }
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let base = cfg.public_base_url.clone();
    let mail = format!("{:?}", cfg.mail);
    let db =
        crate::mail::transport::redact_url(secrecy::ExposeSecret::expose_secret(&cfg.database_url));
    let local_dev = matches!(cfg.bot, crate::config::BotMode::LocalDev);
    if local_dev {
        tracing::warn!(
            "LOCAL DEVELOPMENT MODE: bot.app_id is empty, so POST /api/messages accepts unauthenticated \
             activities (Agents Playground, Bot Framework Emulator). Loopback only. Never expose this."
        );
    }
    for w in cfg.warnings() {
        tracing::warn!("{w}");
    }
    let seeds_demo = cfg.demo_seed;
    // The address answers from the start: while the database is waited for, /healthz says the
    // process lives and everything else 503 (so a load balancer or orchestrator sees "not ready",
    // not "connection refused").
    let listener = std::net::TcpListener::bind(cfg.listen)
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    listener.set_nonblocking(true)?;
    let (stop, starting) =
        starting_answers(tokio::net::TcpListener::from_std(listener.try_clone()?)?);
    let clock: crate::clock::SharedClock = std::sync::Arc::new(SystemClock);
    let built = Application::build_on(
        cfg,
        clock,
        Some(tokio::net::TcpListener::from_std(listener)?),
    )
    .await;
    let _ = stop.send(());
    let _ = starting.await;
    let app = built?;
    let addr = app.local_addr()?;
    tracing::info!(%addr, public_base_url = %base, "listening (http.listen / OCTOPUS__HTTP__LISTEN)");
    tracing::info!(database = %db, "database (database.url / OCTOPUS__DATABASE__URL)");
    tracing::info!(mail = %mail, "mail (mail.transport / OCTOPUS__MAIL__TRANSPORT)");
    if seeds_demo {
        tracing::info!(
            "open {base}login — or {base}enroll to set the demo account's (trej) first password"
        );
    } else {
        tracing::info!("open {base}login — accounts come from `users import` (none is seeded)");
    }
    if local_dev {
        tracing::info!(
            "the bot in Microsoft's local Teams client: APPLICATION_INSIGHTS_NO_STATSBEAT=true npx \
             @microsoft/m365agentsplayground@0.2.28 start -e http://{addr}/api/messages -c msteams --dt"
        );
    }
    app.run_until(shutdown_signal()).await
}

/// Serves the not-yet-ready answers on `listener` until told to stop.
fn starting_answers(
    listener: tokio::net::TcpListener,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    use axum::{http::StatusCode, routing::get};
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "starting: waiting for the database",
            )
        });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, task)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
