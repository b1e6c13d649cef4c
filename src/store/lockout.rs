//! The sign-in lockout per (organisation, username subject): reservations before hashing,
//! settled after. Usernames that match no account have rows too.

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;

/// What a reservation needs to know about the policy.
#[derive(Debug, Clone, Copy)]
pub struct Reserve<'a> {
    pub tenant_id: &'a str,
    pub subject: &'a str,
    pub now: UnixTime,
    /// Reservations made before this are taken as abandoned (a crashed instance).
    pub stale_before: UnixTime,
    pub threshold: u32,
    pub hard_limit: u32,
}

/// Reserves one check, atomically: allowed when the subject is not locked and fewer than
/// `threshold` failures plus checks in flight are counted (or, past the threshold once a lock
/// expired, when no other check is in flight). `None`: locked, check nothing.
pub async fn reserve(conn: &mut AnyConnection, r: Reserve<'_>) -> Result<Option<u32>, StoreError> {
    let failures: Option<i64> = sqlx::query_scalar(
        "insert into signin_guard (tenant_id, subject, failures, pending, reserved_at, locked_until, updated_at) \
         values ($1, $2, 0, 1, $3, null, $3) \
         on conflict (tenant_id, subject) do update set \
           pending = case when signin_guard.reserved_at < $4 then 1 else signin_guard.pending + 1 end, \
           reserved_at = $3, updated_at = $3 \
         where (signin_guard.locked_until is null or signin_guard.locked_until <= $3) \
           and signin_guard.failures < $6 \
           and (signin_guard.pending = 0 or signin_guard.reserved_at < $4 \
                or signin_guard.failures + signin_guard.pending < $5) \
         returning failures",
    )
    .bind(r.tenant_id)
    .bind(r.subject)
    .bind(r.now)
    .bind(r.stale_before)
    .bind(i64::from(r.threshold))
    .bind(i64::from(r.hard_limit))
    .fetch_optional(conn)
    .await?;
    Ok(failures.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
}

const RELEASE: &str = "pending = case when pending > 0 then pending - 1 else 0 end";

/// The counts after a wrong password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    /// Consecutive failures since the last success or unlock (the temporary lock).
    pub consecutive: u32,
    /// Failures since `window_start` (the hard lock), across unlocks.
    pub in_window: u32,
}

/// A wrong password: one more consecutive failure, one more in the hard lock's window (a new
/// window when the last began before `window_start`), the reservation released. Run it in the
/// transaction that also sets the lock, so no check slips in between.
pub async fn fail(
    conn: &mut AnyConnection,
    tenant_id: &str,
    subject: &str,
    now: UnixTime,
    window_start: UnixTime,
) -> Result<Failures, StoreError> {
    let (consecutive, in_window): (i64, i64) = sqlx::query_as(&format!(
        "update signin_guard set failures = failures + 1, {RELEASE}, updated_at = $3, \
           strikes = case when strikes_since < $4 then 1 else strikes + 1 end, \
           strikes_since = case when strikes_since < $4 then $3 else strikes_since end \
         where tenant_id = $1 and subject = $2 returning failures, strikes"
    ))
    .bind(tenant_id)
    .bind(subject)
    .bind(now)
    .bind(window_start)
    .fetch_one(conn)
    .await?;
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(Failures {
        consecutive: count(consecutive),
        in_window: count(in_window),
    })
}

pub async fn lock_until(
    conn: &mut AnyConnection,
    tenant_id: &str,
    subject: &str,
    until: UnixTime,
) -> Result<(), StoreError> {
    // A later lock never shortens one in force (a check settled late after a hard lock).
    sqlx::query(
        "update signin_guard set locked_until = case when locked_until > $3 then locked_until \
         else $3 end where tenant_id = $1 and subject = $2",
    )
    .bind(tenant_id)
    .bind(subject)
    .bind(until)
    .execute(conn)
    .await?;
    Ok(())
}

