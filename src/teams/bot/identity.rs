//! Whose account the person writing to the bot is: the domain decides
//! (`ResetService::account_of_identity`), from their Entra object id and, only where the
//! organisation turned the name fallback on and that finds nothing, the UPN, home tenant and role
//! the connector knows for them. The same rules for the form's prefill, the username reminder and
//! the unlock.

use crate::teams::identity::TeamsIdentities;
use tracing::debug;

use super::{Bot, activity::Activity, connector::TeamsMember};
use crate::model::Account;
use crate::{org::Organisation, teams::identity::Naming};

/// Which account the person writing is linked to.
pub(crate) struct Identities<'a> {
    reset: &'a crate::reset::ResetService,
    core: &'a super::BotCore,
}

impl<'a> Identities<'a> {
    pub(crate) fn of(bot: &'a Bot) -> Self {
        Self {
            core: &bot.core,
            reset: &bot.reset,
        }
    }
}

impl Identities<'_> {
    /// The account the sender's Teams identity is linked to.
    pub(super) async fn linked_account(
        &self,
        a: &Activity,
        org: &Organisation,
    ) -> anyhow::Result<Option<Account>> {
        let oid = a.from.as_ref().and_then(|f| f.aad_object_id.as_deref());
        let naming = self.member_naming(a);
        Ok(TeamsIdentities::of(self.reset)
            .account_of_identity(org, oid, naming)
            .await?)
    }

    /// What the connector's member look-up says of the sender: UPN, home tenant, role.
    async fn member_naming(&self, a: &Activity) -> Naming {
        let (Some(service_url), Some(from)) = (&a.service_url, &a.from) else {
            return Naming::default();
        };
        let conversation = a.team_id().unwrap_or(a.conversation_id());
        match self
            .core
            .connector
            .member(service_url, conversation, &from.id)
            .await
        {
            Ok(m) => naming(&m),
            Err(e) => {
                debug!(error = %e, "member look-up failed");
                Naming::default()
            }
        }
    }
}

/// A member as the name fallback reads them: only the role `user` is matched by name (a guest,
/// an anonymous participant, or a member whose role Teams does not say, never).
pub(crate) fn naming(m: &TeamsMember) -> Naming {
    Naming {
        upn: m.user_principal_name.clone(),
        home_tenant: m.tenant_id.clone(),
        guest: !m
            .user_role
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("user")),
    }
}
