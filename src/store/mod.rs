//! Persistence over SQLite or PostgreSQL through `sqlx::Any`: one SQL text per operation,
//! unix-second integers for time, DDL per dialect in `migrations/`.
//!
//! Store functions are free functions over a `&mut Conn` so the domain decides the
//! transaction boundaries.

pub mod accounts;
pub mod audit;
pub mod bot;
pub mod caller;
pub mod campaign;
pub mod directory;
pub mod history;
pub mod housekeeping;
pub mod inline;
pub mod limits;
pub mod lockout;
pub mod outbox;
pub mod report;
pub mod scim_tokens;
pub mod sessions;
pub mod tokens;

use std::{
    ops::{Deref, DerefMut},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use secrecy::{ExposeSecret, SecretString};
use sqlx::{
    AnyPool, Transaction,
    any::{AnyConnectOptions, AnyPoolOptions},
};

pub use sqlx::{Any, AnyConnection};

/// What store functions run on: an open [`Tx`] or a [`Writer`] dereferences to it, so the caller
/// decides where a transaction begins and ends without naming the driver.
pub type Conn = AnyConnection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database did not answer for as long as the service waits for it.
    #[error("the database does not answer: {0}")]
    Unreachable(String),
    /// A read on the calling thread (`inline`) failed; the caller asks the pool instead.
    #[error("database (read on this thread): {0}")]
    Inline(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Every SQLite connection's settings. The cache: 2 MiB per pooled connection; the default is
/// sized for larger databases.
const SQLITE_PRAGMAS: [&str; 5] = [
    "pragma foreign_keys = on",
    "pragma journal_mode = wal",
    "pragma busy_timeout = 10000",
    "pragma synchronous = normal",
    "pragma cache_size = -2048",
];

/// A pooled PostgreSQL connection idle this long is pinged before it is handed out (a dead one is
/// closed and another taken).
const PING_AFTER_IDLE: Duration = Duration::from_secs(2);

/// How long a request waits for a pooled connection, or on SQLite for the write turn.
const WAIT_FOR_TURN: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// Where writes go: on SQLite a pool of one connection, SQLite's one writer, whose fair
    /// queue is the write turn. Writers queue there in order instead of meeting SQLite's lock
    /// and its busy handler, which sleeps 1, 2, 5 … 100 ms between tries; and the writer's page
    /// cache stays valid, since no other connection changes the file. On PostgreSQL, the pool.
    writer: AnyPool,
    /// SQLite in a file: point reads on the calling thread (`inline`).
    inline: Option<Arc<inline::InlineReads>>,
}

/// A transaction, holding SQLite's write turn until it ends.
pub struct Tx {
    tx: Transaction<'static, Any>,
}

impl Tx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for Tx {
    type Target = Transaction<'static, Any>;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// A connection for writes that need no transaction (each statement commits on its own),
/// holding SQLite's write turn until it is dropped.
pub struct Writer(sqlx::pool::PoolConnection<Any>);

impl Deref for Writer {
    type Target = AnyConnection;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Writer {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Store {
    /// [`Store::connect`], after waiting up to `wait` for a PostgreSQL that does not answer yet
    /// (a service started before its database): one connection is tried, then again after 1,
    /// 2, 4… (at most 15) seconds, each failure logged with its cause. SQLite is a file: no wait.
    pub async fn connect_waiting(url: &SecretString, wait: Duration) -> Result<Self, StoreError> {
        let raw = url.expose_secret();
        if !raw.starts_with("sqlite:") {
            let deadline = tokio::time::Instant::now() + wait;
            let mut pause = Duration::from_secs(1);
            while let Err(cause) = Self::probe(url).await {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Err(StoreError::Unreachable(cause));
                }
                let pause_now = pause.min(deadline - now);
                tracing::warn!(
                    cause = %cause,
                    "the database does not answer; trying again in {} s",
                    pause_now.as_secs().max(1)
                );
                tokio::time::sleep(pause_now).await;
                pause = (pause * 2).min(Duration::from_secs(15));
            }
        }
        Self::connect(url).await
    }

    /// One connection, opened and closed: `Err` says why it could not be (connection refused,
    /// password authentication failed…), which a pool's "timed out" does not.
    pub async fn probe(url: &SecretString) -> Result<(), String> {
        use sqlx::{ConnectOptions, Connection};
        sqlx::any::install_default_drivers();
        let options =
            AnyConnectOptions::from_str(url.expose_secret()).map_err(|e| e.to_string())?;
        match tokio::time::timeout(Duration::from_secs(10), options.connect()).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                Ok(())
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer within 10 s".into()),
        }
    }

    // Long: each database's pool settings side by side, so that they can be compared.
    pub async fn connect(url: &SecretString) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let raw = url.expose_secret();
        let dialect = if raw.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        };
        if dialect == Dialect::Sqlite {
            prepare_sqlite_file(raw).map_err(|e| {
                StoreError::Db(sqlx::Error::Configuration(
                    format!("cannot prepare the SQLite file: {e}").into(),
                ))
            })?;
        }
        let options = AnyConnectOptions::from_str(raw)?;
        if dialect == Dialect::Sqlite {
            // WAL is a property of the file: set it once, before the pool opens connections
            // (switching it takes an exclusive lock that would make concurrent opens fail).
            use sqlx::{ConnectOptions, Connection};
            let mut first = options.connect().await?;
            sqlx::query("pragma journal_mode = wal")
                .execute(&mut first)
                .await?;
            first.close().await?;
        }
        let pool_of = |connections: u32| {
            AnyPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(WAIT_FOR_TURN)
                // sqlx would ping every connection it hands out: on PostgreSQL a network round
                // trip on every acquire (as many as the statements of a short read), on SQLite
                // a hand-off to the connection's thread. A SQLite connection is a file opened
                // in this process: its ping finds nothing a statement would not. A PostgreSQL
                // connection may have been cut (a restart, a proxy's idle timeout): one idle
                // for more than `PING_AFTER_IDLE` is pinged first; one used just now is not.
                .test_before_acquire(false)
                .before_acquire(move |conn, meta| {
                    Box::pin(async move {
                        if dialect == Dialect::Postgres && meta.idle_for >= PING_AFTER_IDLE {
                            use sqlx::Connection;
                            return Ok(conn.ping().await.is_ok());
                        }
                        Ok(true)
                    })
                })
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if dialect == Dialect::Sqlite {
                            for pragma in SQLITE_PRAGMAS {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                        }
                        Ok(())
                    })
                })
        };
        let (pool, writer) = match dialect {
            Dialect::Sqlite => (
                pool_of(8).connect_with(options.clone()).await?,
                pool_of(1).connect_with(options).await?,
            ),
            Dialect::Postgres => {
                let pool = pool_of(16).connect_with(options).await?;
                (pool.clone(), pool)
            }
        };
        let inline = (dialect == Dialect::Sqlite)
            .then(|| inline_file(raw))
            .flatten()
            .map(|file| Arc::new(inline::InlineReads::new(file)));
        Ok(Self {
            pool,
            dialect,
            writer,
            inline,
        })
    }

    /// How many of the service's migrations the database has, of how many there are.
    pub async fn schema_state(&self) -> Result<(usize, usize), StoreError> {
        let known = match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite").iter().count(),
            Dialect::Postgres => sqlx::migrate!("migrations/postgres").iter().count(),
        };
        let applied: i64 =
            sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
                .fetch_one(&self.pool)
                .await
                .unwrap_or(0);
        Ok((usize::try_from(applied).unwrap_or(0), known))
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.dialect {
            Dialect::Sqlite => sqlx::migrate!("migrations/sqlite").run(&self.pool).await?,
            Dialect::Postgres => {
                sqlx::migrate!("migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction; on SQLite, once this instance's earlier writes have ended. The wait for
    /// the turn is bounded like the wait for a connection (`acquire_timeout`), so a stalled
    /// writer makes the others fail rather than queue without end. Never call it (or `write`)
    /// while holding a `Tx` or a `Writer`: the turn is not re-entrant.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(Tx {
            tx: self.writer.begin().await?,
        })
    }

    /// A connection for writes outside a transaction, with SQLite's write turn (see `begin`).
    pub async fn write(&self) -> Result<Writer, StoreError> {
        Ok(Writer(self.writer.acquire().await?))
    }

    /// `read` run on this thread (`inline`), on SQLite in a file; None elsewhere, or when it
    /// failed (logged): then the caller reads through the pool.
    pub fn read_now<R>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<R, StoreError>,
    ) -> Option<R> {
        match self.inline.as_ref()?.read(read) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::debug!(error = %e, "read on this thread failed; through the pool");
                None
            }
        }
    }

    /// A connection for reads (on SQLite, writes here meet the writer's lock: use `write`).
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// The file of a `sqlite:` URL, if it names one.
/// `n` numbered placeholders from `$first`: `$2, $3, $4` for a list of values bound after `$1`
/// (SQLite numbers parameters in the order they appear, so the list follows the others).
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.into())
}

