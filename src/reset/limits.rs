//! Rate limits: fixed windows counted in the database, so every instance shares them.

use crate::model::UnixTime;
use crate::store::Conn;

use crate::{
    audit::Audit,
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
    fn start(self, now: UnixTime) -> UnixTime {
        now.window_start(self.window())
    }

    /// `hits` in the window of `now`, against the allowance.
    fn judge(self, hits: u32, now: UnixTime) -> Result<(), Refused> {
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

/// A rate-limit counter, by what it counts. Stored under [`Bucket::key`]; the names are part of
/// the `rate_limit` table's rows, so they do not change.
#[derive(Debug, Clone, Copy)]
pub enum Bucket<'a> {
    /// Link requests of one client (an address bucket, a Teams identity, an agent).
    Request { client: &'a str },
    /// Link requests for one account: silent, or the answer would tell which usernames exist.
    RequestAccount { tenant: &'a str, username: &'a str },
    /// « Nom d'utilisateur oublié » of one client.
    Username { client: &'a str },
    /// The same, per address asked about (by the address's hash).
    UsernameAddress {
        tenant: &'a str,
        address_hash: &'a str,
    },
    /// Unlocks asked by one client.
    Unlock { client: &'a str },
    /// A self-service unlock's daily allowance, per account.
    SelfUnlock { tenant: &'a str, subject: &'a str },
    /// The tab's "who am I" look-ups of one client.
    Lookup { client: &'a str },
    /// Sign-ins on the login page of one client.
    SignIn { client: &'a str },
    /// Credential checks through the API on behalf of one client.
    Verify { tenant: &'a str, client: &'a str },
    /// Credential checks through the API by the organisation's key.
    VerifyKey { tenant: &'a str },
    /// SCIM requests of one organisation.
    Scim { tenant: &'a str },
    /// Caller codes sent for one account.
    CallerCode { tenant: &'a str, account: &'a str },
    /// Requests at the service desk, per person and reason.
    DeskRequest {
        tenant: &'a str,
        person: &'a str,
        reason: &'a str,
    },
    /// « Renvoyer » of one dead letter.
    DeadRetry { outbox_id: &'a str },
}

impl Bucket<'_> {
    pub fn key(&self) -> String {
        match self {
            Bucket::Request { client } => format!("request:{client}"),
            Bucket::RequestAccount { tenant, username } => {
                format!("request-account:{tenant}:{username}")
            }
            Bucket::Username { client } => format!("username:{client}"),
            Bucket::UsernameAddress {
                tenant,
                address_hash,
            } => format!("username-address:{tenant}:{address_hash}"),
            Bucket::Unlock { client } => format!("unlock:{client}"),
            Bucket::SelfUnlock { tenant, subject } => format!("self-unlock:{tenant}:{subject}"),
            Bucket::Lookup { client } => format!("lookup:{client}"),
            Bucket::SignIn { client } => format!("signin:{client}"),
            Bucket::Verify { tenant, client } => format!("verify:{tenant}:{client}"),
            Bucket::VerifyKey { tenant } => format!("verify:{tenant}"),
            Bucket::Scim { tenant } => format!("scim:{tenant}"),
            Bucket::CallerCode { tenant, account } => format!("caller-code:{tenant}:{account}"),
            Bucket::DeskRequest {
                tenant,
                person,
                reason,
            } => format!("desk-request:{tenant}:{person}:{reason}"),
            Bucket::DeadRetry { outbox_id } => format!("dead-retry:{outbox_id}"),
        }
    }
}

/// Counts a hit; `Err(Refused)` when the bucket is over its limit.
pub async fn hit(
    conn: &mut Conn,
    bucket: Bucket<'_>,
    limit: Limit,
    now: UnixTime,
) -> Result<Result<(), Refused>, StoreError> {
    let hits = limits::hit(conn, &bucket.key(), limit.start(now)).await?;
    Ok(limit.judge(hits, now))
}

/// `hit` of `first`, then of `second` only when `first` is within its limit (a client refused
/// does not use up the second's allowance), in one round trip on PostgreSQL. `None`: `second`
/// was not counted.
pub async fn hit_then(
    conn: &mut Conn,
    (first, first_limit): (Bucket<'_>, Limit),
    (second, second_limit): (Bucket<'_>, Limit),
    now: UnixTime,
) -> Result<(Result<(), Refused>, Option<Result<(), Refused>>), StoreError> {
    let (a, b) = limits::hit_then(
        conn,
        (&first.key(), first_limit.start(now)),
        first_limit.max,
        (&second.key(), second_limit.start(now)),
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
    bucket: Bucket<'_>,
    limit: Limit,
    now: UnixTime,
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
    now: UnixTime,
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
    pub event: crate::audit::AuditEvent,
    pub client: &'a str,
    pub detail: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_are_the_stored_ones() {
        let t = "tenant";
        let cases = [
            (Bucket::Request { client: "ip:1" }, "request:ip:1"),
            (
                Bucket::RequestAccount {
                    tenant: t,
                    username: "trej",
                },
                "request-account:tenant:trej",
            ),
            (Bucket::Username { client: "ip:1" }, "username:ip:1"),
            (
                Bucket::UsernameAddress {
                    tenant: t,
                    address_hash: "ab",
                },
                "username-address:tenant:ab",
            ),
            (Bucket::Unlock { client: "c" }, "unlock:c"),
            (
                Bucket::SelfUnlock {
                    tenant: t,
                    subject: "s",
                },
                "self-unlock:tenant:s",
            ),
            (Bucket::Lookup { client: "c" }, "lookup:c"),
            (Bucket::SignIn { client: "c" }, "signin:c"),
            (
                Bucket::Verify {
                    tenant: t,
                    client: "c",
                },
                "verify:tenant:c",
            ),
            (Bucket::VerifyKey { tenant: t }, "verify:tenant"),
            (Bucket::Scim { tenant: t }, "scim:tenant"),
            (
                Bucket::CallerCode {
                    tenant: t,
                    account: "a",
                },
                "caller-code:tenant:a",
            ),
            (
                Bucket::DeskRequest {
                    tenant: t,
                    person: "p",
                    reason: "hard_lock",
                },
                "desk-request:tenant:p:hard_lock",
            ),
            (Bucket::DeadRetry { outbox_id: "o" }, "dead-retry:o"),
        ];
        for (bucket, stored) in cases {
            assert_eq!(bucket.key(), stored);
        }
    }
}
