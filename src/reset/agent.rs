//! Who acts on an account other than by its link: a service-desk agent, whom only the
//! organisation's configuration can vouch for, or the owner by their Teams identity.

use crate::{model::Requester, org::Organisation};

/// A service-desk agent of one organisation, as its configuration lists them at this moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    tenant_id: String,
    object_id: String,
}

impl Agent {
    /// The agent holding this Entra object id, if the organisation lists them.
    pub fn of(org: &Organisation, object_id: Option<&str>) -> Option<Self> {
        let oid = object_id?.trim().to_ascii_lowercase();
        org.helpdesk.is_agent(Some(&oid)).then(|| Self {
            tenant_id: org.tenant_id.clone(),
            object_id: oid,
        })
    }

    pub fn object_id(&self) -> &str {
        &self.object_id
    }

    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The agent as the unlock audits them: object id, and the name Teams shows for them.
    pub fn actor(&self, name: &str) -> Actor {
        Actor::Agent {
            aad_object_id: self.object_id.clone(),
            name: name.to_string(),
        }
    }

    /// The agent as rate limits and the audit (`agent:<tenant>:<object id>`) know them.
    pub fn requester(&self) -> Requester {
        Requester::Agent {
            tenant_id: self.tenant_id.clone(),
            object_id: self.object_id.clone(),
        }
    }
}

/// Who lifts the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The account's owner, by their Teams identity: their Entra object id (or, when Teams gives
    /// none, their bot-scoped user id).
    SelfService { aad_object_id: String },
    /// A service-desk agent, by their Entra object id and display name.
    Agent { aad_object_id: String, name: String },
}

impl Actor {
    /// The rate-limit bucket and audit `client` value.
    pub fn key(&self, tenant_id: &str) -> String {
        match self {
            Actor::SelfService { aad_object_id } => format!("teams:{tenant_id}:{aad_object_id}"),
            Actor::Agent { aad_object_id, .. } => format!("agent:{tenant_id}:{aad_object_id}"),
        }
    }

    /// The audit detail: who, in words (an agent by name; the owner as `self`).
    pub(super) fn detail(&self) -> String {
        match self {
            Actor::SelfService { .. } => "self".into(),
            Actor::Agent { name, .. } => format!("agent: {name}"),
        }
    }

    /// Whether this actor may unlock `account`: an agent may; a person only their own, the
    /// account their identity is bound to (an account with none bound has no owner in Teams).
    pub(super) fn may_unlock(&self, account: &crate::model::Account) -> bool {
        match self {
            Actor::Agent { .. } => true,
            Actor::SelfService { aad_object_id } => account
                .entra_object_id
                .as_deref()
                .is_some_and(|bound| aad_object_id.eq_ignore_ascii_case(bound)),
        }
    }
}