/// The right password: the failures are forgotten and the reservation released.
pub async fn succeed(
    conn: &mut AnyConnection,
    tenant_id: &str,
    subject: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "update signin_guard set failures = 0, locked_until = null, {RELEASE}, updated_at = $3 \
         where tenant_id = $1 and subject = $2"
    ))
    .bind(tenant_id)
    .bind(subject)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The check could not be made (an internal error): release the reservation, count nothing.
pub async fn release(
    conn: &mut AnyConnection,
    tenant_id: &str,
    subject: &str,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "update signin_guard set {RELEASE} where tenant_id = $1 and subject = $2"
    ))
    .bind(tenant_id)
    .bind(subject)
    .execute(conn)
    .await?;
    Ok(())
}

/// A new password (reset or enrolment) unlocks, and forgets every failure.
pub async fn clear(
    conn: &mut AnyConnection,
    tenant_id: &str,
    subject: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "update signin_guard set failures = 0, strikes = 0, locked_until = null \
         where tenant_id = $1 and subject = $2",
    )
    .bind(tenant_id)
    .bind(subject)
    .execute(conn)
    .await?;
    Ok(())
}

const LOCKED_UNTIL: &str =
    "select locked_until from signin_guard where tenant_id = $1 and subject = $2";

/// When the subject is locked until (for the admin's listing).
pub async fn locked_until(
    conn: &mut AnyConnection,
    tenant_id: &str,
    subject: &str,
) -> Result<Option<UnixTime>, StoreError> {
    Ok(sqlx::query_scalar(LOCKED_UNTIL)
        .bind(tenant_id)
        .bind(subject)
        .fetch_optional(conn)
        .await?
        .flatten())
}

/// `locked_until` on the calling thread (`store::inline`).
pub fn locked_until_now(
    conn: &rusqlite::Connection,
    tenant_id: &str,
    subject: &str,
) -> Result<Option<UnixTime>, StoreError> {
    let mut statement = conn.prepare_cached(LOCKED_UNTIL)?;
    let mut rows = statement.query((tenant_id, subject))?;
    Ok(match rows.next()? {
        Some(row) => row.get::<_, Option<i64>>(0)?.map(UnixTime),
        None => None,
    })
}

/// Forgets subjects idle since `idle_before` and not locked at `now` (their failures are no
/// longer consecutive in any useful sense); hard locks (only a reset lifts them) stay.
pub async fn prune(
    conn: &mut AnyConnection,
    idle_before: UnixTime,
    now: UnixTime,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "delete from signin_guard where updated_at < $1 and (locked_until is null or locked_until < $2)",
    )
    .bind(idle_before)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A hard lock: only a new password or a service-desk agent lifts it.
pub const HARD_LOCK: UnixTime = UnixTime(i64::MAX);

/// Which locks an unlock lifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lift {
    /// A temporary lock only (the owner's self-service unlock): the consecutive failures are
    /// forgotten, those counted toward the hard lock are not; a hard lock is left alone.
    Temporary,
    /// Any lock, hard locks included, and every failure (a service-desk agent's unlock).
    Any,
}

/// Lifts the lock in force at `now` as `lift` says. `false`: no such lock was in force. Of two
/// simultaneous unlocks only one changes the row.
pub async fn unlock(
    conn: &mut AnyConnection,
    tenant_id: &str,
    subject: &str,
    now: UnixTime,
    lift: Lift,
) -> Result<bool, StoreError> {
    let (forget, only) = match lift {
        Lift::Temporary => ("", " and locked_until < $4"),
        Lift::Any => (", strikes = 0", ""),
    };
    let sql = format!(
        "update signin_guard set failures = 0{forget}, locked_until = null, updated_at = $3 \
         where tenant_id = $1 and subject = $2 and locked_until > $3{only}"
    );
    let query = sqlx::query(&sql).bind(tenant_id).bind(subject).bind(now);
    let query = match lift {
        Lift::Temporary => query.bind(HARD_LOCK),
        Lift::Any => query,
    };
    let done = query.execute(conn).await?;
    Ok(done.rows_affected() > 0)
}
