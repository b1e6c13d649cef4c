//! Asking for a link: `request` (the web form, the tab) and `request_once` (a Teams card, which
//! Teams may deliver more than once). The surface's key for the ask is recorded in the very
//! transaction that issues the link and queues its mail, so a crash before the commit leaves
//! nothing (the redelivery does the work) and one after it leaves the record (the redelivery
//! is answered from it, without a second link or mail).
//!
//! Issuing the link: older ones superseded, the new one stored (its hash only) and its mail
//! queued, all in the caller's transaction; the same work for a request that names no account.

use super::outbox::Outbox;
use crate::model::UnixTime;
use crate::store::Conn;
use tracing::{info, instrument};

use super::{
    ResetError,
    limits::{Bucket, Limit, Refusal, admit, hit_then, refuse},
    service::{Delivery, Requested, ResetService},
};
use crate::audit::{Audit, AuditEvent};
use crate::model::Revoked;
use crate::model::events::LinkEvent;
use crate::model::{
    Account, AccountId, BotRequest, EmailAddress, Purpose, Requester, ResetToken, Username,
};
use crate::{
    i18n::Locale,
    mail::{MailParams, MailTemplate, OutgoingMail},
    org::Organisation,
    store::{StoreError, accounts, bot as handled, tokens},
};

/// Makes an ask happen at most once: its key (a Teams activity) and what the surface keeps of
/// a link it delivered, both written in the ask's transaction.
pub struct Once<'a> {
    /// Unique per ask, the same for every delivery of it.
    pub key: &'a str,
    /// The surface's record of a delivered link; `None` when it keeps nothing (the requester
    /// is not the account's owner, so their answer is the uniform one).
    pub keep: &'a (dyn Fn(&Delivery) -> Option<BotRequest> + Send + Sync),
}

/// What `request_once` did.
#[derive(Debug)]
pub enum Asked {
    /// The first time: what `request` returns, and what the surface kept of it.
    First {
        requested: Requested,
        kept: Option<Box<BotRequest>>,
    },
    /// Done before, by an earlier (or simultaneous) delivery: nothing was done this time.
    Repeat,
}

impl ResetService {
    /// Sends a reset or enrolment link if the account exists. Same outcome for the caller, and
    /// the same store round-trips, whether or not it does.
    pub async fn request(
        &self,
        org: &Organisation,
        who: &Requester,
        username: &Username,
        purpose: Purpose,
        locale: Locale,
    ) -> Result<Requested, ResetError> {
        match self.ask(org, who, username, purpose, locale, None).await? {
            Asked::First { requested, .. } => Ok(requested),
            Asked::Repeat => Err(ResetError::Internal(anyhow::anyhow!(
                "a request without a key was taken for a repeat"
            ))),
        }
    }

    /// `request`, at most once per `once.key`: a repeat does nothing (not even count against
    /// the rate limits when the first one is already recorded) and says so.
    pub async fn request_once(
        &self,
        org: &Organisation,
        who: &Requester,
        username: &Username,
        purpose: Purpose,
        locale: Locale,
        once: &Once<'_>,
    ) -> Result<Asked, ResetError> {
        self.ask(org, who, username, purpose, locale, Some(once))
            .await
    }

    #[instrument(skip_all, fields(tenant.id = %org.tenant_id, purpose = purpose.as_str()))]
    // Long: one transaction whose statements run alike whether the username exists; kept together
    // so that the sameness shows.
    async fn ask(
        &self,
        org: &Organisation,
        who: &Requester,
        username: &Username,
        purpose: Purpose,
        locale: Locale,
        once: Option<&Once<'_>>,
    ) -> Result<Asked, ResetError> {
        let now = self.clock.unix();
        let client = who.key();
        let mut conn = self.store.write().await?;
        if let Some(once) = once
            && handled::handled_activity(&mut conn, once.key)
                .await?
                .is_some()
        {
            return Ok(Asked::Repeat);
        }
        let account_allowed = self
            .allowances(&mut conn, org, &client, username, now)
            .await?;
        let account = accounts::by_username(&mut conn, &org.tenant_id, username).await?;
        drop(conn);

        // Known or not, allowed or not: the same statements run, in the same transaction. Only
        // the rows differ (none are written for an id that names no account).
        let (event, audited) = match &account {
            Some(a) if account_allowed => (AuditEvent::LinkRequested, Some(&a.id)),
            Some(a) => (AuditEvent::LinkRateLimited, Some(&a.id)),
            None => (AuditEvent::LinkRequestedUnknownAccount, None),
        };
        let target = account.as_ref().filter(|_| account_allowed);
        let mut tx = self.store.begin().await?;
        // First, so that a simultaneous duplicate waits here and then finds it done.
        if let Some(once) = once
            && !handled::record_activity(&mut tx, once.key, now).await?
        {
            tx.rollback().await.map_err(StoreError::from)?;
            info!("a repeated ask found done by another delivery; nothing done again");
            return Ok(Asked::Repeat);
        }
        let delivery = self
            .issue(&mut tx, org, target, purpose, locale, now)
            .await?;
        Audit::event(event, now)
            .tenant(&org.tenant_id)
            .account(audited)
            .client(&client)
            .detail(purpose.as_str())
            .record(&mut tx)
            .await?;
        let kept = match (once, &delivery) {
            (Some(once), Some(d)) => (once.keep)(d).map(Box::new),
            _ => None,
        };
        if let (Some(once), Some(kept)) = (once, &kept) {
            handled::insert_request(&mut tx, kept, now).await?;
            handled::set_activity_request(&mut tx, once.key, &kept.token_id).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        self.told(delivery.as_ref());
        Ok(Asked::First {
            requested: Requested { delivery },
            kept,
        })
    }
}

impl ResetService {
    /// Once a request committed: the links it replaced are told superseded, the worker woken.
    fn told(&self, delivery: Option<&Delivery>) {
        let Some(d) = delivery else {
            info!("link request answered without mail");
            return;
        };
        for old in &d.superseded {
            self.observer.link_event(old, LinkEvent::Superseded);
        }
        Outbox::of(self).wake();
        info!("link requested and mail queued");
    }

