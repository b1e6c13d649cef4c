//! Requests made by a known Teams identity (the bot's cards, the tab's single sign-on): which
//! account the identity is linked to, who may see the masked address, and the records the bot
//! keeps of its requests and conversations. The bot and the tab parse and render; the rules
//! and the rows are here.

use std::future::Future;

use tracing::info;

use crate::audit::{Audit, AuditEvent};
use crate::model::{
    Account, BotRequest, ConversationRef, Purpose, RequestState, Requester, Username,
};
use crate::reset::{
    ResetError, ResetService,
    agent::Actor,
    request::{Asked, Once},
    service::{Delivery, Requested},
    unlock::{Unlock, Unlocks},
};
use crate::{
    clock::SharedClock,
    i18n::Locale,
    org::Organisation,
    store::{Store, accounts, bot as rows},
};

/// A Teams user as the domain's rate limits and audit know them: their Entra object id when
/// Teams gives it (stable across bots), else their bot-scoped `29:` id.
pub fn requester(org: &Organisation, aad_object_id: Option<&str>, user_id: &str) -> Requester {
    Requester::Teams {
        tenant_id: org.tenant_id.clone(),
        user_id: aad_object_id.unwrap_or(user_id).to_string(),
    }
}

/// A submission of the bot's request form.
pub struct CardAsk<'a> {
    /// The activity's key: the same for every delivery of it.
    pub key: &'a str,
    pub conversation_id: &'a str,
    /// The card clicked, when Teams says which.
    pub card_activity_id: Option<&'a str>,
    pub user_id: &'a str,
    pub aad_object_id: Option<&'a str>,
    pub username: &'a Username,
    pub purpose: Purpose,
    pub locale: Locale,
}

/// What a signed-in (single sign-on) request did.
pub enum SignedInRequest {
    /// The identity is linked to no account of the organisation.
    NoAccount,
    /// The link went (or not, by the limits) to the account; the owner sees the details.
    Requested(Requested),
}

/// Requests made by a known Teams identity.
pub struct TeamsIdentities<'a> {
    links: &'a ResetService,
}

impl<'a> TeamsIdentities<'a> {
    /// This feature of `links`.
    pub fn of(links: &'a ResetService) -> Self {
        Self { links }
    }
}

