//! Whose account the person writing to the bot is: the domain decides
//! (`ResetService::account_of_identity`), from their Entra object id and, only when that finds
//! nothing, the UPN / email the connector knows for them. The same rules for the form's
//! prefill, the username reminder and the unlock.

use tracing::debug;

use super::{Bot, activity::Activity};
use crate::{org::Organisation, reset::model::Account};

impl Bot {
    /// The account the sender's Teams identity is linked to.
    pub(super) async fn linked_account(
        &self,
        a: &Activity,
        org: &Organisation,
    ) -> anyhow::Result<Option<Account>> {
        let oid = a.from.as_ref().and_then(|f| f.aad_object_id.as_deref());
        let names = self.member_upns(a);
        Ok(self
            .reset
            .account_of_identity(&org.tenant_id, oid, names)
            .await?)
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
