//! Rate limits: fixed windows counted in the database, so every instance shares them.

use crate::store::Conn;

use crate::{
    reset::audit::Audit,
    store::{StoreError, limits},
};

#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: u32,
    pub window_secs: u64,
}

/// A hit over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after_secs: u64,
    /// The first refusal of this bucket in this window: the only one worth an audit row, so a
    /// flood of refused requests costs one counter update each and no more.
    pub first_in_window: bool,
}

impl Limit {
    fn window(self) -> i64 {
        i64::try_from(self.window_secs.max(1)).unwrap_or(i64::MAX)
    }

    /// The start of the window `now` falls in.
    fn start(self, now: i64) -> i64 {
        now - now.rem_euclid(self.window())
    }

    /// `hits` in the window of `now`, against the allowance.
    fn judge(self, hits: u32, now: i64) -> Result<(), Refused> {
        if hits <= self.max {
            return Ok(());
        }
        let retry = u64::try_from(self.start(now) + self.window() - now)
            .unwrap_or(1)
            .max(1);
        Err(Refused {
            retry_after_secs: retry,
            first_in_window: hits == self.max.saturating_add(1),
        })
    }
}

/// Counts a hit; `Err(Refused)` when the bucket is over its limit.
pub async fn hit(
    conn: &mut Conn,
    bucket: &str,
    limit: Limit,
    now: i64,
) -> Result<Result<(), Refused>, StoreError> {
    let hits = limits::hit(conn, bucket, limit.start(now)).await?;
    Ok(limit.judge(hits, now))
}

/// `hit` of `first`, then of `second` only when `first` is within its limit (a client refused
/// does not use up the second's allowance), in one round trip on PostgreSQL. `None`: `second`
/// was not counted.
pub async fn hit_then(
    conn: &mut Conn,
    (first, first_limit): (&str, Limit),
    (second, second_limit): (&str, Limit),
    now: i64,
) -> Result<(Result<(), Refused>, Option<Result<(), Refused>>), StoreError> {
    let (a, b) = limits::hit_then(
        conn,
        (first, first_limit.start(now)),
        first_limit.max,
        (second, second_limit.start(now)),
    )
    .await?;
    Ok((
        first_limit.judge(a, now),
        b.map(|b| second_limit.judge(b, now)),
    ))
}

/// Counts a hit of `who`'s bucket; over the limit, the first refusal of the window is audited
/// (as `event`, with `detail`) and the caller gets `RateLimited`.
pub async fn admit(
    conn: &mut Conn,
    bucket: &str,
    limit: Limit,
    now: i64,
    audit: Refusal<'_>,
) -> Result<(), crate::reset::ResetError> {
    let answer = hit(conn, bucket, limit, now).await?;
    refuse(conn, answer, now, audit).await
}

/// What `admit` does with a hit's answer: the first refusal of a window is audited, and the
/// caller gets `RateLimited`.
pub async fn refuse(
    conn: &mut Conn,
    answer: Result<(), Refused>,
    now: i64,
    audit: Refusal<'_>,
) -> Result<(), crate::reset::ResetError> {
    if let Err(refused) = answer {
        if refused.first_in_window {
            Audit::event(audit.event, now)
                .tenant(audit.tenant_id)
                .client(audit.client)
                .detail(audit.detail)
                .record(conn)
                .await?;
        }
        return Err(crate::reset::ResetError::RateLimited {
            retry_after_secs: refused.retry_after_secs,
        });
    }
    Ok(())
}

/// How a refusal is audited.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    pub tenant_id: Option<&'a str>,
    pub event: crate::reset::audit::AuditEvent,
    pub client: &'a str,
    pub detail: Option<&'a str>,
}
