//! The service desk's caller checks (`caller_check`): one row per code sent to an account's
//! owner, its wrong tries, and whether it was confirmed or denied.

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;

/// A check as stored; the code itself is never stored, only its HMAC.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckRow {
    pub id: String,
    pub tenant_id: String,
    pub account_id: String,
    pub agent_object_id: String,
    pub agent_name: String,
    pub code_hash: String,
    /// `teams` or `mail`.
    pub sent_by: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub tries: i64,
    pub confirmed_at: Option<UnixTime>,
    pub denied_at: Option<UnixTime>,
}

const COLUMNS: &str = "id, tenant_id, account_id, agent_object_id, agent_name, \
    code_hash, sent_by, created_at, expires_at, tries, confirmed_at, denied_at";

pub async fn insert(conn: &mut AnyConnection, c: &CheckRow) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "insert into caller_check ({COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&c.id)
    .bind(&c.tenant_id)
    .bind(&c.account_id)
    .bind(&c.agent_object_id)
    .bind(&c.agent_name)
    .bind(&c.code_hash)
    .bind(&c.sent_by)
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(c.tries)
    .bind(c.confirmed_at)
    .bind(c.denied_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<CheckRow>, StoreError> {
    Ok(
        sqlx::query_as(&format!("select {COLUMNS} from caller_check where id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Ends the agent's earlier checks of the account (a new code replaces them): their codes no
/// longer work, and the newest check is the one with the latest expiry.
pub async fn retire(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_id: &str,
    agent_object_id: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "update caller_check set expires_at = $4 where tenant_id = $1 and account_id = $2 \
         and agent_object_id = $3 and expires_at > $4",
    )
    .bind(tenant_id)
    .bind(account_id)
    .bind(agent_object_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest check of this agent for this account.
pub async fn latest(
    conn: &mut AnyConnection,
    tenant_id: &str,
    account_id: &str,
    agent_object_id: &str,
) -> Result<Option<CheckRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from caller_check where tenant_id = $1 and account_id = $2 \
         and agent_object_id = $3 order by expires_at desc, created_at desc limit 1"
    ))
    .bind(tenant_id)
    .bind(account_id)
    .bind(agent_object_id)
    .fetch_optional(conn)
    .await?)
}

/// Takes one try of an open check before its code is compared: the tries now, `None` if the
/// check is not open or out of tries. One statement, so concurrent guesses each use a try.
pub async fn take_try(
    conn: &mut AnyConnection,
    id: &str,
    now: UnixTime,
    max_tries: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "update caller_check set tries = tries + 1 where id = $1 and confirmed_at is null \
         and denied_at is null and expires_at > $2 and tries < $3 returning tries",
    )
    .bind(id)
    .bind(now)
    .bind(max_tries)
    .fetch_optional(conn)
    .await?)
}

/// Confirms a check whose try was taken with the right code; false when it was confirmed or
/// denied meanwhile: a code works once.
pub async fn confirm(
    conn: &mut AnyConnection,
    id: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update caller_check set confirmed_at = $2 where id = $1 and confirmed_at is null \
         and denied_at is null",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The owner's « Je n'ai pas appelé »: the check ends, confirmed or not. False when it was
/// already denied.
pub async fn deny(conn: &mut AnyConnection, id: &str, now: UnixTime) -> Result<bool, StoreError> {
    let done =
        sqlx::query("update caller_check set denied_at = $2 where id = $1 and denied_at is null")
            .bind(id)
            .bind(now)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// A check sent by Teams that could not be posted there, mailed instead.
pub async fn set_sent_by(
    conn: &mut AnyConnection,
    id: &str,
    sent_by: &str,
) -> Result<(), StoreError> {
    sqlx::query("update caller_check set sent_by = $2 where id = $1")
        .bind(id)
        .bind(sent_by)
        .execute(conn)
        .await?;
    Ok(())
}
