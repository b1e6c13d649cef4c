//! The commands and their arguments, as clap reads them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::{init, out::SYSTEM_CONFIG};
use crate::{config::Config, telemetry};

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
    Init(init::InitArgs),
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
    pub(super) fn writes(&self) -> bool {
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
