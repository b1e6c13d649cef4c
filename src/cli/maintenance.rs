//! What an operator runs beside the service: `healthcheck` (the image's health check, which
//! needs no curl), `backup` (a consistent copy of a SQLite database while it serves) and
//! `check-config --connect` (what the configuration names, tried), `migrate`.

use super::out::{database_label, say};
use std::{path::Path, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::{
    config::Config,
    store::{Dialect, Store},
};

/// `migrate`: the schema brought up to date, and what that took.
pub async fn migrate(cfg: &Config) -> anyhow::Result<()> {
    let store = Store::connect(&cfg.database.url)
        .await
        .context("cannot open the database")?;
    let (before, known) = store.schema_state().await?;
    store.migrate().await?;
    let (after, _) = store.schema_state().await?;
    let label = database_label(cfg.database.url.expose_secret());
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

/// Asks the running service's `/readyz` on its own address; Ok when it answers 200.
pub async fn healthcheck(cfg: &Config) -> anyhow::Result<()> {
    let mut addr = cfg.http.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{addr}/readyz");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .no_proxy()
        .build()?;
    let res = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url}: no answer"))?;
    anyhow::ensure!(res.status().is_success(), "{url}: {}", res.status());
    say(format!("{url}: ready"));
    Ok(())
}

/// Writes a consistent copy of the SQLite database to `to` (`VACUUM INTO`: one read
/// transaction, while the service goes on serving), then opens it and counts its accounts.
pub async fn backup(cfg: &Config, to: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        !to.exists(),
        "{} exists: name a new file (a backup never overwrites)",
        to.display()
    );
    let store = Store::connect(&cfg.database.url)
        .await
        .context("cannot open the database")?;
    anyhow::ensure!(
        store.dialect() == Dialect::Sqlite,
        "backup copies SQLite databases; for PostgreSQL use its own tools (pg_dump -Fc, or \
         the managed service's backups)"
    );
    let target = to
        .to_str()
        .context("the backup's path is not valid UTF-8")?;
    // Private from its first byte: it holds password hashes and sealed mail.
    crate::at_rest::create_private_file(to)
        .with_context(|| format!("cannot create {}", to.display()))?;
    sqlx::query("vacuum into $1")
        .bind(target)
        .execute(store.pool())
        .await
        .with_context(|| format!("cannot write {}", to.display()))?;
    store.close().await;
    // The copy must open on its own, read-only, and hold the accounts.
    let copy =
        rusqlite::Connection::open_with_flags(to, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .context("the backup does not open")?;
    let accounts: i64 = copy
        .query_row("select count(*) from account", [], |row| row.get(0))
        .context("the backup holds no account table")?;
    drop(copy);
    let size = std::fs::metadata(to)?.len();
    say(format!(
        "{}: {} kB, {accounts} account(s), from {}",
        to.display(),
        size / 1024,
        super::out::database_label(cfg.database.url.expose_secret())
    ));
    Ok(())
}

/// One thing `check-config --connect` tried: what, and what came of it.
pub struct Reached {
    pub what: &'static str,
    pub outcome: Result<String, String>,
}

/// Tries what the configuration names, writing nothing anywhere: the database (and whether its
/// schema is up to date), the mail relay (connection, TLS, AUTH; nothing sent), and for a
/// registered bot its OpenID metadata and a client-credentials token (thrown away).
pub async fn reach(cfg: &Config) -> Vec<Reached> {
    let mut out = vec![Reached {
        what: "database",
        outcome: database(cfg).await,
    }];
    let one_connection = crate::config::MailConfig {
        concurrency: 1,
        ..cfg.mail.clone()
    };
    let mail = match crate::mail::transport::Transport::build(&one_connection) {
        Ok(t) => t.check().await,
        Err(e) => Err(format!("{e:#}")),
    };
    out.push(Reached {
        what: "mail relay",
        outcome: mail,
    });
    if let crate::config::BotMode::Authenticated(auth) = &cfg.bot.mode {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        out.push(Reached {
            what: "bot channel keys",
            outcome: metadata(&http, auth.openid_metadata_url.as_str()).await,
        });
        out.push(Reached {
            what: "bot app token",
            outcome: app_token(&http, auth).await,
        });
    }
    out
}

async fn database(cfg: &Config) -> Result<String, String> {
    Store::probe(&cfg.database.url).await?;
    let store = tokio::time::timeout(Duration::from_secs(15), Store::connect(&cfg.database.url))
        .await
        .map_err(|_| "no answer within 15 s".to_string())?
        .map_err(|e| e.to_string())?;
    let (applied, known) = store.schema_state().await.map_err(|e| e.to_string())?;
    store.close().await;
    let label = super::out::database_label(cfg.database.url.expose_secret());
    if applied < known {
        Err(format!(
            "{label}: {applied} of {known} migrations applied; run `octopus-teams migrate` (serve \
             also does)"
        ))
    } else {
        Ok(format!(
            "{label}: reachable, schema up to date ({known} migrations)"
        ))
    }
}

async fn metadata(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let res = http.get(url).send().await.map_err(|e| e.to_string())?;
    let status = res.status();
    if !status.is_success() {
        return Err(format!("{url}: {status}"));
    }
    let doc: serde_json::Value = res.json().await.map_err(|e| format!("{url}: {e}"))?;
    doc.get("jwks_uri")
        .and_then(serde_json::Value::as_str)
        .map(|jwks| format!("{url}: keys at {jwks}"))
        .ok_or_else(|| format!("{url}: no jwks_uri"))
}

async fn app_token(
    http: &reqwest::Client,
    auth: &crate::config::BotAuth,
) -> Result<String, String> {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", auth.app_id.as_str()),
        ("client_secret", auth.app_password.expose_secret()),
        ("scope", auth.token_scope.as_str()),
    ];
    let res = http
        .post(auth.token_url.clone())
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    if status.is_success() && body.get("access_token").is_some() {
        return Ok(format!(
            "{}: a token for {} was granted",
            auth.token_url, auth.app_id
        ));
    }
    // Entra's error says why (AADSTS7000215: invalid client secret, …); its first line is enough.
    let why = body
        .get("error_description")
        .and_then(serde_json::Value::as_str)
        .and_then(|d| d.lines().next())
        .unwrap_or("no reason given");
    Err(format!("{}: {status}: {why}", auth.token_url))
}
