//! Login sessions (hash of the cookie value only).

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;

use crate::model::{AccountId, TokenHash};

pub async fn insert(
    conn: &mut AnyConnection,
    hash: &TokenHash,
    account: &AccountId,
    persistent: bool,
    now: UnixTime,
    expires_at: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into login_session (session_hash, account_id, persistent, created_at, expires_at) \
         values ($1, $2, $3, $4, $5)",
    )
    .bind(hash.0.to_vec())
    .bind(&account.0)
    .bind(i64::from(persistent))
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn account_of(
    conn: &mut AnyConnection,
    hash: &TokenHash,
    now: UnixTime,
) -> Result<Option<AccountId>, StoreError> {
    let id: Option<String> = sqlx::query_scalar(
        "select account_id from login_session where session_hash = $1 and expires_at > $2",
    )
    .bind(hash.0.to_vec())
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(id.map(AccountId))
}

pub async fn delete(conn: &mut AnyConnection, hash: &TokenHash) -> Result<(), StoreError> {
    sqlx::query("delete from login_session where session_hash = $1")
        .bind(hash.0.to_vec())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_for_account(
    conn: &mut AnyConnection,
    account: &AccountId,
) -> Result<u64, StoreError> {
    let done = sqlx::query("delete from login_session where account_id = $1")
        .bind(&account.0)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
