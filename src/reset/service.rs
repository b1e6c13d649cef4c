//! Reset and enrolment links: request, inspect (read-only), complete (once), cancel.

use crate::model::UnixTime;
use std::sync::Arc;

use super::outbox::Outbox;
use tokio::sync::Notify;
use tracing::{info, instrument, warn};
use url::Url;

use super::{
    LinkProblem, ResetError,
    hasher::Hasher,
    limits::{Bucket, Limit, Refusal, admit},
};
use crate::audit::{Audit, AuditEvent};
use crate::config::Limits;
use crate::model::Revoked;
use crate::model::events::{LinkEvent, LinkObserver};
use crate::model::{
    AccountId, EmailAddress, NewPassword, Purpose, Requester, ResetToken, Username,
};
use crate::{
    clock::SharedClock,
    i18n::Locale,
    mail::{MailParams, MailTemplate, OutgoingMail},
    org::Organisations,
    service_key::ServiceKey,
    store::{Store, accounts, history, lockout, outbox, sessions, tokens},
};

#[derive(Clone)]
pub struct ResetService {
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    pub(crate) hasher: Hasher,
    pub(crate) orgs: Organisations,
    pub(crate) key: ServiceKey,
    pub(crate) base_url: Url,
    pub(crate) limits: Limits,
    /// Wakes the mail worker once a transaction with mail in it commits.
    pub(crate) mail_wake: Arc<Notify>,
    /// Told what becomes of links (the bot's live status cards).
    pub(crate) observer: Arc<dyn LinkObserver>,
    /// Told of what the service desk should know at once (a refusal burst).
    pub(crate) desk: Arc<dyn crate::model::events::DeskObserver>,
    pub(crate) refusals: Arc<crate::model::events::RefusalWatch>,
}

/// What a request did. Every surface shows the same answer whatever this holds; the details
/// are for the requester's own Teams card, shown only when their identity matches the account.
#[derive(Debug, Clone)]
pub struct Requested {
    pub delivery: Option<Delivery>,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub account_id: AccountId,
    pub email: EmailAddress,
    /// The account's Entra identity, to tell whether the requester is its owner.
    pub entra_object_id: Option<String>,
    pub upn: Option<String>,
    pub token_id: String,
    pub expires_at: UnixTime,
    /// Earlier links of the account that this one replaced.
    pub superseded: Vec<String>,
}

/// What `retry_dead_letter` did.
#[derive(Debug)]
pub enum Retry {
    /// A fresh link was issued and its mail queued.
    Reissued(Delivery),
    /// No dead letter has this id (unknown, pending or sent).
    NotDead,
    /// A mail without a link (named by its template): nothing is re-sent.
    NothingToResend(String),
    /// Its address matches no single account of its organisation any more.
    NoAccount,
}

/// A usable link, as shown on `GET /reset/{token}`.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    pub token_id: String,
    pub purpose: Purpose,
    pub tenant_id: String,
    pub username: Username,
    pub locale: Option<Locale>,
    pub expires_at: UnixTime,
}

#[derive(Debug, Clone)]
pub struct Completed {
    pub tenant_id: String,
    pub account_id: AccountId,
    pub purpose: Purpose,
}

impl ResetService {
    /// Passes `answer` through; a rate-limit refusal of a request made to `tenant_id` is
    /// counted, and the desk told when the organisation's threshold is reached.
    pub(crate) fn counting_refusals<T>(
        &self,
        tenant_id: Option<&str>,
        answer: Result<T, ResetError>,
    ) -> Result<T, ResetError> {
        if let (Err(ResetError::RateLimited { .. }), Some(tenant)) = (&answer, tenant_id) {
            let threshold = self
                .orgs
                .by_tenant(tenant)
                .and_then(|o| o.desk_channel.as_ref())
                .map_or(0, |d| d.refusal_burst);
            if let Some(refusals) = self.refusals.refused(tenant, self.clock.unix(), threshold) {
                let minutes =
                    u32::try_from(crate::model::events::REFUSAL_WINDOW_SECS / 60).unwrap_or(10);
                self.desk.desk_event(
                    Some(tenant),
                    crate::model::events::DeskEvent::RefusalBurst { refusals, minutes },
                );
            }
        }
        answer
    }

