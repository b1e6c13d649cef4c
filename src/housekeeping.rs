//! Housekeeping: the one place where pruning jobs live. Every instance runs it hourly; the
//! deletes are idempotent and go in small batches, so instances running it at once only share
//! the work. To add a job: a `store::housekeeping::Job` and a line in `JOBS`.

use crate::model::UnixTime;
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::{
    clock::SharedClock,
    org::Organisations,
    store::{
        Store, StoreError,
        housekeeping::{self as jobs, Job},
        limits,
    },
};

const DAY: i64 = 24 * 3600;
/// Rows per delete: short transactions, no long locks.
pub const BATCH: i64 = 500;
const EVERY: Duration = Duration::from_secs(3600);

/// Each job with how long its rows are kept once they qualify.
pub const JOBS: &[(Job, i64)] = &[
    // Links: kept a week after they ended (used, revoked, expired), so a late click still gets
    // "this link expired" rather than "unknown link".
    (jobs::TOKENS, 7 * DAY),
    (jobs::SESSIONS, DAY),
    (jobs::SENT_MAIL, 30 * DAY),
    // Dead letters wait for an operator (`mail retry`) for 90 days.
    (jobs::DEAD_MAIL, 90 * DAY),
    (jobs::ACTIVITIES, DAY),
    (jobs::CALLER_CHECKS, DAY),
];

/// How many days the rows of the job named `name` are kept once they qualify.
pub fn kept_days(name: &str) -> i64 {
    JOBS.iter()
        .find(|(job, _)| job.name == name)
        .map_or(0, |(_, keep)| keep / DAY)
}

/// What one sweep deleted, by job.
pub type Swept = Vec<(&'static str, u64)>;

/// Runs every job once, at `now`.
pub async fn sweep(store: &Store, now: UnixTime) -> Result<Swept, StoreError> {
    let mut swept = Vec::new();
    for (job, keep) in JOBS {
        let mut total = 0;
        loop {
            let mut conn = store.write().await?;
            let n = jobs::prune_batch(&mut conn, *job, now - *keep, BATCH).await?;
            total += n;
            if n < BATCH as u64 {
                break;
            }
        }
        swept.push((job.name, total));
    }
    let mut conn = store.write().await?;
    swept.push(("rate_windows", limits::prune(&mut conn, now - DAY).await?));
    Ok(swept)
}

/// Sweeps hourly until `stop`, with the audit rows past each organisation's retention and the
/// idle lock states (`audit::prune`).
pub async fn run_until(
    store: Store,
    clock: SharedClock,
    orgs: Organisations,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let now = clock.unix();
        match sweep(&store, now).await {
            Ok(swept) if swept.iter().any(|(_, n)| *n > 0) => info!(?swept, "housekeeping done"),
            Ok(_) => debug!("housekeeping: nothing to delete"),
            Err(e) => warn!(error = %e, "housekeeping failed; will retry"),
        }
        match store.write().await {
            Ok(mut conn) => match crate::audit::prune(&mut conn, &orgs, now).await {
                Ok(p) => debug!(
                    audit = p.audit_rows,
                    lock_states = p.lock_states,
                    "audit and lock states pruned"
                ),
                Err(e) => warn!(error = %e, "audit pruning failed; will retry"),
            },
            Err(e) => warn!(error = %e, "housekeeping: database unavailable"),
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
