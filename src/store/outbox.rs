//! The durable mail outbox. Rows are retried with backoff, never deleted on failure; the
//! encrypted payload is erased once sent, and once dead-lettered (refused for good, or out of
//! attempts: never claimed again).
//!
//! Claiming differs by dialect. SQLite (one instance) claims a batch with a lease (`claim`).
//! PostgreSQL (several instances) locks one row at a time with `FOR UPDATE SKIP LOCKED` inside
//! the transaction that sends it and records the outcome (`claim_locked`): no lease that could
//! run out mid-send, and a killed instance's locks end with its session.

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;

pub struct NewMail<'a> {
    pub outbox_id: &'a str,
    pub template: &'a str,
    pub recipient: &'a str,
    pub locale: &'a str,
    pub tenant_id: &'a str,
    pub payload: &'a [u8],
    pub message_id: &'a str,
    pub now: UnixTime,
}

/// A claimed row, as `claim` and `claim_locked` return it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedMail {
    pub outbox_id: String,
    pub template: String,
    pub recipient: String,
    pub locale: String,
    pub tenant_id: String,
    pub payload: Option<Vec<u8>>,
    pub message_id: String,
    pub attempts: i64,
    /// When it was queued.
    pub created_at: UnixTime,
}

pub async fn insert(conn: &mut AnyConnection, m: &NewMail<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "insert into outbox (outbox_id, template, recipient, locale, tenant_id, payload, message_id, \
         created_at, next_attempt_at, attempts) values ($1, $2, $3, $4, $5, $6, $7, $8, $8, 0)",
    )
    .bind(m.outbox_id)
    .bind(m.template)
    .bind(m.recipient)
    .bind(m.locale)
    .bind(m.tenant_id)
    .bind(m.payload.to_vec())
    .bind(m.message_id)
    .bind(m.now)
    .execute(conn)
    .await?;
    Ok(())
}

/// `insert`, only if `account_id` names an account; `false` when nothing was written. The same
/// statement runs whether or not it does.
pub async fn insert_for_account(
    conn: &mut AnyConnection,
    m: &NewMail<'_>,
    account_id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "insert into outbox (outbox_id, template, recipient, locale, tenant_id, payload, message_id, \
         created_at, next_attempt_at, attempts) select $1, $2, $3, $4, $5, $6, $7, $8, $8, 0 \
         where exists (select 1 from account where account_id = $9 and disabled_at is null)",
    )
    .bind(m.outbox_id)
    .bind(m.template)
    .bind(m.recipient)
    .bind(m.locale)
    .bind(m.tenant_id)
    .bind(m.payload.to_vec())
    .bind(m.message_id)
    .bind(m.now)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// SQLite: claims up to `limit` due rows for `lease_secs`. The outer condition is repeated so