    pub(crate) fn link(&self, path: &str) -> String {
        format!("{}/{}", self.base_url.as_str().trim_end_matches('/'), path)
    }

    pub fn organisations(&self) -> &Organisations {
        &self.orgs
    }

    /// Admits one account look-up from `who` (the tab's "who am I"), before any token is even
    /// checked: per client, with the sign-in allowance. The first refusal of a window is audited.
    #[instrument(skip_all)]
    pub async fn admit_lookup(&self, who: &Requester) -> Result<(), ResetError> {
        let now = self.clock.unix();
        let client = who.key();
        let limit = Limit {
            max: self.limits.signins_per_ip,
            window_secs: self.limits.signin_window_secs,
        };
        let mut conn = self.store.write().await?;
        let refusal = Refusal {
            tenant_id: None,
            event: AuditEvent::RequestRateLimited,
            client: &client,
            detail: Some("tab_me"),
        };
        admit(
            &mut conn,
            Bucket::Lookup { client: &client },
            limit,
            now,
            refusal,
        )
        .await?;
        Ok(())
    }

    /// `octopus-teams mail retry ID`. A dead letter's payload (its link) is erased, so a reset or
    /// enrolment mail is re-sent by issuing a fresh link for the account it went to (superseding
    /// older ones) and queueing a new mail, audited as an operator action. A "password changed"
    /// notice is not re-sent: it carried no link, its content is erased, and the change it
    /// reported is history. The dead letter itself stays as it is, for tracing. `by`: a
    /// service-desk agent (« Renvoyer » in the desk's channel), audited as the client, and only
    /// for their organisation's mail.
    // Long: one transaction: the old link revoked, a new one issued, the mail queued and audited,
    // all or none.
    pub async fn retry_dead_letter(
        &self,
        outbox_id: &str,
        by: Option<&super::agent::Agent>,
    ) -> Result<Retry, ResetError> {
        let now = self.clock.unix();
        let mut tx = self.store.begin().await?;
        let Some(dead) = outbox::dead_letter(&mut tx, outbox_id)
            .await?
            .filter(|d| by.is_none_or(|agent| agent.tenant_id() == d.tenant_id))
        else {
            return Ok(Retry::NotDead);
        };
        // From the desk's channel, once a day per dead letter (a card clicked twice, a forged
        // click): each retry mails a fresh link.
        if by.is_some() {
            let once = super::limits::Limit {
                max: 1,
                window_secs: 86_400,
            };
            let bucket = Bucket::DeadRetry { outbox_id };
            if super::limits::hit(&mut tx, bucket, once, now)
                .await?
                .is_err()
            {
                return Ok(Retry::NotDead);
            }
        }
        let purpose = match MailTemplate::parse(&dead.template) {
            Some(MailTemplate::Reset) => Purpose::Reset,
            Some(MailTemplate::Enroll) => Purpose::Enroll,
            _ => return Ok(Retry::NothingToResend(dead.template)),
        };
        let Some(org) = self.orgs.by_tenant(&dead.tenant_id) else {
            return Ok(Retry::NoAccount);
        };
        let Ok(address) = EmailAddress::parse(&dead.recipient) else {
            return Ok(Retry::NoAccount);
        };
        let mut found = accounts::by_email(&mut tx, &dead.tenant_id, &address).await?;
        if found.len() != 1 {
            return Ok(Retry::NoAccount);
        }
        let account = found.remove(0);
        let locale = Locale::from_tag(&dead.locale).unwrap_or(org.default_locale);
        let delivery = self
            .issue(&mut tx, org, Some(&account), purpose, locale, now)
            .await?
            .ok_or_else(|| {
                ResetError::Internal(anyhow::anyhow!("no link issued for the account"))
            })?;
        let agent_key = by.map(|agent| agent.requester().key());
        Audit::event(AuditEvent::MailRetriedByOperator, now)
            .tenant(&org.tenant_id)
            .account(&account.id)
            .client(agent_key.as_deref())
            .detail(format!("{} {outbox_id}", dead.template))
            .record(&mut tx)
            .await?;
        tx.commit().await.map_err(crate::store::StoreError::from)?;
        for old in &delivery.superseded {
            self.observer.link_event(old, LinkEvent::Superseded);
        }
        Outbox::of(self).wake();
        info!("dead letter re-sent with a fresh link");
        Ok(Retry::Reissued(delivery))
    }

