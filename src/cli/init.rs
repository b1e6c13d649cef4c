//! `octopus-teams init`: a first install's configuration file, from flags or questions, that
//! passes `check-config`, with a generated service key, private to its owner.

use std::{
    io::{BufRead, IsTerminal, Write},
    path::Path,
};

use anyhow::Context;

use super::out::say;
use crate::{config::Config, service_key::ServiceKey};

/// What a first install needs; what is not given is asked (on a terminal) or named as missing.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct InitArgs {
    /// Where to write the file (never overwritten).
    #[arg(long, default_value = super::out::SYSTEM_CONFIG)]
    pub out: std::path::PathBuf,
    /// The organisation's name, as people call it (« Cégep de Sept-Îles »).
    #[arg(long)]
    pub name: Option<String>,
    /// A short name for commands and URLs (`cegepsi`): letters, digits and '-'.
    #[arg(long)]
    pub slug: Option<String>,
    /// The Entra tenant id (Entra admin center → Overview → Tenant ID).
    #[arg(long)]
    pub tenant_id: Option<String>,
    /// The Octopus web portal's login page.
    #[arg(long)]
    pub portal_url: Option<String>,
    /// Who the mails come from: « Soutien TI <supportTI@cegepsi.ca> ».
    #[arg(long)]
    pub sender: Option<String>,
    /// The mail relay: smtp://host:25, smtp://user:pass@host:587?tls=required, smtps://…
    #[arg(long)]
    pub relay: Option<String>,
    /// The public https address Teams and the mailed links reach.
    #[arg(long)]
    pub public_url: Option<String>,
    /// The bot's Azure app registration id.
    #[arg(long)]
    pub bot_app_id: Option<String>,
    /// Its client secret (or OCTOPUS_BOT_PASSWORD, which other users cannot see).
    #[arg(long, env = "OCTOPUS_BOT_PASSWORD", hide_env_values = true)]
    pub bot_password: Option<String>,
    /// PostgreSQL for several instances (postgres://…); default: SQLite in the data directory.
    #[arg(long)]
    pub database: Option<String>,
    /// Where the service keeps its files.
    #[arg(long, default_value = "/var/lib/octopus-teams")]
    pub data_dir: String,
    /// The organisation's IANA time zone.
    #[arg(long, default_value = "America/Toronto")]
    pub time_zone: String,
}

/// The questions, in order: (what, flag, question).
const ASKED: [(&str, &str, &str); 9] = [
    (
        "name",
        "--name",
        "Organisation's name (« Cégep de Sept-Îles »)",
    ),
    (
        "slug",
        "--slug",
        "Short name for commands and URLs (cegepsi)",
    ),
    ("tenant_id", "--tenant-id", "Entra tenant id (a GUID)"),
    ("portal_url", "--portal-url", "Octopus portal login URL"),
    (
        "sender",
        "--sender",
        "Mail sender (Soutien TI <supportTI@cegepsi.ca>)",
    ),
    ("relay", "--relay", "Mail relay (smtp://relay.example:25)"),
    (
        "public_url",
        "--public-url",
        "Public https address (https://octopus.example.org)",
    ),
    (
        "bot_app_id",
        "--bot-app-id",
        "Bot app registration id (a GUID)",
    ),
    ("bot_password", "--bot-password", "Bot client secret"),
];

impl InitArgs {
    fn slot(&mut self, what: &str) -> &mut Option<String> {
        match what {
            "name" => &mut self.name,
            "slug" => &mut self.slug,
            "tenant_id" => &mut self.tenant_id,
            "portal_url" => &mut self.portal_url,
            "sender" => &mut self.sender,
            "relay" => &mut self.relay,
            "public_url" => &mut self.public_url,
            "bot_app_id" => &mut self.bot_app_id,
            _ => &mut self.bot_password,
        }
    }

