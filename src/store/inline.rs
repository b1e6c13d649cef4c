//! Point reads on SQLite, run on the calling thread.
//!
//! Through sqlx, every statement on SQLite is a hand-off to the connection's own thread and back
//! (a command on a channel, a thread woken, rows sent back), mostly thread switches, for a
//! look-up SQLite answers in a few microseconds. The bot's form prefill runs two such look-ups
//! for every click, and the hand-offs were most of an `invoke`'s CPU (BENCHMARKS.md). Here the same statements run on the async
//! worker itself, on connections of their own, opened on the same file (the same SQLite library
//! as sqlx's). Only short reads of one row by an index belong here: anything longer would hold
//! the worker.
//!
//! Reads see the last committed state, as through the pool (WAL: readers never wait for the
//! writer). A read that fails here (the file not openable, a rare `SQLITE_BUSY` while the WAL is
//! recovered: no waiting here) is the caller's cue to ask the pool instead.

use std::{
    path::PathBuf,
    sync::Mutex,
    time::{Duration, Instant},
};

use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// How long reads go through the pool after the file could not be opened.
const OFF_AFTER_FAILED_OPEN: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct InlineReads {
    file: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Connections kept between reads: one per async worker, since a read never waits.
    kept: usize,
    /// The file could not be opened: reads go through the pool until then.
    off_until: Mutex<Option<Instant>>,
}

impl InlineReads {
    pub fn new(file: PathBuf) -> Self {
        Self {
            file,
            idle: Mutex::default(),
            kept: std::thread::available_parallelism().map_or(2, usize::from),
            off_until: Mutex::default(),
        }
    }

    /// Runs `read` on a connection of this file, on this thread.
    pub fn read<R>(
        &self,
        read: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let off = *self.off_until.lock().unwrap_or_else(|p| p.into_inner());
        if off.is_some_and(|until| Instant::now() < until) {
            return Err(StoreError::Inline("the file could not be opened".into()));
        }
        let kept = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match kept {
            Some(c) => c,
            None => self.open().inspect_err(|e| {
                tracing::warn!(error = %e, "the database file could not be opened again: reads go through the pool for a minute");
                *self.off_until.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(Instant::now() + OFF_AFTER_FAILED_OPEN);
            })?,
        };
        let result = read(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.kept {
            idle.push(conn);
        }
        result
    }

    fn open(&self) -> Result<Connection, StoreError> {
        // Read-write without create: a read-only connection to a WAL file needs its
        // shared-memory file writable all the same. Nothing here writes.
        let conn = Connection::open_with_flags(
            &self.file,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Never wait on the async worker: a read that meets a lock (only while SQLite recovers
        // a WAL) is answered through the pool instead.
        conn.busy_timeout(Duration::ZERO)?;
        // A small cache: these reads touch a few pages of two indexes.
        conn.pragma_update(None, "cache_size", -256)?;
        Ok(conn)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Inline(e.to_string())
    }
}