    /// Read-only: may this link be used? (A GET never consumes it.)
    #[instrument(skip_all)]
    pub async fn inspect(&self, token: &ResetToken) -> Result<LinkInfo, ResetError> {
        let now = self.clock.unix();
        let mut conn = self.store.conn().await?;
        let row = tokens::by_hash(&mut conn, &token.hash())
            .await?
            .ok_or(ResetError::Link(LinkProblem::Unknown))?;
        if row.used_at.is_some() {
            return Err(ResetError::Link(LinkProblem::Used));
        }
        if row.revoked_at.is_some() {
            return Err(ResetError::Link(LinkProblem::Revoked));
        }
        if row.expires_at <= now {
            return Err(ResetError::Link(LinkProblem::Expired));
        }
        let account = accounts::by_id(&mut conn, &row.account_id)
            .await?
            .ok_or(ResetError::Link(LinkProblem::Unknown))?;
        Ok(LinkInfo {
            token_id: row.token_id,
            purpose: row.purpose,
            tenant_id: account.tenant_id,
            username: account.username,
            locale: Locale::from_tag(&row.locale),
            expires_at: row.expires_at,
        })
    }

    /// What the page behind the link shows: `inspect`, and the link's status becomes "opened".
    pub async fn view(&self, token: &ResetToken) -> Result<LinkInfo, ResetError> {
        let link = self.inspect(token).await.inspect_err(count_refusal)?;
        note_opened(&self.store, &link.token_id, self.clock.unix()).await;
        self.observer.link_event(&link.token_id, LinkEvent::Opened);
        Ok(link)
    }

    /// Sets the new password through the link: checks the policy, hashes off the async workers,
    /// then in one transaction consumes the token (exactly once), stores the hash, revokes every
    /// other link, ends the sessions, audits and queues the confirmation mail.
    #[instrument(skip_all)]
    // Long: one transaction: the link consumed, the password set, the other links and sessions
    // ended, the audit and the mail, all or none.
    pub async fn complete(
        &self,
        token: &ResetToken,
        password: &NewPassword,
        confirmation: &NewPassword,
    ) -> Result<Completed, ResetError> {
        let link = self.inspect(token).await.inspect_err(count_refusal)?;
        let org = self
            .orgs
            .by_tenant(&link.tenant_id)
            .ok_or(ResetError::Link(LinkProblem::Unknown))?;
        let hash = self.hash_new(org, &link, password, confirmation).await?;
        let now = self.clock.unix();
        let mut tx = self.store.begin().await?;
        let account_id = tokens::consume(&mut tx, &token.hash(), now)
            .await?
            .ok_or(ResetError::Link(LinkProblem::Used))
            .inspect_err(count_refusal)?;
        let account = accounts::by_id(&mut tx, &account_id)
            .await?
            .ok_or(ResetError::Link(LinkProblem::Unknown))?;
        accounts::set_password(&mut tx, &account_id, &hash, now).await?;
        lockout::clear(
            &mut tx,
            &org.tenant_id,
            &super::signin::lock_subject(account.username.as_str()),
        )
        .await?;
        let others = tokens::revoke_active(&mut tx, &account_id, now, Revoked::Completed).await?;
        let ended = sessions::delete_for_account(&mut tx, &account_id).await?;
        let event = match link.purpose {
            Purpose::Reset => AuditEvent::PasswordChanged,
            Purpose::Enroll => AuditEvent::Enrolled,
        };
        Audit::event(event, now)
            .tenant(&org.tenant_id)
            .account(&account_id)
            .detail(format!("sessions_ended={ended}"))
            .record(&mut tx)
            .await?;
        let locale = link.locale.unwrap_or(org.default_locale);
        let mail = OutgoingMail {
            template: MailTemplate::Changed,
            to: &account.email,
            locale,
            tenant_id: &org.tenant_id,
            params: MailParams {
                name: account.display_name.clone(),
                occurred_at: Some(now),
                login_url: Some(self.link(&format!("login?org={}", org.slug))),
                ..MailParams::default()
            },
        };
        Outbox::of(self).queue(&mut tx, mail, now).await?;
        Outbox::of(self).commit(tx).await?;
        self.observer
            .link_event(&link.token_id, LinkEvent::Completed);
        for other in &others {
            self.observer.link_event(other, LinkEvent::Superseded);
        }
        info!(account.id = %account_id, "password set through the emailed link");
        Ok(Completed {
            tenant_id: org.tenant_id.clone(),
            account_id,
            purpose: link.purpose,
        })
    }

