//! What an operator runs beside the service: `healthcheck` (the image's health check, which
//! needs no curl) and `backup` (a consistent copy of a SQLite database while it serves).

use std::{path::Path, time::Duration};

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::{
    cli::say,
    config::Config,
    store::{Dialect, Store},
};

/// Asks the running service's `/readyz` on its own address; Ok when it answers 200.
pub async fn healthcheck(cfg: &Config) -> anyhow::Result<()> {
    let mut addr = cfg.listen;
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
    let store = Store::connect(&cfg.database_url)
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
        crate::cli::database_label(cfg.database_url.expose_secret())
    ));
    Ok(())
}
