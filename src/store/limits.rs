//! Fixed-window counters shared by every instance through the database.

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;

/// Counts one hit in `bucket` for the window starting at `window_start`; returns the count.
pub async fn hit(
    conn: &mut AnyConnection,
    bucket: &str,
    window_start: UnixTime,
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

/// `hit` of `first`, then of `second` only if `first` is still within `first_max`; returns the
/// counts (`None`: `second` was not counted). One statement on PostgreSQL, where each is a round
/// trip and the first bucket (a client address shared by a whole site) a row every request
/// waits on; two on SQLite, in process.
pub async fn hit_then(
    conn: &mut AnyConnection,
    (first, first_window): (&str, UnixTime),
    first_max: u32,
    (second, second_window): (&str, UnixTime),
) -> Result<(u32, Option<u32>), StoreError> {
    let count = |hits: i64| u32::try_from(hits).unwrap_or(u32::MAX);
    if conn.backend_name() != "PostgreSQL" {
        let hits = hit(conn, first, first_window).await?;
        if hits > first_max {
            return Ok((hits, None));
        }
        return Ok((hits, Some(hit(conn, second, second_window).await?)));
    }
    let (a, b): (i64, Option<i64>) = sqlx::query_as(
        "with first as (\
           insert into rate_limit (bucket, window_start, hits) values ($1, $2, 1) \
           on conflict (bucket, window_start) do update set hits = rate_limit.hits + 1 \
           returning hits), \
         second as (\
           insert into rate_limit (bucket, window_start, hits) \
           select $3, $4, 1 where (select hits from first) <= $5 \
           on conflict (bucket, window_start) do update set hits = rate_limit.hits + 1 \
           returning hits) \
         select (select hits from first), (select hits from second)",
    )
    .bind(first)
    .bind(first_window)
    .bind(second)
    .bind(second_window)
    .bind(i64::from(first_max))
    .fetch_one(conn)
    .await?;
    Ok((count(a), b.map(count)))
}

/// Drops windows that ended before `before`.
pub async fn prune(conn: &mut AnyConnection, before: UnixTime) -> Result<u64, StoreError> {
    let done = sqlx::query("delete from rate_limit where window_start < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