impl TeamsIdentities<'_> {
    /// The account a Teams identity is linked to: the one its Entra object id is bound to.
    /// Only when that finds nothing, and only where the organisation turned the name fallback
    /// on (`teams_name_fallback`), the account with no object id bound whose UPN (else, when it
    /// has none recorded, its address) is the person's UPN — for a member of the organisation's
    /// own tenant, never a guest; that first match binds the object id to the account (audited,
    /// `identity_bound`), and later matches by name find nothing more. `naming` is only awaited
    /// when the fallback runs (it may cost a call to Teams).
    pub async fn account_of_identity(
        &self,
        org: &Organisation,
        object_id: Option<&str>,
        naming: impl Future<Output = Naming>,
    ) -> Result<Option<Account>, ResetError> {
        let tenant_id = org.tenant_id.as_str();
        let Some(oid) = object_id else {
            return Ok(None);
        };
        // The form's prefill, at every click: read on this thread (`store::inline`).
        let found = match self
            .links
            .store
            .read_now(|c| accounts::by_object_id_now(c, tenant_id, oid))
        {
            Some(found) => found,
            None => {
                let mut conn = self.links.store.conn().await?;
                accounts::by_identity(&mut conn, tenant_id, Some(oid), None).await?
            }
        };
        if found.is_some() || !org.teams_name_fallback {
            return Ok(found);
        }
        let naming = naming.await;
        let Some(upn) = naming.upn_for(org) else {
            return Ok(None);
        };
        self.bind_by_upn(org, oid, upn).await
    }

    /// The name fallback's one match: binds `oid` to the unbound account whose UPN is `upn`.
    async fn bind_by_upn(
        &self,
        org: &Organisation,
        oid: &str,
        upn: &str,
    ) -> Result<Option<Account>, ResetError> {
        let now = self.links.clock.unix();
        let mut tx = self.links.store.begin().await?;
        let Some(mut account) =
            accounts::by_identity(&mut tx, &org.tenant_id, None, Some(upn)).await?
        else {
            return Ok(None);
        };
        if !accounts::bind_object_id(&mut tx, &account.id, upn, oid).await? {
            // Bound meanwhile (or this object id already has an account): names no longer count.
            return Ok(None);
        }
        Audit::event(AuditEvent::IdentityBound, now)
            .tenant(&org.tenant_id)
            .account(&account.id)
            .client(format!("teams:{}:{oid}", org.tenant_id).as_str())
            .detail("upn")
            .record(&mut tx)
            .await?;
        tx.commit().await.map_err(crate::store::StoreError::from)?;
        info!(account.id = %account.id, "Teams identity bound to the account by its UPN (name fallback)");
        account.entra_object_id = Some(oid.to_ascii_lowercase());
        Ok(Some(account))
    }

    /// The tab's « send me the link », for the account the sign-in names. The requester is
    /// its owner, so the delivery's details are theirs to see.
    pub async fn request_for_identity(
        &self,
        org: &Organisation,
        object_id: Option<&str>,
        naming: Naming,
        purpose: Purpose,
        locale: Locale,
    ) -> Result<SignedInRequest, ResetError> {
        let Some(account) = self
            .account_of_identity(org, object_id, async { naming })
            .await?
        else {
            return Ok(SignedInRequest::NoAccount);
        };
        let who = Requester::Tab {
            tenant_id: org.tenant_id.clone(),
            object_id: object_id.map_or_else(|| account.id.to_string(), str::to_string),
        };
        let requested = self
            .links
            .request(org, &who, &account.username, purpose, locale)
            .await?;
        Ok(SignedInRequest::Requested(requested))
    }

    /// The tab's « Déverrouiller mon compte »: the account the sign-in names, and only that one.
    pub async fn unlock_for_identity(
        &self,
        org: &Organisation,
        object_id: Option<&str>,
        naming: Naming,
        locale: Locale,
    ) -> Result<Unlock, ResetError> {
        let Some(account) = self
            .account_of_identity(org, object_id, async { naming })
            .await?
        else {
            return Ok(Unlock::NoAccount);
        };
        let actor = Actor::SelfService {
            aad_object_id: object_id.map_or_else(|| account.id.to_string(), str::to_string),
        };
        Unlocks::of(self.links)
            .unlock(org, &account.id, &actor, Some(locale))
            .await
    }

    /// The bot's request form submitted: the link at most once per activity, and the request
    /// its card shows when the sender owns the account (`None`: the uniform answer). A
    /// redelivery is answered from what its first delivery recorded.
    pub async fn request_from_card(
        &self,
        org: &Organisation,
        ask: &CardAsk<'_>,
    ) -> Result<Option<BotRequest>, ResetError> {
        let who = requester(org, ask.aad_object_id, ask.user_id);
        let keep = |d: &Delivery| {
            is_owner(d, ask.aad_object_id).then(|| BotRequest {
                token_id: d.token_id.clone(),
                tenant_id: org.tenant_id.clone(),
                conversation_id: ask.conversation_id.to_string(),
                card_activity_id: ask.card_activity_id.map(str::to_string),
                user_id: ask.user_id.to_string(),
                aad_object_id: ask.aad_object_id.map(str::to_string),
                locale: ask.locale.tag().to_string(),
                purpose: ask.purpose,
                masked_email: Some(d.email.masked()),
                expires_at: d.expires_at,
                state: RequestState::Sent,
            })
        };
        let once = Once {
            key: ask.key,
            keep: &keep,
        };
        let asked = self
            .links
            .request_once(org, &who, ask.username, ask.purpose, ask.locale, &once)
            .await?;
        match asked {
            Asked::First { kept, .. } => Ok(kept.map(|k| *k)),
            Asked::Repeat => {
                info!("redelivered submission answered from what its first delivery did");
                let mut conn = self.links.store.conn().await?;
                let made = rows::handled_activity(&mut conn, ask.key).await?.flatten();
                Ok(match made {
                    Some(id) => rows::request(&mut conn, &id).await?,
                    None => None,
                })
            }
        }
    }

    /// "Ce n'était pas moi" on the requester's own card: cancels the link and marks the card's
    /// request cancelled. `None` when `user_id` did not make that request.
    pub async fn cancel_from_card(
        &self,
        org: &Organisation,
        request_id: &str,
        user_id: &str,
    ) -> Result<Option<BotRequest>, ResetError> {
        let records = self.teams_records();
        let Some(request) = records.own_request(request_id, user_id).await? else {
            return Ok(None);
        };
        let who = requester(org, request.aad_object_id.as_deref(), &request.user_id);
        match self.links.cancel_by_id(request_id, &who).await {
            Ok(()) | Err(ResetError::Link(_)) => {}
            Err(e) => return Err(e),
        }
        records
            .set_state(request_id, RequestState::Cancelled)
            .await?;
        records.own_request(request_id, user_id).await
    }

    pub fn teams_records(&self) -> TeamsRecords {
        TeamsRecords::new(self.links.store.clone(), self.links.clock.clone())
    }
}