/// The file reads on the calling thread (`inline`) may open: the one sqlx opened, read-write
/// on disk (no `mode=memory` or `ro`, no `vfs`, no `immutable`), as sqlx reads the URL.
fn inline_file(url: &str) -> Option<std::path::PathBuf> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let plain = url::form_urlencoded::parse(query.as_bytes()).all(|(k, v)| match &*k {
        "mode" => v == "rw" || v == "rwc",
        "vfs" | "immutable" => false,
        _ => true,
    });
    let file = options.get_filename();
    (plain && file.is_file()).then(|| file.to_path_buf())
}

/// `sqlite://data/x.db?mode=rwc` creates the file but not its folder. The folder is created
/// 0700 and the file 0600 before SQLite opens it (its WAL and shared-memory files take the
/// database file's mode); a file that exists is made 0600.
fn prepare_sqlite_file(url: &str) -> std::io::Result<()> {
    let Some(file) = sqlite_file(url) else {
        return Ok(());
    };
    if let Some(parent) = file.parent() {
        crate::at_rest::private_dir(parent)?;
    }
    if url.contains("mode=rwc") {
        crate::at_rest::create_private_file(&file)?;
    }
    if file.exists() {
        crate::at_rest::private_file(&file)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = file.clone().into_os_string();
            side.push(suffix);
            if std::path::Path::new(&side).exists() {
                crate::at_rest::private_file(std::path::Path::new(&side))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::inline_file;

    #[test]
    fn reads_on_the_calling_thread_open_only_a_plain_file_on_disk() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("x.db");
        std::fs::write(&file, b"").expect("file");
        let url = |q: &str| format!("sqlite://{}{q}", file.display());
        assert_eq!(inline_file(&url("")), Some(file.clone()));
        assert_eq!(inline_file(&url("?mode=rwc")), Some(file.clone()));
        for q in ["?mode=memory", "?mode=ro", "?vfs=unix-none", "?immutable=1"] {
            assert_eq!(inline_file(&url(q)), None, "{q}");
        }
        assert_eq!(inline_file("sqlite::memory:"), None);
        assert_eq!(
            inline_file(&format!("sqlite://{}/missing.db", dir.path().display())),
            None
        );
    }
}
