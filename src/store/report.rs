//! What the activity report counts: audit events, links and never-enrolled accounts of one
//! organisation over a window. Aggregated in SQL (one text for both databases).

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;

/// `count` rows of `event` in the window for the account `username` (None: no account).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventCount {
    pub event: String,
    pub username: Option<String>,
    #[sqlx(rename = "n")]
    pub count: i64,
}

/// Audit events of the organisation with `since <= occurred_at <= until`, per event and account.
pub async fn events(
    conn: &mut AnyConnection,
    tenant_id: &str,
    since: UnixTime,
    until: UnixTime,
) -> Result<Vec<EventCount>, StoreError> {
    Ok(sqlx::query_as::<_, EventCount>(
        "select e.event, a.username, count(*) as n from audit_event e \
         left join account a on a.account_id = e.account_id \
         where e.tenant_id = $1 and e.occurred_at >= $2 and e.occurred_at <= $3 \
         group by e.event, a.username order by e.event, a.username",
    )
    .bind(tenant_id)
    .bind(since)
    .bind(until)
    .fetch_all(conn)
    .await?)
}

/// Links used in the window, and links that expired in it unused and not revoked, per account:
/// `(username, used, expired)`.
pub async fn links(
    conn: &mut AnyConnection,
    tenant_id: &str,
    since: UnixTime,
    until: UnixTime,
) -> Result<Vec<(String, i64, i64)>, StoreError> {
    Ok(sqlx::query_as::<_, (String, i64, i64)>(
        "select a.username, \
         sum(case when t.used_at >= $2 and t.used_at <= $3 then 1 else 0 end) as used, \
         sum(case when t.used_at is null and t.revoked_at is null \
                   and t.expires_at >= $2 and t.expires_at <= $3 then 1 else 0 end) as expired \
         from reset_token t join account a on a.account_id = t.account_id \
         where a.tenant_id = $1 \
         group by a.username order by a.username",
    )
    .bind(tenant_id)
    .bind(since)
    .bind(until)
    .fetch_all(conn)
    .await?)
}

/// The organisation's accounts that never set a password, by username.
pub async fn never_enrolled(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "select username from account where tenant_id = $1 and password_hash is null \
         and disabled_at is null order by username",
    )
    .bind(tenant_id)
    .fetch_all(conn)
    .await?)
}
