//! « Nom d'utilisateur oublié ? »: the username(s) of an address, mailed to that address.
//! Like a link request, the caller learns nothing: same answer and same store round-trips
//! whether or not the address belongs to an account.

use sha2::{Digest, Sha256};
use tracing::{info, instrument};

use super::{
    ResetError,
    limits::{Limit, hit},
    service::ResetService,
};
use crate::audit::{Audit, AuditEvent};
use crate::model::{AccountId, EmailAddress, Requester};
use crate::reset::limits::Bucket;
use crate::{
    i18n::Locale,
    mail::{MailParams, MailTemplate, OutgoingMail, enqueue_for_account},
    org::Organisation,
    store::{StoreError, accounts},
};

/// « Identifiant oublié »: the username mailed to the address on file.
pub struct Reminders<'a> {
    links: &'a ResetService,
    clock: &'a crate::clock::SharedClock,
    key: &'a crate::service_key::ServiceKey,
    limits: &'a crate::config::Limits,
    mail_wake: &'a std::sync::Arc<tokio::sync::Notify>,
    store: &'a crate::store::Store,
}

impl<'a> Reminders<'a> {
    /// This feature of `links`, borrowing only what it uses.
    pub fn of(links: &'a ResetService) -> Self {
        Self {
            links,
            clock: &links.clock,
            key: &links.key,
            limits: &links.limits,
            mail_wake: &links.mail_wake,
            store: &links.store,
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
        let now = self.clock.unix();
        let client = who.key();
        let mut conn = self.store.write().await?;
        let tenant = Some(org.tenant_id.as_str());
        self.links
            .admit_request(
                &mut conn,
                tenant,
                Bucket::Username { client: &client },
                &client,
                Some("username_reminder"),
                now,
            )
            .await?;
        let per_address = Limit {
            max: self.limits.requests_per_account,
            window_secs: self.limits.request_window_secs,
        };
        // The bucket names the address by a hash: the limits table holds no address.
        let address = hex::encode(Sha256::digest(email.full().to_lowercase().as_bytes()));
        let address_allowed = hit(
            &mut conn,
            Bucket::UsernameAddress {
                tenant: &org.tenant_id,
                address_hash: &address,
            },
            per_address,
            now,
        )
        .await?
        .is_ok();
        // Read with the writer let go: the look-up by address scans the tenant's accounts.
        drop(conn);
        let found =
            accounts::by_email(&mut *self.store.conn().await?, &org.tenant_id, email).await?;

        let mut tx = self.store.begin().await?;
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
        enqueue_for_account(
            &mut tx,
            self.key,
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
            &self.links.message_domain(),
            now,
            target,
        )
        .await?;
        // One row per account the address names (the audit trail of each), but one count per
        // request: how many accounts share an address is not for the metrics to tell.
        if found.is_empty() {
            Audit::event(AuditEvent::UsernameReminderRequested, now)
                .tenant(&org.tenant_id)
                .client(&client)
                .detail(outcome)
                .record(&mut tx)
                .await?;
        }
        for (n, a) in found.iter().enumerate() {
            Audit::event(AuditEvent::UsernameReminderRequested, now)
                .tenant(&org.tenant_id)
                .account(&a.id)
                .client(&client)
                .detail(outcome)
                .counted(n == 0)
                .record(&mut tx)
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        if outcome == "mailed" {
            self.mail_wake.notify_one();
            info!(accounts = found.len(), "username reminder queued");
        } else {
            info!("username reminder answered without mail");
        }
        Ok(())
    }
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
        let now = self.clock.unix();
        let client = who.key();
        let mut conn = self.store.write().await?;
        let tenant = Some(org.tenant_id.as_str());
        self.links
            .admit_request(
                &mut conn,
                tenant,
                Bucket::Username { client: &client },
                &client,
                Some("username_reminder"),
                now,
            )
            .await?;
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
