//! Whose account the person writing to the bot is: the one their Entra object id is bound to,
//! else (for an account with none bound) the one whose UPN / email the connector knows for them.
//! The same rules for the form's prefill, the username reminder and the unlock.

use tracing::debug;

use super::{Bot, activity::Activity};
use crate::{org::Organisation, reset::model::Account, store::accounts};

impl Bot {
    /// The account the sender's Teams identity is linked to.
    pub(super) async fn linked_account(
        &self,
        a: &Activity,
        org: &Organisation,
    ) -> anyhow::Result<Option<Account>> {
        let oid = a.from.as_ref().and_then(|f| f.aad_object_id.clone());
        {
            let mut conn = self.core.store.conn().await?;
            if let Some(acc) =
                accounts::by_identity(&mut conn, &org.tenant_id, oid.as_deref(), None).await?
            {
                return Ok(Some(acc));
            }
        }
        for upn in self.member_upns(a).await {
            let mut conn = self.core.store.conn().await?;
            if let Some(acc) =
                accounts::by_identity(&mut conn, &org.tenant_id, None, Some(&upn)).await?
            {
                return Ok(Some(acc));
            }
        }
        Ok(None)
    }

    /// The UPN and email of the sender, from the connector's member look-up.
    pub(super) async fn member_upns(&self, a: &Activity) -> Vec<String> {
        let (Some(service_url), Some(from)) = (&a.service_url, &a.from) else {
            return Vec::new();
        };
        let conversation = a.team_id().unwrap_or(a.conversation_id());
        match self
            .core
            .connector
            .member(service_url, conversation, &from.id)
            .await
        {
            Ok(m) => m.user_principal_name.into_iter().chain(m.email).collect(),
            Err(e) => {
                debug!(error = %e, "member look-up failed");
                Vec::new()
            }
        }
    }
}
