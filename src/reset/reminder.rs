//! « Nom d'utilisateur oublié ? »: the username(s) of an address, mailed to that address.
//! Like a link request, the caller learns nothing: same answer and same store round-trips
//! whether or not the address belongs to an account.

use crate::model::UnixTime;
use sha2::{Digest, Sha256};
use tracing::{info, instrument};

use super::{
    ResetError,
    limits::{Limit, hit},
    service::ResetService,
};
use crate::audit::{Audit, AuditEvent};
use crate::model::{Account, AccountId, EmailAddress, Requester};
use crate::reset::limits::Bucket;
use crate::{
    i18n::Locale,
    mail::{MailParams, MailTemplate, OutgoingMail},
    org::Organisation,
    store::{Conn, StoreError, accounts},
};

/// « Identifiant oublié »: the username mailed to the address on file.
pub struct Reminders<'a> {
    links: &'a ResetService,
    outbox: super::outbox::Outbox<'a>,
}

impl<'a> Reminders<'a> {
    /// This feature of `links`, with the outbox it queues mail in.
    pub fn of(links: &'a ResetService) -> Self {
        Self {
            links,
            outbox: super::outbox::Outbox::of(links),
        }
    }
}

impl Reminders<'_> {
    /// Mails the usernames of the organisation's accounts at `email` (one mail, even when the
    /// address is shared by several accounts). Rate limited per client (visible) and per address
    /// (silent, or the answer would tell which addresses exist).
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    pub async fn remind_username(
        &self,
        org: &Organisation,
        who: &Requester,
        email: &EmailAddress,
        locale: Locale,
    ) -> Result<(), ResetError> {
        let now = self.links.clock.unix();
        let client = who.key();
        let mut conn = self.links.store.write().await?;
        self.admit(&mut conn, org, &client, now).await?;
        let address_allowed = self.address_allowed(&mut conn, org, email, now).await?;
        // Read with the writer let go: the look-up by address scans the tenant's accounts.
        drop(conn);
        let found =
            accounts::by_email(&mut *self.links.store.conn().await?, &org.tenant_id, email).await?;

        let mut tx = self.links.store.begin().await?;
        // The same sealing and the same conditional insert either way: for an unknown address
        // (or one over its limit) the insert names no account and writes nothing.
        let nobody = AccountId(format!("none:{}", uuid::Uuid::new_v4()));
        let (recipient, target, outcome) = match (found.first(), address_allowed) {
            (Some(first), true) => (&first.email, &first.id, "mailed"),
            (Some(_), false) => (email, &nobody, "rate_limited"),
            (None, _) => (email, &nobody, "unknown_address"),
        };
        let mut names: Vec<String> = Vec::new();
        for a in &found {
            if !names.contains(&a.display_name) {
                names.push(a.display_name.clone());
            }
        }
        self.outbox
            .queue_for(
                &mut tx,
                OutgoingMail {
                    template: MailTemplate::Username,
                    to: recipient,
                    locale,
                    tenant_id: &org.tenant_id,
                    params: MailParams {
                        name: names.join(", "),
                        usernames: found.iter().map(|a| a.username.to_string()).collect(),
                        login_url: Some(self.links.link(&format!("login?org={}", org.slug))),
                        ..MailParams::default()
                    },
                },
                now,
                target,
            )
            .await?;
        audit_reminder(&mut tx, org, &client, &found, outcome, now).await?;
        tx.commit().await.map_err(StoreError::from)?;
        if outcome == "mailed" {
            self.outbox.wake();
            info!(accounts = found.len(), "username reminder queued");
        } else {
            info!("username reminder answered without mail");
        }
        Ok(())
    }
}

impl Reminders<'_> {
    /// One reminder asked by `client`, on the web or in Teams: the same visible per-client
    /// allowance for both.
    async fn admit(
        &self,
        conn: &mut Conn,
        org: &Organisation,
        client: &str,
        now: UnixTime,
    ) -> Result<(), ResetError> {
        self.links
            .admit_request(
                conn,
                Some(org.tenant_id.as_str()),
                Bucket::Username { client },
                client,
                Some("username_reminder"),
                now,
            )
            .await
    }

    /// Whether `email` may be mailed again: its silent per-address allowance. The bucket names
    /// the address by a hash, so the limits table holds no address.
    async fn address_allowed(
        &self,
        conn: &mut Conn,
        org: &Organisation,
        email: &EmailAddress,
        now: UnixTime,
    ) -> Result<bool, ResetError> {
        let per_address = Limit {
            max: self.links.limits.requests_per_account,
            window_secs: self.links.limits.request_window_secs,
        };
        let address = hex::encode(Sha256::digest(email.full().to_lowercase().as_bytes()));
        let bucket = Bucket::UsernameAddress {
            tenant: &org.tenant_id,
            address_hash: &address,
        };
        Ok(hit(conn, bucket, per_address, now).await?.is_ok())
    }
}

/// One row per account the address names (the audit trail of each; one row without an account
/// when it names none), but one count per request: how many accounts share an address is not
/// for the metrics to tell.
async fn audit_reminder(
    conn: &mut Conn,
    org: &Organisation,
    client: &str,
    found: &[Account],
    outcome: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    if found.is_empty() {
        Audit::event(AuditEvent::UsernameReminderRequested, now)
            .tenant(&org.tenant_id)
            .client(client)
            .detail(outcome)
            .record(conn)
            .await?;
    }
    for (n, a) in found.iter().enumerate() {
        Audit::event(AuditEvent::UsernameReminderRequested, now)
            .tenant(&org.tenant_id)
            .account(&a.id)
            .client(client)
            .detail(outcome)
            .counted(n == 0)
            .record(conn)
            .await?;
    }
    Ok(())
}

impl Reminders<'_> {
    /// « Nom d'utilisateur oublié » in Teams: the caller shows the username of the account its
    /// Teams identity is linked to (`account`), if any. Rate limited per client like the web
    /// reminder (same bucket); audited as `username_reminder_requested` with `bot_linked` or
    /// `bot_unlinked`, never the username.
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    pub async fn remind_username_in_teams(
        &self,
        org: &Organisation,
        who: &Requester,
        account: Option<&AccountId>,
    ) -> Result<(), ResetError> {
        let now = self.links.clock.unix();
        let client = who.key();
        let mut conn = self.links.store.write().await?;
        self.admit(&mut conn, org, &client, now).await?;
        let detail = if account.is_some() {
            "bot_linked"
        } else {
            "bot_unlinked"
        };
        Audit::event(AuditEvent::UsernameReminderRequested, now)
            .tenant(&org.tenant_id)
            .account(account)
            .client(&client)
            .detail(detail)
            .record(&mut conn)
            .await?;
        Ok(())
    }
}
