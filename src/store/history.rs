//! What happened to one account, for the service desk's status card: its links, the mail sent
//! to its address, and its audit rows. Read-only, except `mark_opened`.

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;

/// A link of the account (never its hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkRow {
    pub purpose: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub opened_at: Option<UnixTime>,
    pub used_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
    pub revoked_reason: Option<String>,
}

/// The account's newest `limit` links, newest first.
pub async fn links(
    conn: &mut AnyConnection,
    account_id: &str,
    limit: i64,
) -> Result<Vec<LinkRow>, StoreError> {
    Ok(sqlx::query_as::<_, LinkRow>(
        "select purpose, created_at, expires_at, opened_at, used_at, revoked_at, revoked_reason \
         from reset_token where account_id = $1 order by created_at desc, token_id limit $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// A mail to the account's address, as the outbox knows it (no payload, no relay text: the
/// relay's words may quote the address).
#[derive(Debug, Clone)]
pub struct MailRow {
    pub template: String,
    pub created_at: UnixTime,
    pub attempts: i64,
    pub sent_at: Option<UnixTime>,
    pub dead_at: Option<UnixTime>,
    /// An attempt failed (the row is retried, or dead).
    pub failed: bool,
}

/// A [`MailRow`] as selected: `failed` is a 0/1 integer (one SQL text for both databases; the
/// `Any` driver decodes a bool only from a boolean column).
#[derive(sqlx::FromRow)]
struct RawMailRow {
    template: String,
    created_at: UnixTime,
    attempts: i64,
    sent_at: Option<UnixTime>,
    dead_at: Option<UnixTime>,
    failed: i64,
}

impl From<RawMailRow> for MailRow {
    fn from(r: RawMailRow) -> Self {
        MailRow {
            template: r.template,
            created_at: r.created_at,
            attempts: r.attempts,
            sent_at: r.sent_at,
            dead_at: r.dead_at,
            failed: r.failed != 0,
        }
    }
}

/// The newest `limit` mails of the organisation to `recipient`, newest first.
pub async fn mails(
    conn: &mut AnyConnection,
    tenant_id: &str,
    recipient: &str,
    limit: i64,
) -> Result<Vec<MailRow>, StoreError> {
    let rows = sqlx::query_as::<_, RawMailRow>(
        "select template, created_at, attempts, sent_at, dead_at, \
         cast(case when last_error is null then 0 else 1 end as bigint) as failed \
         from outbox where tenant_id = $1 and lower(recipient) = lower($2) \
         order by created_at desc, outbox_id limit $3",
    )
    .bind(tenant_id)
    .bind(recipient)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(MailRow::from).collect())
}

/// An audit row of the account: when, what, and who asked (the client key).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub occurred_at: UnixTime,
    pub event: String,
    pub client: Option<String>,
    pub detail: Option<String>,
}

/// The account's newest `limit` audit rows, newest first.
pub async fn recent(
    conn: &mut AnyConnection,
    account_id: &str,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    Ok(sqlx::query_as(
        "select occurred_at, event, client, detail from audit_event \
         where account_id = $1 order by audit_id desc limit $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The account's newest `limit` audit rows among `events`, newest first.
pub async fn events(
    conn: &mut AnyConnection,
    account_id: &str,
    events: &[&str],
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    // One placeholder per event name: the list is ours, the values are bound. Numbered in the
    // order they appear (SQLite numbers named parameters that way).
    let names = super::placeholders(2, events.len());
    let sql = format!(
        "select occurred_at, event, client, detail from audit_event \
         where account_id = $1 and event in ({names}) order by audit_id desc limit ${}",
        events.len() + 2
    );
    let mut query = sqlx::query_as(&sql).bind(account_id);
    for e in events {
        query = query.bind(*e);
    }
    Ok(query.bind(limit).fetch_all(conn).await?)
}

/// When `event` last happened to the account.
pub async fn last(
    conn: &mut AnyConnection,
    account_id: &str,
    event: &str,
) -> Result<Option<UnixTime>, StoreError> {
    Ok(sqlx::query_scalar(
        "select max(occurred_at) from audit_event where account_id = $1 and event = $2",
    )
    .bind(account_id)
    .bind(event)
    .fetch_one(conn)
    .await?)
}

/// Notes the first time the page behind the link was opened.
pub async fn mark_opened(
    conn: &mut AnyConnection,
    token_id: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query("update reset_token set opened_at = $1 where token_id = $2 and opened_at is null")
        .bind(now)
        .bind(token_id)
        .execute(conn)
        .await?;
    Ok(())
}
