//! Issuing a link: older ones superseded, the new one stored (its hash only) and its mail
//! queued, all in the caller's transaction; the same work for a request that names no account.

use super::{
    ResetError,
    service::{Delivery, ResetService},
};
use crate::model::{Account, AccountId, EmailAddress, Purpose, ResetToken};
use crate::{
    i18n::Locale,
    mail::{MailParams, MailTemplate, OutgoingMail, enqueue_for_account},
    org::Organisation,
    store::{accounts, tokens},
};

/// The recipient of the mail sealed (and never written) for a request that names no account.
const NOBODY: &str = "nobody@octopus-teams.invalid";

impl ResetService {
    /// Supersedes older links, stores the new one (hash only) and queues its mail, for
    /// `account`; for `None` the same work and statements with an id that matches no account,
    /// so nothing is written and nothing is returned.
    pub(super) async fn issue(
        &self,
        conn: &mut crate::store::Conn,
        org: &Organisation,
        account: Option<&Account>,
        purpose: Purpose,
        locale: Locale,
        now: i64,
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
        let superseded = tokens::revoke_active(conn, account_id, now, "superseded").await?;
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
        let queued = enqueue_for_account(
            conn,
            &self.key,
            OutgoingMail {
                template,
                to: &email,
                locale,
                tenant_id: &org.tenant_id,
                params,
            },
            &self.message_domain(),
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
