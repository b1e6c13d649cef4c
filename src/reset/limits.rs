//! Rate limits: fixed windows counted in the database, so every instance shares them.

use sqlx::AnyConnection;

use crate::store::{StoreError, limits};

#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: u32,
    pub window_secs: u64,
}

/// Counts a hit; `Err(retry_after_secs)` when the bucket is over its limit.
pub async fn hit(
    conn: &mut AnyConnection,
    bucket: &str,
    limit: Limit,
    now: i64,
) -> Result<Result<(), u64>, StoreError> {
    let window = i64::try_from(limit.window_secs.max(1)).unwrap_or(i64::MAX);
    let start = now - now.rem_euclid(window);
    let hits = limits::hit(conn, bucket, start).await?;
    if hits > limit.max {
        let retry = u64::try_from(start + window - now).unwrap_or(1).max(1);
        return Ok(Err(retry));
    }
    Ok(Ok(()))
}
