//! Deletes of what is no longer needed, in small batches (short transactions, no long locks).
//! Each is idempotent: instances running them at the same time only find less to delete.

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;

/// One pruning job: rows of `table` (key `key`) matching `condition`, where `$1` is a cutoff.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    pub name: &'static str,
    pub table: &'static str,
    pub key: &'static str,
    pub condition: &'static str,
}

/// Links used, revoked or expired before the cutoff.
pub const TOKENS: Job = Job {
    name: "tokens",
    table: "reset_token",
    key: "token_id",
    condition: "coalesce(used_at, revoked_at, expires_at) < $1 or expires_at < $1",
};
/// Login sessions that ended before the cutoff.
pub const SESSIONS: Job = Job {
    name: "sessions",
    table: "login_session",
    key: "session_hash",
    condition: "expires_at < $1",
};
/// Mail sent before the cutoff (its payload was erased at sending; the row is for tracing).
pub const SENT_MAIL: Job = Job {
    name: "sent_mail",
    table: "outbox",
    key: "outbox_id",
    condition: "sent_at < $1",
};
/// Dead letters older than the cutoff that no operator acted on.
pub const DEAD_MAIL: Job = Job {
    name: "dead_mail",
    table: "outbox",
    key: "outbox_id",
    condition: "dead_at < $1",
};
/// Handled bot activity keys (Teams redelivers within minutes).
pub const ACTIVITIES: Job = Job {
    name: "bot_activities",
    table: "processed_activity",
    key: "activity_key",
    condition: "created_at < $1",
};
/// The service desk's caller checks (codes live 10 minutes, the hourly cap reads an hour).
pub const CALLER_CHECKS: Job = Job {
    name: "caller_checks",
    table: "caller_check",
    key: "id",
    condition: "created_at < $1",
};
/// Deletes up to `batch` rows of `job` older than `cutoff`; returns how many went.
pub async fn prune_batch(
    conn: &mut AnyConnection,
    job: Job,
    cutoff: UnixTime,
    batch: i64,
) -> Result<u64, StoreError> {
    let Job {
        table,
        key,
        condition,
        ..
    } = job;
    let done = sqlx::query(&format!(
        "delete from {table} where {key} in \
         (select {key} from {table} where {condition} limit $2)"
    ))
    .bind(cutoff)
    .bind(batch)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
