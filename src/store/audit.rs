//! The audit trail: what happened, never a secret.

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub occurred_at: UnixTime,
    pub tenant_id: Option<String>,
    pub account_id: Option<String>,
    pub event: String,
    pub client: Option<String>,
    pub detail: Option<String>,
}

pub async fn insert(conn: &mut AnyConnection, row: &AuditRow) -> Result<(), StoreError> {
    sqlx::query(
        "insert into audit_event (occurred_at, tenant_id, account_id, event, client, detail) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(row.occurred_at)
    .bind(&row.tenant_id)
    .bind(&row.account_id)
    .bind(&row.event)
    .bind(&row.client)
    .bind(&row.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// `insert` for several rows, in one statement.
pub async fn insert_many(conn: &mut AnyConnection, rows: &[AuditRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..rows.len())
        .map(|i| format!("({})", super::placeholders(i * 6 + 1, 6)))
        .collect();
    let sql = format!(
        "insert into audit_event (occurred_at, tenant_id, account_id, event, client, detail) \
         values {}",
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for row in rows {
        query = query
            .bind(row.occurred_at)
            .bind(&row.tenant_id)
            .bind(&row.account_id)
            .bind(&row.event)
            .bind(&row.client)
            .bind(&row.detail);
    }
    query.execute(conn).await?;
    Ok(())
}

/// The most recent events first, optionally for one account.
pub async fn recent(
    conn: &mut AnyConnection,
    account_id: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    Ok(sqlx::query_as::<_, AuditRow>(
        "select occurred_at, tenant_id, account_id, event, client, detail from audit_event \
         where ($1 = '' or account_id = $1) order by audit_id desc limit $2",
    )
    .bind(account_id.unwrap_or(""))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Deletes one organisation's rows older than `before`; rows of no organisation go with
/// `tenant_id = None`. Idempotent: several instances may run it at once.
pub async fn prune(
    conn: &mut AnyConnection,
    tenant_id: Option<&str>,
    before: UnixTime,
) -> Result<u64, StoreError> {
    let done = match tenant_id {
        Some(t) => {
            sqlx::query("delete from audit_event where tenant_id = $1 and occurred_at < $2")
                .bind(t)
                .bind(before)
                .execute(conn)
                .await?
        }
        None => {
            sqlx::query("delete from audit_event where tenant_id is null and occurred_at < $1")
                .bind(before)
                .execute(conn)
                .await?
        }
    };
    Ok(done.rows_affected())
}
