//! Enrolment campaigns' records: who a campaign is for (accounts that never had a password, less
//! those it already wrote to), where the bot can reach them (stored 1:1 conversations, the
//! organisation's connector endpoint), and the claims that keep a campaign from writing twice to
//! one person. The bot's `campaign enroll` decides what to post and posts it; the rows are here.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use secrecy::SecretString;

use crate::model::{Account, ConversationRef};
use crate::reset::ResetError;
use crate::{
    clock::SharedClock,
    org::Organisation,
    store::{Store, accounts, bot as conversations, campaign as sends},
};

/// Who a campaign is for, in one organisation.
#[derive(Debug, Default)]
pub struct Candidates {
    /// Accounts that never had a password.
    pub never_enrolled: usize,
    /// Accounts with a password.
    pub already_enrolled: usize,
    /// The never-enrolled accounts the campaign holds no claim for (username order).
    pub pending: Vec<Account>,
}

/// Where the organisation's 1:1 chats are created and its rosters read: the serviceUrl and bot
/// id of its most recent activity (Teams' serviceUrl is per region, stable per tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub service_url: String,
    pub bot_id: String,
}

/// What the bot's stored conversations give a campaign.
#[derive(Debug, Default)]
pub struct Known {
    /// Per wanted account id: the newest stored 1:1 conversation naming its Entra object id.
    pub conversations: HashMap<String, ConversationRef>,
    pub endpoint: Option<Endpoint>,
}

/// How a claimed send ended when something may have been delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Sent,
    /// The connector may have taken it: never tried again in this campaign.
    Uncertain,
}

impl Delivered {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Uncertain => "uncertain",
        }
    }
}

/// The campaigns' records. Cheap to clone.
#[derive(Clone)]
pub struct Campaigns {
    store: Store,
    clock: SharedClock,
}

impl Campaigns {
    /// Opens (and migrates) the database at `database_url`.
    pub async fn connect(database_url: &SecretString, clock: SharedClock) -> anyhow::Result<Self> {
        let store = Store::connect(database_url)
            .await
            .context("cannot open the database")?;
        store.migrate().await?;
        Ok(Self { store, clock })
    }

    /// The organisation's accounts without a password that campaign `name` has not claimed.
    pub async fn candidates(&self, tenant_id: &str, name: &str) -> Result<Candidates, ResetError> {
        let mut conn = self.store.conn().await?;
        let all = accounts::list(&mut conn, Some(tenant_id)).await?;
        let claimed = sends::claimed(&mut conn, name).await?;
        let (never, enrolled): (Vec<Account>, Vec<Account>) =
            all.into_iter().partition(|a| a.password_hash.is_none());
        let never_enrolled = never.len();
        let pending = never
            .into_iter()
            .filter(|a| !claimed.contains(&a.id.0))
            .collect();
        Ok(Candidates {
            never_enrolled,
            already_enrolled: enrolled.len(),
            pending,
        })
    }

    /// The stored 1:1 conversations of the `wanted` accounts, and the organisation's endpoint.
    /// The organisation's own tenant first; in local-development mode also the tenants its local
    /// test clients send (the Agents Playground files its chats under a made-up one).
    pub async fn known(
        &self,
        org: &Organisation,
        wanted: &HashSet<&str>,
    ) -> Result<Known, ResetError> {
        let mut found = Known::default();
        let mut conn = self.store.conn().await?;
        for tenant in &org.chat_tenants() {
            for reference in sends::personal_conversations(&mut conn, tenant).await? {
                let oid = reference.aad_object_id.as_deref();
                if let Some(acc) =
                    accounts::by_identity(&mut conn, &org.tenant_id, oid, None).await?
                    && wanted.contains(acc.id.0.as_str())
                {
                    found.conversations.entry(acc.id.0).or_insert(reference);
                }
            }
            if found.endpoint.is_none() {
                found.endpoint = sends::latest_endpoint(&mut conn, tenant).await?.map(
                    |(service_url, bot_id)| Endpoint {
                        service_url,
                        bot_id,
                    },
                );
            }
        }
        Ok(found)
    }

    /// The account a team member owns, by the bot's rules: their Entra object id; else, where
    /// the organisation turned the name fallback on, their UPN (a member of its own tenant only,
    /// for an account with no object id bound). Nothing is bound here: the person's first
    /// answer to the card binds, as any activity does.
    pub async fn owner(
        &self,
        org: &Organisation,
        object_id: Option<&str>,
        naming: &crate::teams::identity::Naming,
    ) -> Result<Option<Account>, ResetError> {
        let mut conn = self.store.conn().await?;
        if let Some(oid) = object_id
            && let Some(acc) =
                accounts::by_identity(&mut conn, &org.tenant_id, Some(oid), None).await?
        {
            return Ok(Some(acc));
        }
        Ok(match naming.upn_for(org) {
            Some(upn) => accounts::by_identity(&mut conn, &org.tenant_id, None, Some(upn)).await?,
            None => None,
        })
    }

    /// Claims `account_id` for campaign `name` before its card is posted: `false` when the
    /// campaign already holds it (another run took it) or the person has set a password since.
    pub async fn claim(
        &self,
        name: &str,
        tenant_id: &str,
        account_id: &str,
    ) -> Result<bool, ResetError> {
        let mut conn = self.store.write().await?;
        Ok(sends::claim(&mut conn, name, tenant_id, account_id, self.clock.unix()).await?)
    }

    /// Records how a claimed send ended, in which conversation.
    pub async fn settle(
        &self,
        name: &str,
        account_id: &str,
        how: Delivered,
        conversation_id: &str,
    ) -> Result<(), ResetError> {
        let mut conn = self.store.write().await?;
        sends::settle(
            &mut conn,
            name,
            account_id,
            how.as_str(),
            Some(conversation_id),
            self.clock.unix(),
        )
        .await?;
        Ok(())
    }

    /// Gives a claim back (nothing was delivered: the next run tries again), and forgets
    /// `closed`, a conversation Teams says is gone.
    pub async fn release(
        &self,
        name: &str,
        account_id: &str,
        closed: Option<&str>,
    ) -> Result<(), ResetError> {
        let mut conn = self.store.write().await?;
        sends::release(&mut conn, name, account_id).await?;
        if let Some(c) = closed {
            conversations::forget_conversation(&mut conn, c).await?;
        }
        Ok(())
    }

    /// Remembers a 1:1 chat the campaign created.
    pub async fn save_conversation(&self, r: &ConversationRef) -> Result<(), ResetError> {
        let mut conn = self.store.write().await?;
        conversations::save_conversation(&mut conn, r, self.clock.unix()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_stored_as_their_names() {
        assert_eq!(Delivered::Sent.as_str(), "sent");
        assert_eq!(Delivered::Uncertain.as_str(), "uncertain");
    }
}
