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

/// `hit` for two buckets in one statement; returns their counts, in the order given.
pub async fn hit_two(
    conn: &mut AnyConnection,
    (first, first_window): (&str, i64),
    (second, second_window): (&str, i64),
) -> Result<(u32, u32), StoreError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "insert into rate_limit (bucket, window_start, hits) values ($1, $2, 1), ($3, $4, 1) \
         on conflict (bucket, window_start) do update set hits = rate_limit.hits + 1 \
         returning bucket, hits",
    )
    .bind(first)
    .bind(first_window)
    .bind(second)
    .bind(second_window)
    .fetch_all(conn)
    .await?;
    let count = |bucket: &str| {
        rows.iter()
            .find(|(b, _)| b == bucket)
            .map_or(u32::MAX, |(_, hits)| {
                u32::try_from(*hits).unwrap_or(u32::MAX)
            })
    };
    Ok((count(first), count(second)))
}

/// Drops windows that ended before `before`.
pub async fn prune(conn: &mut AnyConnection, before: i64) -> Result<u64, StoreError> {
    let done = sqlx::query("delete from rate_limit where window_start < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
