//! Fixed-window counters shared by every instance through the database.

use sqlx::AnyConnection;

use super::StoreError;

/// Counts one hit in `bucket` for the window starting at `window_start`; returns the count.
pub async fn hit(
    conn: &mut AnyConnection,
    bucket: &str,
    window_start: i64,
) -> Result<u32, StoreError> {
    let hits: i64 = sqlx::query_scalar(
        "insert into rate_limit (bucket, window_start, hits) values ($1, $2, 1) \
         on conflict (bucket, window_start) do update set hits = rate_limit.hits + 1 \
         returning hits",
    )
    .bind(bucket)
    .bind(window_start)
    .fetch_one(conn)
    .await?;
    Ok(u32::try_from(hits).unwrap_or(u32::MAX))
}

/// Drops windows that ended before `before`.
pub async fn prune(conn: &mut AnyConnection, before: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("delete from rate_limit where window_start < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