    /// Per client, then (if the client is allowed) per account, in one round trip: a refused
    /// client gets the refusal; whether the account may be mailed is returned, silently, or the
    /// answer would tell which usernames exist.
    async fn allowances(
        &self,
        conn: &mut Conn,
        org: &Organisation,
        client: &str,
        username: &Username,
        now: UnixTime,
    ) -> Result<bool, ResetError> {
        let tenant = Some(org.tenant_id.as_str());
        let per_account = Limit {
            max: self.limits.requests_per_account,
            window_secs: self.limits.request_window_secs,
        };
        let account_bucket = Bucket::RequestAccount {
            tenant: &org.tenant_id,
            username: username.as_str(),
        };
        let (per_client, per_account) = hit_then(
            conn,
            (Bucket::Request { client }, self.per_client()),
            (account_bucket, per_account),
            now,
        )
        .await?;
        let refusal = Refusal {
            tenant_id: tenant,
            event: AuditEvent::RequestRateLimited,
            client,
            detail: None,
        };
        let answer = refuse(conn, per_client, now, refusal).await;
        self.counting_refusals(tenant, answer)?;
        Ok(per_account.is_some_and(|answer| answer.is_ok()))
    }

    /// One request of a client (its `bucket`) against the per-client request allowance; the
    /// first refusal of a window is audited with `detail`.
    pub(crate) async fn admit_request(
        &self,
        conn: &mut Conn,
        tenant_id: Option<&str>,
        bucket: Bucket<'_>,
        client: &str,
        detail: Option<&str>,
        now: UnixTime,
    ) -> Result<(), ResetError> {
        let refusal = Refusal {
            tenant_id,
            event: AuditEvent::RequestRateLimited,
            client,
            detail,
        };
        let answer = admit(conn, bucket, self.per_client(), now, refusal).await;
        self.counting_refusals(tenant_id, answer)
    }

    /// The per-client request allowance.
    fn per_client(&self) -> Limit {
        Limit {
            max: self.limits.requests_per_ip,
            window_secs: self.limits.request_window_secs,
        }
    }
}

/// The recipient of the mail sealed (and never written) for a request that names no account.
const NOBODY: &str = "nobody@octopus-teams.invalid";

impl ResetService {
    /// Supersedes older links, stores the new one (hash only) and queues its mail, for
    /// `account`; for `None` the same work and statements with an id that matches no account,
    /// so nothing is written and nothing is returned.
    // Long: the same statements run for a known and an unknown account; kept together so that the
    // sameness shows.
    pub(super) async fn issue(
        &self,
        conn: &mut crate::store::Conn,
        org: &Organisation,
        account: Option<&Account>,
        purpose: Purpose,
        locale: Locale,
        now: UnixTime,
    ) -> Result<Option<Delivery>, ResetError> {
        let nobody = AccountId(format!("none:{}", uuid::Uuid::new_v4()));
        let (account_id, email, name) = match account {
            Some(a) => (&a.id, a.email.clone(), a.display_name.clone()),
            None => (
                &nobody,
                EmailAddress::parse(NOBODY)
                    .map_err(|_| ResetError::Internal(anyhow::anyhow!("decoy address")))?,
                String::new(),
            ),
        };
        // One usable link per account even under simultaneous requests: the account row is
        // locked (PostgreSQL) until the transaction ends; SQLite serialises writers anyway.
        accounts::lock(conn, self.store.dialect(), account_id).await?;
        let superseded = tokens::revoke_active(conn, account_id, now, Revoked::Superseded).await?;
        let token = ResetToken::generate();
        let token_id = uuid::Uuid::new_v4().to_string();
        let expires_at = now + i64::try_from(org.token_lifetime.as_secs()).unwrap_or(1800);
        let stored = tokens::insert(
            conn,
            &tokens::NewToken {
                token_id: &token_id,
                hash: &token.hash(),
                account_id,
                purpose,
                locale: locale.tag(),
                created_at: now,
                expires_at,
            },
        )
        .await?;
        let template = match purpose {
            Purpose::Reset => MailTemplate::Reset,
            Purpose::Enroll => MailTemplate::Enroll,
        };
        let params = MailParams {
            name,
            link: Some(self.link(&format!("reset/{}", token.expose()))),
            cancel_link: Some(self.link(&format!("reset/{}/cancel", token.expose()))),
            expires_at: Some(expires_at),
            token_id: Some(token_id.clone()),
            ..MailParams::default()
        };
        let queued = Outbox::of(self)
            .queue_for(
                conn,
                OutgoingMail {
                    template,
                    to: &email,
                    locale,
                    tenant_id: &org.tenant_id,
                    params,
                },
                now,
                account_id,
            )
            .await?;
        let Some(account) = account.filter(|_| stored && queued.is_some()) else {
            return Ok(None);
        };
        Ok(Some(Delivery {
            account_id: account.id.clone(),
            email: account.email.clone(),
            entra_object_id: account.entra_object_id.clone(),
            upn: account.upn.clone(),
            token_id,
            expires_at,
            superseded,
        }))
    }
}