    /// The new password, checked against the organisation's policy (which refuses its name and
    /// the username in it), hashed off the async workers.
    async fn hash_new(
        &self,
        org: &crate::org::Organisation,
        link: &LinkInfo,
        password: &NewPassword,
        confirmation: &NewPassword,
    ) -> Result<String, ResetError> {
        let words = [org.name.as_str(), org.slug.as_str(), link.username.as_str()];
        (org.policy)
            .check(password, confirmation, &words)
            .map_err(ResetError::Policy)?;
        self.hasher
            .hash(password)
            .await
            .map_err(ResetError::from_hashing)
    }

    /// "Ce n'était pas moi": cancels the link (POST only) and records who did.
    #[instrument(skip_all)]
    pub async fn cancel(&self, token: &ResetToken, who: &Requester) -> Result<(), ResetError> {
        let link = self.inspect(token).await?;
        let now = self.clock.unix();
        let mut tx = self.store.begin().await?;
        let account = tokens::revoke_one(&mut tx, &token.hash(), now, Revoked::Cancelled)
            .await?
            .ok_or(ResetError::Link(LinkProblem::Revoked))?;
        Audit::event(AuditEvent::LinkCancelled, now)
            .tenant(&link.tenant_id)
            .account(&account)
            .client(&who.key())
            .record(&mut tx)
            .await?;
        tx.commit().await.map_err(crate::store::StoreError::from)?;
        self.observer
            .link_event(&link.token_id, LinkEvent::Cancelled);
        info!(account.id = %account, "link cancelled by its recipient");
        Ok(())
    }

    /// "Ce n'était pas moi" from the requester's Teams card: cancels the link by its id.
    #[instrument(skip_all)]
    pub async fn cancel_by_id(&self, token_id: &str, who: &Requester) -> Result<(), ResetError> {
        let now = self.clock.unix();
        let mut tx = self.store.begin().await?;
        let account = tokens::account_of(&mut tx, token_id)
            .await?
            .ok_or(ResetError::Link(LinkProblem::Unknown))?;
        if !tokens::revoke_by_id(&mut tx, token_id, &account, now, Revoked::Cancelled).await? {
            return Err(ResetError::Link(LinkProblem::Revoked));
        }
        let tenant = accounts::by_id(&mut tx, &account)
            .await?
            .map(|a| a.tenant_id);
        Audit::event(AuditEvent::LinkCancelled, now)
            .tenant(tenant.as_deref())
            .account(&account)
            .client(&who.key())
            .detail("teams")
            .record(&mut tx)
            .await?;
        tx.commit().await.map_err(crate::store::StoreError::from)?;
        self.observer.link_event(token_id, LinkEvent::Cancelled);
        info!(account.id = %account, "link cancelled from Teams by its requester");
        Ok(())
    }
}

/// Links refused when opened or submitted, by reason (unknown, expired, used, revoked).
fn count_refusal(e: &ResetError) {
    if let ResetError::Link(problem) = e {
        metrics::counter!("octopus_link_refusals_total", "reason" => problem.code()).increment(1);
    }
}

/// Notes that the page behind a link was opened. The page is shown even if this fails.
async fn note_opened(store: &Store, token_id: &str, now: UnixTime) {
    let noted = async {
        let mut conn = store.write().await?;
        history::mark_opened(&mut conn, token_id, now).await
    };
    if let Err(e) = noted.await {
        warn!(error = %e, "first opening of a link not recorded");
    }
}
