//! Reset / enrolment tokens (hash only).

use crate::model::Revoked;
use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;

use crate::model::{AccountId, Purpose, TokenHash};

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub token_id: String,
    pub account_id: AccountId,
    pub purpose: Purpose,
    pub locale: String,
    pub expires_at: UnixTime,
    pub used_at: Option<UnixTime>,
    pub revoked_at: Option<UnixTime>,
    pub revoked_reason: Option<String>,
}

/// A [`TokenRow`] as stored: the account id and the purpose as their text.
#[derive(sqlx::FromRow)]
struct RawTokenRow {
    token_id: String,
    account_id: String,
    purpose: String,
    locale: String,
    expires_at: UnixTime,
    used_at: Option<UnixTime>,
    revoked_at: Option<UnixTime>,
    revoked_reason: Option<String>,
}

impl TryFrom<RawTokenRow> for TokenRow {
    type Error = StoreError;

    fn try_from(r: RawTokenRow) -> Result<Self, StoreError> {
        Ok(TokenRow {
            token_id: r.token_id,
            account_id: AccountId(r.account_id),
            purpose: Purpose::parse(&r.purpose)
                .ok_or_else(|| StoreError::Corrupt("reset_token.purpose".into()))?,
            locale: r.locale,
            expires_at: r.expires_at,
            used_at: r.used_at,
            revoked_at: r.revoked_at,
            revoked_reason: r.revoked_reason,
        })
    }
}

pub struct NewToken<'a> {
    pub token_id: &'a str,
    pub hash: &'a TokenHash,
    pub account_id: &'a AccountId,
    pub purpose: Purpose,
    pub locale: &'a str,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

/// Stores a new link, only if its account exists; `false` when nothing was written. A request
/// for an unknown account runs this same statement (with an id that matches nothing), so the
/// work done says nothing about which accounts exist.
pub async fn insert(conn: &mut AnyConnection, t: &NewToken<'_>) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "insert into reset_token (token_id, token_hash, account_id, purpose, locale, created_at, expires_at) \
         select $1, $2, $3, $4, $5, $6, $7 where exists (select 1 from account where account_id = $3 \
         and disabled_at is null)",
    )
    .bind(t.token_id)
    .bind(t.hash.0.to_vec())
    .bind(&t.account_id.0)
    .bind(t.purpose.as_str())
    .bind(t.locale)
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn by_hash(
    conn: &mut AnyConnection,
    hash: &TokenHash,
) -> Result<Option<TokenRow>, StoreError> {
    let row = sqlx::query_as::<_, RawTokenRow>(
        "select token_id, account_id, purpose, locale, expires_at, used_at, revoked_at, revoked_reason \
         from reset_token where token_hash = $1",
    )
    .bind(hash.0.to_vec())
    .fetch_optional(conn)
    .await?;
    row.map(TokenRow::try_from).transpose()
}

/// Marks the token used if, and only if, it is still usable. Of two concurrent calls exactly one
/// gets the account back: SQLite serialises writers, PostgreSQL re-checks the condition under the
/// row lock.
pub async fn consume(
    conn: &mut AnyConnection,
    hash: &TokenHash,
    now: UnixTime,
) -> Result<Option<AccountId>, StoreError> {
    let id: Option<String> = sqlx::query_scalar(
        "update reset_token set used_at = $1 \
         where token_hash = $2 and used_at is null and revoked_at is null and expires_at > $1 \
         returning account_id",
    )
    .bind(now)
    .bind(hash.0.to_vec())
    .fetch_optional(conn)
    .await?;
    Ok(id.map(AccountId))
}

/// Revokes every still-active token of the account; returns their ids.
pub async fn revoke_active(
    conn: &mut AnyConnection,
    account: &AccountId,
    now: UnixTime,
    reason: Revoked,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "update reset_token set revoked_at = $1, revoked_reason = $2 \
         where account_id = $3 and used_at is null and revoked_at is null returning token_id",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(&account.0)
    .fetch_all(conn)
    .await?)
}

/// Revokes one token by its id if still active, only for the given account.
pub async fn revoke_by_id(
    conn: &mut AnyConnection,
    token_id: &str,
    account: &AccountId,
    now: UnixTime,
    reason: Revoked,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update reset_token set revoked_at = $1, revoked_reason = $2 \
         where token_id = $3 and account_id = $4 and used_at is null and revoked_at is null and expires_at > $1",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(token_id)
    .bind(&account.0)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes the link `token_id` whose mail could not be sent in time ([`Revoked::Undelivered`]), if it is
/// still active: nobody has it, and nobody should get it later. `false`: it was not active.
pub async fn revoke_undelivered(
    conn: &mut AnyConnection,
    token_id: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update reset_token set revoked_at = $1, revoked_reason = $2 \
         where token_id = $3 and used_at is null and revoked_at is null",
    )
    .bind(now)
    .bind(Revoked::Undelivered.as_str())
    .bind(token_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the link `token_id` can still be used at `now` (not used, revoked, nor expired).
pub async fn is_usable(
    conn: &mut AnyConnection,
    token_id: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "select count(*) from reset_token where token_id = $1 and used_at is null \
         and revoked_at is null and expires_at > $2",
    )
    .bind(token_id)
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Those of `token_ids` that `is_usable`, in one statement.
pub async fn usable_among(
    conn: &mut AnyConnection,
    token_ids: &[&str],
    now: UnixTime,
) -> Result<std::collections::HashSet<String>, StoreError> {
    if token_ids.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    let sql = format!(
        "select token_id from reset_token where used_at is null and revoked_at is null \
         and expires_at > $1 and token_id in ({})",
        super::placeholders(2, token_ids.len())
    );
    let mut query = sqlx::query_scalar::<_, String>(&sql).bind(now);
    for id in token_ids {
        query = query.bind(*id);
    }
    Ok(query.fetch_all(conn).await?.into_iter().collect())
}

/// The account and tenant of a token id (for a cancel from Teams).
pub async fn account_of(
    conn: &mut AnyConnection,
    token_id: &str,
) -> Result<Option<AccountId>, StoreError> {
    let id: Option<String> =
        sqlx::query_scalar("select account_id from reset_token where token_id = $1")
            .bind(token_id)
            .fetch_optional(conn)
            .await?;
    Ok(id.map(AccountId))
}

/// Revokes one token if still active ("Ce n'était pas moi"); returns its account.
pub async fn revoke_one(
    conn: &mut AnyConnection,
    hash: &TokenHash,
    now: UnixTime,
    reason: Revoked,
) -> Result<Option<AccountId>, StoreError> {
    let id: Option<String> = sqlx::query_scalar(
        "update reset_token set revoked_at = $1, revoked_reason = $2 \
         where token_hash = $3 and used_at is null and revoked_at is null and expires_at > $1 \
         returning account_id",
    )
    .bind(now)
    .bind(reason.as_str())
    .bind(hash.0.to_vec())
    .fetch_optional(conn)
    .await?;
    Ok(id.map(AccountId))
}
