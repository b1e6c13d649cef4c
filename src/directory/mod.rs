//! The account directory and the rules every source of it follows (`users import` from a CSV
//! file, SCIM provisioning from Entra ID): whom an account belongs to, and what ends when that
//! changes or when the account leaves the directory.

pub mod csv;
pub mod sheet;

pub use csv::{ImportError, ImportOptions, ImportReport, import_csv, import_csv_with};
pub use sheet::BadRow;

use crate::model::UnixTime;
use crate::model::{Account, AccountId, Revoked};
use crate::{
    audit::{Audit, AuditEvent},
    org::Organisation,
    store::{Conn, StoreError, accounts::NewAccount, directory, sessions, tokens},
};

/// Who changed the directory; the audit's client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `users import`.
    Import,
    /// SCIM provisioning (Entra ID).
    Scim,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Import => "import",
            Source::Scim => "scim",
        }
    }
}

/// How a source's new view of an account changes whom it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerChange {
    /// A new address; the Teams identity stays (the source names the same one, or none while
    /// the UPN stays).
    Email,
    /// Another Teams identity (a different object id) for the account.
    Identity,
    /// A new address or UPN and no object id from the source: the bound identity was the former
    /// owner's and is dropped.
    Reassigned,
}

/// Whom the account belongs to after `row`, if that changes.
pub fn owner_change(existing: &Account, row: &NewAccount) -> Option<OwnerChange> {
    let email = !existing.email.full().eq_ignore_ascii_case(row.email.full());
    let upn =
        existing.upn.as_deref().map(str::to_lowercase) != row.upn.as_deref().map(str::to_lowercase);
    match (&row.entra_object_id, &existing.entra_object_id) {
        (Some(new), Some(old)) if !new.eq_ignore_ascii_case(old) => Some(OwnerChange::Identity),
        (None, Some(_)) if email || upn => Some(OwnerChange::Reassigned),
        _ if email => Some(OwnerChange::Email),
        _ => None,
    }
}

/// Whether `row` says nothing new about the account (an object id the source leaves out is
/// kept, so it counts as the same).
pub fn same(existing: &Account, row: &NewAccount) -> bool {
    existing.username == row.username
        && existing.email.full().eq_ignore_ascii_case(row.email.full())
        && existing.display_name == row.display_name
        && existing.upn.as_deref().map(str::to_lowercase)
            == row.upn.as_deref().map(str::to_lowercase)
        && existing.locale == row.locale
        && row
            .entra_object_id
            .as_deref()
            .is_none_or(|o| existing.entra_object_id.as_deref() == Some(o))
}

/// Writes a source's view of an existing account. When it now belongs to someone else (a new
/// address, another Teams identity), the links mailed before, the sessions opened before and the
/// former identity's binding stop working, audited with the source; when another person holds it
/// (another object id, or a new address or UPN replacing a bound identity), the former owner's
/// password goes too: the new one enrols.
pub async fn update(
    tx: &mut Conn,
    org: &Organisation,
    existing: &Account,
    row: &NewAccount,
    external_id: Option<&str>,
    source: Source,
    now: UnixTime,
) -> Result<(), StoreError> {
    let change = owner_change(existing, row);
    let mut written = row.clone();
    written.entra_object_id = match change {
        Some(OwnerChange::Reassigned) => None,
        _ => row
            .entra_object_id
            .clone()
            .or_else(|| existing.entra_object_id.clone()),
    };
    directory::update(tx, &existing.id, &written, external_id, now).await?;
    let Some(change) = change else {
        return Ok(());
    };
    let (event, reason) = match change {
        OwnerChange::Email | OwnerChange::Reassigned => {
            (AuditEvent::EmailChanged, Revoked::EmailChanged)
        }
        OwnerChange::Identity => (AuditEvent::IdentityChanged, Revoked::IdentityChanged),
    };
    let (links, sessions_ended) = end_access(tx, &existing.id, reason, now).await?;
    if matches!(change, OwnerChange::Identity | OwnerChange::Reassigned) {
        directory::clear_password(tx, &existing.id).await?;
    }
    Audit::event(event, now)
        .tenant(&org.tenant_id)
        .account(&existing.id)
        .client(source.as_str())
        .detail(format!(
            "links_revoked={links} sessions_ended={sessions_ended}"
        ))
        .record(tx)
        .await
}

/// Why an account left the directory (the audit detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// The source marked it inactive (SCIM `active: false`).
    Inactive,
    /// The source deleted it (SCIM DELETE).
    Deleted,
    /// `users import --disable-missing` and the file does not list it.
    MissingFromImport,
}

impl Leaving {
    fn as_str(self) -> &'static str {
        match self {
            Leaving::Inactive => "inactive",
            Leaving::Deleted => "deleted",
            Leaving::MissingFromImport => "missing_from_import",
        }
    }
}

/// The account left the directory: its links are revoked and its sessions ended; every
/// self-service path (pages, bot, tab, credential check) then treats it as unknown. Its history
/// stays, and [`enable`] brings it back.
pub async fn disable(
    tx: &mut Conn,
    org: &Organisation,
    id: &AccountId,
    source: Source,
    why: Leaving,
    now: UnixTime,
) -> Result<(), StoreError> {
    directory::set_disabled(tx, id, Some(source.as_str()), now).await?;
    let (links, sessions_ended) = end_access(tx, id, Revoked::Disabled, now).await?;
    Audit::event(AuditEvent::AccountDisabled, now)
        .tenant(&org.tenant_id)
        .account(id)
        .client(source.as_str())
        .detail(format!(
            "{} links_revoked={links} sessions_ended={sessions_ended}",
            why.as_str()
        ))
        .record(tx)
        .await
}

/// A disabled account is back in the directory.
pub async fn enable(
    tx: &mut Conn,
    org: &Organisation,
    id: &AccountId,
    source: Source,
    now: UnixTime,
) -> Result<(), StoreError> {
    directory::set_disabled(tx, id, None, now).await?;
    Audit::event(AuditEvent::AccountEnabled, now)
        .tenant(&org.tenant_id)
        .account(id)
        .client(source.as_str())
        .record(tx)
        .await
}

/// Revokes the account's usable links and ends its sessions; how many of each.
async fn end_access(
    tx: &mut Conn,
    id: &AccountId,
    reason: Revoked,
    now: UnixTime,
) -> Result<(usize, u64), StoreError> {
    let links = tokens::revoke_active(tx, id, now, reason).await?;
    let sessions_ended = sessions::delete_for_account(tx, id).await?;
    Ok((links.len(), sessions_ended))
}