    /// Asks what is missing on a terminal; elsewhere names it.
    fn complete(mut self) -> anyhow::Result<Self> {
        let interactive = std::io::stdin().is_terminal();
        let mut missing = Vec::new();
        for (what, flag, question) in ASKED {
            let slot = self.slot(what);
            if slot.as_deref().is_some_and(|v| !v.trim().is_empty()) {
                continue;
            }
            if !interactive {
                missing.push(flag);
                continue;
            }
            eprint!("{question}: ");
            std::io::stderr().flush()?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let answer = line.trim().to_string();
            if answer.is_empty() {
                missing.push(flag);
            } else {
                *slot = Some(answer);
            }
        }
        anyhow::ensure!(missing.is_empty(), "missing: {}", missing.join(", "));
        Ok(self)
    }
}

fn quoted(s: &str) -> String {
    // TOML basic strings and JSON strings escape alike.
    serde_json::Value::String(s.to_string()).to_string()
}

/// The file's text.
// Long: the configuration file's text itself, one format! of the template.
fn render(a: &InitArgs, key: &str) -> String {
    let v = |o: &Option<String>| quoted(o.as_deref().unwrap_or_default().trim());
    let database = match &a.database {
        Some(url) => quoted(url),
        None => quoted("sqlite://{data_dir}/octopus-teams.db?mode=rwc"),
    };
    let tenant = v(&a.tenant_id);
    format!(
        r#"# octopus-teams configuration, written by `octopus-teams init`.
# Every key is described in config/octopus-teams.example.toml. Check it, and what it names:
#   octopus-teams --config {out} check-config --connect

data_dir = {data_dir}

[http]
listen = "127.0.0.1:3978"                 # nginx (deploy/nginx) in front, on this host
public_base_url = {public_url}
trusted_proxies = ["127.0.0.1/32"]        # the proxy's address as the service sees it

[database]
url = {database}

[mail]
transport = {relay}

[security]
# Seals pending mail and signs forms. Keep it with your backups, apart from them; every instance
# of a deployment has the same.
secret_key = {key}

[bot]
app_id = {bot_app_id}
app_password = {bot_password}
app_type = "single_tenant"
app_tenant_id = {tenant}

[teams_app]
developer_name = {name_short}

[[organisations]]
tenant_id = {tenant}
slug = {slug}
name = {name}
portal_url = {portal_url}
sender = {sender}
time_zone = {time_zone}
default_locale = "fr-CA"
token_lifetime_minutes = 30
"#,
        out = a.out.display(),
        data_dir = quoted(&a.data_dir),
        public_url = v(&a.public_url),
        relay = v(&a.relay),
        key = quoted(key),
        bot_app_id = v(&a.bot_app_id),
        bot_password = v(&a.bot_password),
        name_short = quoted(
            &a.name
                .as_deref()
                .unwrap_or_default()
                .chars()
                .take(32)
                .collect::<String>()
        ),
        slug = v(&a.slug),
        name = v(&a.name),
        portal_url = v(&a.portal_url),
        sender = v(&a.sender),
        time_zone = quoted(&a.time_zone),
    )
}

/// Writes the file (0600, never over an existing one) once its configuration validates.
pub fn init(args: InitArgs) -> anyhow::Result<()> {
    let out = args.out.clone();
    anyhow::ensure!(
        !out.exists(),
        "{} exists: init never overwrites a configuration (name another file with --out)",
        out.display()
    );
    let args = args.complete()?;
    let text = render(&args, &ServiceKey::generate().to_base64());
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let draft = out.with_extension("toml.draft");
    write_private(&draft, &text)?;
    let checked = Config::load(Some(&draft));
    if let Err(e) = checked {
        let _ = std::fs::remove_file(&draft);
        return Err(e.context("the answers do not make a valid configuration; nothing written"));
    }
    std::fs::rename(&draft, &out).with_context(|| format!("cannot write {}", out.display()))?;
    say(format!("{}: written (mode 0600). Next:", out.display()));
    let c = format!("octopus-teams --config {}", out.display());
    let slug = args.slug.as_deref().unwrap_or_default();
    for step in [
        format!("  {c} check-config --connect     # the database, the relay, the bot, tried"),
        format!("  {c} migrate"),
        format!(
            "  {c} users import staff.csv     # or: {c} scim token --org {slug} (Entra provisioning)"
        ),
        format!("  {c} manifest --out octopus-teams.zip   # the Teams app to upload"),
        "  systemctl enable --now octopus-teams  # or the image: docs/deploy.md".to_string(),
    ] {
        say(step);
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    crate::at_rest::create_private_file(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
