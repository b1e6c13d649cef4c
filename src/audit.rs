//! Audit events: what happened, who asked (client key), never a secret. Written by the domain
//! and by the mail worker; counted in `octopus_events_total` as they are written.

use crate::model::UnixTime;
use crate::store::Conn;

use crate::model::AccountId;
use crate::{
    org::Organisations,
    store::{StoreError, audit, lockout},
};

/// Unlocked sign-in lock states untouched for this long are forgotten.
pub const LOCK_STATE_IDLE_SECS: i64 = 30 * 86_400;

/// What one pruning pass deleted.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pruned {
    pub audit_rows: u64,
    pub lock_states: u64,
}

/// Deletes audit rows past each organisation's retention (rows of no organisation: the longest
/// retention configured) and idle lock states. Safe to run from several instances at once.
pub async fn prune(
    conn: &mut Conn,
    orgs: &Organisations,
    now: UnixTime,
) -> Result<Pruned, StoreError> {
    let mut pruned = Pruned::default();
    let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let mut longest = 0;
    for org in orgs.iter() {
        let keep = secs(org.audit_retention);
        longest = longest.max(keep);
        pruned.audit_rows += audit::prune(conn, Some(&org.tenant_id), now.minus(keep)).await?;
    }
    pruned.audit_rows += audit::prune(conn, None, now.minus(longest)).await?;
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
    /// A link mail not sent: its link expired before the relay could take it.
    MailExpired,
    /// An operator (`mail retry`) or an agent (« Renvoyer » in the desk's channel; client: the
    /// agent) re-sent a dead letter: a fresh link was issued.
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
    /// An unlock refused; detail: `hard_lock` or `daily_limit` (self-service), or
    /// `caller_not_verified` (an agent, at a hard lock, before the caller was confirmed).
    UnlockRefused,
    /// A Teams identity bound to the account by the name fallback (client: that identity).
    IdentityBound,
    /// An import gave the account another Entra object id: its links and sessions were ended.
    IdentityChanged,
    /// The account left the directory (client: `scim` or `import`): links revoked, sessions
    /// ended, every self-service path answers « not found »; detail says how (`inactive`,
    /// `deleted`, `missing_from_import`).
    AccountDisabled,
    /// A disabled account is back in the directory (client: `scim` or `import`).
    AccountEnabled,
    /// A service-desk agent had a one-time code sent to the account's owner (client: the agent;
    /// detail: `teams` or `mail`, how it went).
    CallerCodeSent,
    /// The code the caller read back was the right one (client: the agent).
    CallerConfirmed,
    /// A wrong code typed by the agent; detail: the tries so far.
    CallerCodeWrong,
    /// The owner answered « Je n'ai pas appelé » on the code (client: the agent who asked).
    CallerDenied,
    /// A request mailed to the service desk's Octopus mailbox (client: the person; detail: the
    /// reason, where self-service ended).
    DeskRequestSent,
}

impl AuditEvent {
    /// Every event, for reading a stored name back.
    pub const ALL: [AuditEvent; 30] = [
        AuditEvent::LinkRequested,
        AuditEvent::LinkRequestedUnknownAccount,
        AuditEvent::LinkRateLimited,
        AuditEvent::LinkCancelled,
        AuditEvent::PasswordChanged,
        AuditEvent::Enrolled,
        AuditEvent::SignInOk,
        AuditEvent::SignInFailed,
        AuditEvent::SignInLocked,
        AuditEvent::SignInRateLimited,
        AuditEvent::RequestRateLimited,
        AuditEvent::MailSent,
        AuditEvent::MailDeadLettered,
        AuditEvent::MailExpired,
        AuditEvent::MailRetriedByOperator,
        AuditEvent::CredentialsChecked,
        AuditEvent::EmailChanged,
        AuditEvent::UsernameReminderRequested,
        AuditEvent::HelpdeskViewed,
        AuditEvent::AccountUnlocked,
        AuditEvent::UnlockRefused,
        AuditEvent::IdentityBound,
        AuditEvent::IdentityChanged,
        AuditEvent::AccountDisabled,
        AuditEvent::AccountEnabled,
        AuditEvent::CallerCodeSent,
        AuditEvent::CallerConfirmed,
        AuditEvent::CallerCodeWrong,
        AuditEvent::CallerDenied,
        AuditEvent::DeskRequestSent,
    ];

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
            AuditEvent::MailExpired => "mail_expired",
            AuditEvent::MailRetriedByOperator => "mail_retried_by_operator",
            AuditEvent::CredentialsChecked => "credentials_checked",
            AuditEvent::EmailChanged => "email_changed",
            AuditEvent::UsernameReminderRequested => "username_reminder_requested",
            AuditEvent::HelpdeskViewed => "helpdesk_viewed",
            AuditEvent::AccountUnlocked => "account_unlocked",
            AuditEvent::UnlockRefused => "unlock_refused",
            AuditEvent::IdentityBound => "identity_bound",
            AuditEvent::IdentityChanged => "identity_changed",
            AuditEvent::AccountDisabled => "account_disabled",
            AuditEvent::AccountEnabled => "account_enabled",
            AuditEvent::CallerCodeSent => "caller_code_sent",
            AuditEvent::CallerConfirmed => "caller_confirmed",
            AuditEvent::CallerCodeWrong => "caller_code_wrong",
            AuditEvent::CallerDenied => "caller_denied",
            AuditEvent::DeskRequestSent => "desk_request_sent",
        }
    }
}

/// A stored event name read back; an unknown one (written by a newer version) is refused.
impl std::str::FromStr for AuditEvent {
    type Err = crate::model::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditEvent::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or(crate::model::UnknownName)
    }
}

