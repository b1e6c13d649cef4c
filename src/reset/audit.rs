//! Audit events: what happened, who asked (client key), never a secret.

use sqlx::AnyConnection;

use super::model::AccountId;
use crate::{
    org::Organisations,
    store::{StoreError, audit, lockout},
};

/// Unlocked sign-in lock states untouched for this long are forgotten.
const LOCK_STATE_IDLE_SECS: i64 = 30 * 86_400;

/// What one pruning pass deleted.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pruned {
    pub audit_rows: u64,
    pub lock_states: u64,
}

/// Deletes audit rows past each organisation's retention (rows of no organisation: the longest
/// retention configured) and idle lock states. Safe to run from several instances at once.
pub async fn prune(
    conn: &mut AnyConnection,
    orgs: &Organisations,
    now: i64,
) -> Result<Pruned, StoreError> {
    let mut pruned = Pruned::default();
    let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let mut longest = 0;
    for org in orgs.iter() {
        let keep = secs(org.audit_retention);
        longest = longest.max(keep);
        pruned.audit_rows +=
            audit::prune(conn, Some(&org.tenant_id), now.saturating_sub(keep)).await?;
    }
    pruned.audit_rows += audit::prune(conn, None, now.saturating_sub(longest)).await?;
    pruned.lock_states = lockout::prune(conn, now - LOCK_STATE_IDLE_SECS, now).await?;
    Ok(pruned)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    LinkRequested,
    LinkRequestedUnknownAccount,
    LinkRateLimited,
    LinkCancelled,
    PasswordChanged,
    Enrolled,
    SignInOk,
    SignInFailed,
    SignInLocked,
    SignInRateLimited,
    RequestRateLimited,
    MailSent,
    /// A mail given up on: refused for good by the relay, or out of attempts.
    MailDeadLettered,
    /// An operator re-sent a dead letter (`mail retry`): a fresh link was issued.
    MailRetriedByOperator,
    CredentialsChecked,
    /// An import changed the account's email: its links and sessions were ended.
    EmailChanged,
    /// « Nom d'utilisateur oublié ? » on the web: detail says what was done (mailed, unknown
    /// address, rate limited), never the address.
    UsernameReminderRequested,
    /// A service-desk agent looked at the account's status card (client: the agent).
    HelpdeskViewed,
    /// A sign-in lock lifted without a new password; detail: `self` or `agent: NAME`.
    AccountUnlocked,
}

impl AuditEvent {
    pub fn name(self) -> &'static str {
        match self {
            AuditEvent::LinkRequested => "link_requested",
            AuditEvent::LinkRequestedUnknownAccount => "link_requested_unknown_account",
            AuditEvent::LinkRateLimited => "link_rate_limited",
            AuditEvent::LinkCancelled => "link_cancelled",
            AuditEvent::PasswordChanged => "password_changed",
            AuditEvent::Enrolled => "enrolled",
            AuditEvent::SignInOk => "signin_ok",
            AuditEvent::SignInFailed => "signin_failed",
            AuditEvent::SignInLocked => "signin_locked",
            AuditEvent::SignInRateLimited => "signin_rate_limited",
            AuditEvent::RequestRateLimited => "request_rate_limited",
            AuditEvent::MailSent => "mail_sent",
            AuditEvent::MailDeadLettered => "mail_dead_lettered",
            AuditEvent::MailRetriedByOperator => "mail_retried_by_operator",
            AuditEvent::CredentialsChecked => "credentials_checked",
            AuditEvent::EmailChanged => "email_changed",
            AuditEvent::UsernameReminderRequested => "username_reminder_requested",
            AuditEvent::HelpdeskViewed => "helpdesk_viewed",
            AuditEvent::AccountUnlocked => "account_unlocked",
        }
    }
}

pub async fn record(
    conn: &mut AnyConnection,
    now: i64,
    tenant_id: Option<&str>,
    account: Option<&AccountId>,
    event: AuditEvent,
    client: Option<&str>,
    detail: Option<String>,
) -> Result<(), StoreError> {
    // Counted when written: a transaction rolled back later still counts (rare: a database
    // failure). The tenant id is not personal data; the client and account are never labels.
    metrics::counter!(
        "octopus_events_total",
        "event" => event.name(),
        "tenant" => tenant_id.unwrap_or("none").to_string()
    )
    .increment(1);
    audit::insert(
        conn,
        &audit::AuditRow {
            occurred_at: now,
            tenant_id: tenant_id.map(str::to_string),
            account_id: account.map(|a| a.0.clone()),
            event: event.name().to_string(),
            client: client.map(str::to_string),
            detail,
        },
    )
    .await
}
