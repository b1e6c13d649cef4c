//! SCIM provisioning tokens, by their SHA-256.

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;
use crate::model::TokenHash;

/// The organisation whose live token this is.
pub async fn tenant_of(
    conn: &mut AnyConnection,
    hash: &TokenHash,
    now: UnixTime,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "select tenant_id from scim_token where token_hash = $1 \
         and (expires_at is null or expires_at > $2)",
    )
    .bind(hash.0.to_vec())
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// How many tokens of the organisation work now.
pub async fn live(
    conn: &mut AnyConnection,
    tenant_id: &str,
    now: UnixTime,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "select count(*) from scim_token where tenant_id = $1 \
         and (expires_at is null or expires_at > $2)",
    )
    .bind(tenant_id)
    .bind(now)
    .fetch_one(conn)
    .await?)
}

/// Ends the organisation's tokens at `until` (now: at once), except those ending sooner.
pub async fn expire_all(
    conn: &mut AnyConnection,
    tenant_id: &str,
    until: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "update scim_token set expires_at = $2 where tenant_id = $1 \
         and (expires_at is null or expires_at > $2)",
    )
    .bind(tenant_id)
    .bind(until)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert(
    conn: &mut AnyConnection,
    tenant_id: &str,
    hash: &TokenHash,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query("insert into scim_token (token_hash, tenant_id, created_at) values ($1, $2, $3)")
        .bind(hash.0.to_vec())
        .bind(tenant_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets tokens that ended before `before`.
pub async fn purge(conn: &mut AnyConnection, before: UnixTime) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("delete from scim_token where expires_at is not null and expires_at < $1")
            .bind(before)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