/// that two claimers racing cannot both take a row.
pub async fn claim(
    conn: &mut AnyConnection,
    now: UnixTime,
    lease_secs: i64,
    limit: i64,
) -> Result<Vec<ClaimedMail>, StoreError> {
    Ok(sqlx::query_as::<_, ClaimedMail>(
        "update outbox set lease_until = $1, attempts = attempts + 1 \
         where outbox_id in (select outbox_id from outbox where sent_at is null and dead_at is null \
                             and next_attempt_at <= $2 \
                             and (lease_until is null or lease_until < $2) order by next_attempt_at limit $3) \
         and sent_at is null and dead_at is null and (lease_until is null or lease_until < $2) \
         returning outbox_id, template, recipient, locale, tenant_id, payload, message_id, attempts, created_at",
    )
    .bind(now + lease_secs)
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// PostgreSQL: locks up to `limit` due rows for the caller's transaction and counts their
/// attempt. Rows locked by another instance's open transaction are passed over, not waited for;
/// the locks hold until the caller commits (with the outcomes) or its session ends (a crash).
pub async fn claim_locked(
    conn: &mut AnyConnection,
    now: UnixTime,
    limit: i64,
) -> Result<Vec<ClaimedMail>, StoreError> {
    Ok(sqlx::query_as::<_, ClaimedMail>(
        "update outbox set attempts = attempts + 1 \
         where outbox_id in (select outbox_id from outbox where sent_at is null and dead_at is null \
                             and next_attempt_at <= $1 order by next_attempt_at limit $2 \
                             for update skip locked) \
         returning outbox_id, template, recipient, locale, tenant_id, payload, message_id, attempts, created_at",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Marks rows sent (their payload, the sealed link, erased), in one statement.
pub async fn mark_all_sent(
    conn: &mut AnyConnection,
    outbox_ids: &[&str],
    now: UnixTime,
) -> Result<(), StoreError> {
    if outbox_ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "update outbox set sent_at = $1, payload = null, lease_until = null, last_error = null \
         where outbox_id in ({})",
        super::placeholders(2, outbox_ids.len())
    );
    let mut query = sqlx::query(&sql).bind(now);
    for id in outbox_ids {
        query = query.bind(*id);
    }
    query.execute(conn).await?;
    Ok(())
}

pub async fn mark_failed(
    conn: &mut AnyConnection,
    outbox_id: &str,
    next_attempt_at: UnixTime,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query("update outbox set next_attempt_at = $1, lease_until = null, last_error = $2 where outbox_id = $3")
        .bind(next_attempt_at)
        .bind(error)
        .bind(outbox_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives up on a mail: kept for tracing with its last error, its payload (the link) erased, never
/// claimed again.
pub async fn mark_dead(
    conn: &mut AnyConnection,
    outbox_id: &str,
    now: UnixTime,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "update outbox set dead_at = $1, payload = null, lease_until = null, last_error = $2 \
         where outbox_id = $3 and sent_at is null",
    )
    .bind(now)
    .bind(error)
    .bind(outbox_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// A link mail held back because its link expired first: a dead letter marked expired (its
/// payload erased, never claimed again; `mail retry` issues a fresh link).
pub async fn mark_expired(
    conn: &mut AnyConnection,
    outbox_id: &str,
    now: UnixTime,
    why: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update outbox set dead_at = $1, expired_at = $1, payload = null, lease_until = null, \
         last_error = $2 where outbox_id = $3 and sent_at is null and dead_at is null",
    )
    .bind(now)
    .bind(why)
    .bind(outbox_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Rows not yet sent, and the earliest next attempt among them.
pub async fn pending(conn: &mut AnyConnection) -> Result<(i64, Option<UnixTime>), StoreError> {
    Ok(sqlx::query_as::<_, (i64, Option<UnixTime>)>(
        "select count(*) as n, min(next_attempt_at) as next from outbox \
         where sent_at is null and dead_at is null",
    )
    .fetch_one(conn)
    .await?)
}

/// An outbox row as the operator sees it (`octopus-teams mail list`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailSummary {
    pub outbox_id: String,
    pub template: String,
    pub recipient: String,
    /// Whose mail: its time is shown in that organisation's zone.
    pub tenant_id: String,
    pub created_at: UnixTime,
    pub attempts: i64,
    pub sent_at: Option<UnixTime>,
    pub dead_at: Option<UnixTime>,
    /// Held back because its link expired first (also a dead letter).
    pub expired_at: Option<UnixTime>,
    pub last_error: Option<String>,
}

/// The newest `limit` rows, or only the dead letters.
pub async fn list(
    conn: &mut AnyConnection,
    dead_only: bool,
    limit: i64,
) -> Result<Vec<MailSummary>, StoreError> {
    Ok(sqlx::query_as::<_, MailSummary>(
        "select outbox_id, template, recipient, tenant_id, created_at, attempts, sent_at, dead_at, \
         expired_at, last_error \
         from outbox where ($1 = 0 or dead_at is not null) order by created_at desc limit $2",
    )
    .bind(i64::from(dead_only))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// What the metrics report about the outbox: rows still to send (dead letters apart) and the
/// age of the oldest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingStats {
    pub pending: i64,
    pub oldest_age_secs: i64,
}

pub async fn pending_stats(
    conn: &mut AnyConnection,
    now: UnixTime,
) -> Result<PendingStats, StoreError> {
    let (pending, oldest) = sqlx::query_as::<_, (i64, Option<UnixTime>)>(
        "select count(*) as n, min(created_at) as oldest from outbox where sent_at is null and dead_at is null",
    )
    .fetch_one(conn)
    .await?;
    Ok(PendingStats {
        pending,
        oldest_age_secs: oldest.map_or(0, |t| (now - t).max(0)),
    })
}

/// A dead letter, as `mail retry` needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeadLetter {
    pub template: String,
    pub recipient: String,
    pub locale: String,
    pub tenant_id: String,
}

/// The dead-lettered row `outbox_id`, or None when there is no such row or it is not dead.
pub async fn dead_letter(
    conn: &mut AnyConnection,
    outbox_id: &str,
) -> Result<Option<DeadLetter>, StoreError> {
    Ok(sqlx::query_as::<_, DeadLetter>(
        "select template, recipient, locale, tenant_id from outbox \
         where outbox_id = $1 and dead_at is not null",
    )
    .bind(outbox_id)
    .fetch_optional(conn)
    .await?)
}
