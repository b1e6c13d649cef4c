//! Audit events: what happened, who asked (client key), never a secret.

use sqlx::AnyConnection;

use super::model::AccountId;
use crate::store::{StoreError, audit};

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