/// The address, and the live status, only for the account's owner: the one whose Entra object
/// id is bound to it.
fn is_owner(d: &Delivery, aad_object_id: Option<&str>) -> bool {
    d.entra_object_id
        .as_deref()
        .is_some_and(|theirs| aad_object_id.is_some_and(|mine| mine.eq_ignore_ascii_case(theirs)))
}

/// What Teams or Entra says of a person besides their object id: what the name fallback may
/// use, and whether it may.
#[derive(Debug, Clone, Default)]
pub struct Naming {
    /// Their user principal name. Never `mail` / `email` (Exchange admins and directory sync
    /// set it) and never `preferred_username` (documented as mutable).
    pub upn: Option<String>,
    /// The tenant their account lives in: the member's `tenantId`, a member token's `tid`.
    pub home_tenant: Option<String>,
    /// A guest or external user (Teams `userRole`, a token's `acct` / `idp`).
    pub guest: bool,
}

impl Naming {
    /// The UPN, when the name fallback may use it for `org`: a member of its own tenant.
    pub fn upn_for(&self, org: &Organisation) -> Option<&str> {
        let own = self
            .home_tenant
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(&org.tenant_id));
        (own && !self.guest && org.teams_name_fallback)
            .then_some(self.upn.as_deref())
            .flatten()
            .map(str::trim)
            .filter(|u| !u.is_empty())
    }
}

/// The bot's records: conversation references and its requests' cards. Cheap to clone.
#[derive(Clone)]
pub struct TeamsRecords {
    store: Store,
    clock: SharedClock,
}

impl TeamsRecords {
    pub fn new(store: Store, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    pub async fn save_conversation(&self, r: &ConversationRef) -> Result<(), ResetError> {
        let mut conn = self.store.write().await?;
        rows::save_conversation(&mut conn, r, self.clock.unix()).await?;
        Ok(())
    }

    /// Forgets a conversation closed to the bot; returns whether one was held.
    pub async fn forget_conversation(&self, conversation_id: &str) -> Result<bool, ResetError> {
        let mut conn = self.store.write().await?;
        Ok(rows::forget_conversation(&mut conn, conversation_id).await?)
    }

    /// The newest personal chat of this Entra identity with the bot, if it has one.
    pub async fn personal_conversation(
        &self,
        org: &Organisation,
        aad_object_id: &str,
    ) -> Result<Option<ConversationRef>, ResetError> {
        let mut conn = self.store.conn().await?;
        Ok(rows::personal_conversation(&mut conn, &org.chat_tenants(), aad_object_id).await?)
    }

    /// Where the Bot Connector serves the organisation: the serviceUrl of its latest activity.
    pub async fn latest_service_url(
        &self,
        org: &Organisation,
    ) -> Result<Option<String>, ResetError> {
        let mut conn = self.store.conn().await?;
        for tenant in org.chat_tenants() {
            if let Some((url, _)) =
                crate::store::campaign::latest_endpoint(&mut conn, tenant).await?
            {
                return Ok(Some(url));
            }
        }
        Ok(None)
    }

    /// Remembers which card shows a request (to update it in place later).
    pub async fn set_card(&self, token_id: &str, card_activity_id: &str) -> Result<(), ResetError> {
        let mut conn = self.store.write().await?;
        rows::set_card(&mut conn, token_id, card_activity_id).await?;
        Ok(())
    }

    /// The request `request_id`, if `user_id` made it.
    pub async fn own_request(
        &self,
        request_id: &str,
        user_id: &str,
    ) -> Result<Option<BotRequest>, ResetError> {
        let mut conn = self.store.conn().await?;
        let request = rows::request(&mut conn, request_id).await?;
        Ok(request.filter(|r| r.user_id == user_id))
    }

    async fn set_state(&self, token_id: &str, state: RequestState) -> Result<bool, ResetError> {
        let mut conn = self.store.write().await?;
        Ok(rows::set_state(&mut conn, token_id, state, self.clock.unix()).await?)
    }

    /// Moves the request made from Teams for `token_id` to `state`. `None` when nothing moved
    /// (not a Teams request, or already there or final); else the request and where its card is.
    pub async fn moved(
        &self,
        token_id: &str,
        state: RequestState,
    ) -> Result<Option<(BotRequest, Option<ConversationRef>)>, ResetError> {
        let mut conn = self.store.write().await?;
        if !rows::set_state(&mut conn, token_id, state, self.clock.unix()).await? {
            return Ok(None);
        }
        let Some(request) = rows::request(&mut conn, token_id).await? else {
            return Ok(None);
        };
        let reference = rows::conversation(&mut conn, &request.conversation_id).await?;
        Ok(Some((request, reference)))
    }
}