impl AuditEvent {
    /// The event's name in `octopus_events_total`: the same for every answer a person gets
    /// alike. A link request is one event whether the username is an account, is not, or was
    /// silently over its limit (the audit rows keep the difference; the metrics, which more
    /// people read, do not).
    pub fn counted_as(self) -> &'static str {
        match self {
            AuditEvent::LinkRequestedUnknownAccount | AuditEvent::LinkRateLimited => {
                AuditEvent::LinkRequested.name()
            }
            other => other.name(),
        }
    }

    /// Events that happen after the answer, only when the request named an account (a mail
    /// sent or given up on): counted with the held figures ([`crate::metrics::held`]).
    fn follows_a_request(self) -> bool {
        matches!(
            self,
            AuditEvent::MailSent | AuditEvent::MailDeadLettered | AuditEvent::MailExpired
        )
    }
}

/// One audit row and its `octopus_events_total` count, named field by field:
/// `Audit::event(AuditEvent::PasswordChanged, now).tenant(&org.tenant_id).account(&id)
/// .client(&client).detail(text).record(&mut tx).await?`. What is not set stays empty.
#[must_use = "nothing is written until `record`"]
pub struct Audit<'a> {
    event: AuditEvent,
    now: UnixTime,
    tenant_id: Option<&'a str>,
    account: Option<&'a AccountId>,
    client: Option<&'a str>,
    detail: Option<String>,
    counted: bool,
}

/// A value or an optional value, so `tenant(&org.tenant_id)` and `tenant(maybe.as_deref())`
/// both read naturally.
pub trait Maybe<'a, T: ?Sized> {
    fn maybe(self) -> Option<&'a T>;
}

impl<'a, T: ?Sized> Maybe<'a, T> for &'a T {
    fn maybe(self) -> Option<&'a T> {
        Some(self)
    }
}

impl<'a, T: ?Sized> Maybe<'a, T> for Option<&'a T> {
    fn maybe(self) -> Option<&'a T> {
        self
    }
}

impl<'a> Maybe<'a, str> for &'a String {
    fn maybe(self) -> Option<&'a str> {
        Some(self)
    }
}

/// A detail given as text, or maybe not at all.
pub trait IntoDetail {
    fn into_detail(self) -> Option<String>;
}

impl IntoDetail for String {
    fn into_detail(self) -> Option<String> {
        Some(self)
    }
}

impl IntoDetail for &str {
    fn into_detail(self) -> Option<String> {
        Some(self.to_string())
    }
}

impl IntoDetail for Option<String> {
    fn into_detail(self) -> Option<String> {
        self
    }
}

impl IntoDetail for Option<&str> {
    fn into_detail(self) -> Option<String> {
        self.map(str::to_string)
    }
}

impl<'a> Audit<'a> {
    /// `event`, happened at `now` (unix seconds).
    pub fn event(event: AuditEvent, now: UnixTime) -> Self {
        Self {
            event,
            now,
            tenant_id: None,
            account: None,
            client: None,
            detail: None,
            counted: true,
        }
    }

    /// Whether this row counts in `octopus_events_total` (default: yes). One request that
    /// writes several rows counts once.
    pub fn counted(mut self, counted: bool) -> Self {
        self.counted = counted;
        self
    }

    /// The organisation's tenant id (not personal data: it also labels the counter).
    pub fn tenant(mut self, tenant_id: impl Maybe<'a, str>) -> Self {
        self.tenant_id = tenant_id.maybe();
        self
    }

    pub fn account(mut self, account: impl Maybe<'a, AccountId>) -> Self {
        self.account = account.maybe();
        self
    }

    /// Who asked: a requester's client key (an IP, a Teams user, an agent).
    pub fn client(mut self, client: impl Maybe<'a, str>) -> Self {
        self.client = client.maybe();
        self
    }

    /// What auditors need to read the event; never a secret.
    pub fn detail(mut self, detail: impl IntoDetail) -> Self {
        self.detail = detail.into_detail();
        self
    }

    /// Counts the event and writes its row on `conn` (the caller's transaction, if any).
    pub async fn record(self, conn: &mut Conn) -> Result<(), StoreError> {
        audit::insert(conn, &self.counted_row()).await
    }

    /// `record` for several rows, in one statement.
    pub async fn record_all(
        audits: impl IntoIterator<Item = Self>,
        conn: &mut Conn,
    ) -> Result<(), StoreError> {
        let rows: Vec<audit::AuditRow> = audits.into_iter().map(Self::counted_row).collect();
        audit::insert_many(conn, &rows).await
    }

    /// The row, counted in `octopus_events_total` as it is written.
    fn counted_row(self) -> audit::AuditRow {
        // Counted when written: a transaction rolled back later still counts (rare: a database
        // failure). The tenant id is not personal data; the client and account are never labels.
        let count = || {
            metrics::counter!(
                "octopus_events_total",
                "event" => self.event.counted_as(),
                "tenant" => self.tenant_id.unwrap_or("none").to_string()
            )
            .increment(1);
        };
        match (self.counted, self.event.follows_a_request()) {
            (false, _) => {}
            (true, true) => crate::metrics::held(count),
            (true, false) => count(),
        }
        audit::AuditRow {
            occurred_at: self.now,
            tenant_id: self.tenant_id.map(str::to_string),
            account_id: self.account.map(|a| a.0.clone()),
            event: self.event.name().to_string(),
            client: self.client.map(str::to_string),
            detail: self.detail,
        }
    }
}
