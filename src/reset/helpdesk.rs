//! The service desk's view of an account: who is an agent, what happened to the account
//! (requests, mail, links, lockout, sign-ins), and the agent's "resend the link". Every agent
//! action needs an [`Agent`], which only the organisation's configuration can vouch for.

use tracing::{info, instrument, warn};

use super::{
    ResetError, ResetService,
    audit::{AuditEvent, record},
    model::{EmailAddress, Purpose, Requester, Username},
    signin::lock_subject,
};
use crate::{
    i18n::Locale,
    org::Organisation,
    store::{Store, accounts, history, lockout},
};

/// How many links, mails and audit rows of the account the status reads.
const LINKS: i64 = 5;
const MAILS: i64 = 5;
const AUDIT_ROWS: i64 = 20;
/// How many lines the timeline keeps (newest).
const TIMELINE: usize = 12;

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

    /// The agent as rate limits and the audit (`agent:<tenant>:<object id>`) know them.
    pub fn requester(&self) -> Requester {
        Requester::Agent {
            tenant_id: self.tenant_id.clone(),
            object_id: self.object_id.clone(),
        }
    }
}

/// Who set something in motion, as the audit's client key tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The person, from Teams, the tab or a browser.
    Person,
    /// A service-desk agent (the helpdesk card).
    Agent,
    /// An operator on the command line (`mail retry`).
    Operator,
}

impl By {
    fn of_client(client: Option<&str>) -> Self {
        match client {
            Some(c) if c.starts_with("agent:") => By::Agent,
            None => By::Operator,
            Some(_) => By::Person,
        }
    }
}

/// What a mail was, by its template name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Reset,
    Enroll,
    Changed,
    Other,
}

impl MailKind {
    fn of(template: &str) -> Self {
        match template {
            "reset" => MailKind::Reset,
            "enroll" => MailKind::Enroll,
            "changed" => MailKind::Changed,
            _ => MailKind::Other,
        }
    }
}

/// One line of the account's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening {
    Requested {
        purpose: Purpose,
        by: By,
    },
    MailQueued(MailKind),
    MailSent(MailKind),
    /// Attempts failed; the outbox tries again.
    MailRetrying {
        mail: MailKind,
        attempts: i64,
    },
    /// Given up on (refused for good, or out of attempts).
    MailDead(MailKind),
    LinkOpened,
    LinkUsed,
    LinkExpired,
    LinkSuperseded,
    LinkCancelled,
    PasswordChanged,
    Enrolled,
    SignInLocked,
    Unlocked {
        by: By,
    },
    EmailChanged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub at: i64,
    pub what: Happening,
}

/// What the agent's card shows about one account. The address is masked when displayed.
#[derive(Debug, Clone)]
pub struct AccountStatus {
    pub username: Username,
    pub display_name: String,
    pub email: EmailAddress,
    pub enrolled: bool,
    /// Sign-in refused until then; `i64::MAX`: until a new password is set.
    pub locked_until: Option<i64>,
    pub last_signin: Option<i64>,
    /// A link is usable now, until then.
    pub active_link_until: Option<i64>,
    /// Newest first.
    pub events: Vec<Event>,
}

/// What "resend the link" did.
#[derive(Debug, Clone)]
pub enum Resent {
    /// A fresh link is on its way to this address.
    Sent {
        email: EmailAddress,
        expires_at: i64,
    },
    /// The account's own request allowance is used up: nothing was sent.
    AccountLimited,
    NoAccount,
}

/// The audit rows the timeline shows (sign-in checks are summed up as "last sign-in").
const SHOWN: [&str; 7] = [
    "link_requested",
    "mail_retried_by_operator",
    "password_changed",
    "enrolled",
    "signin_locked",
    "account_unlocked",
    "email_changed",
];

impl ResetService {
    /// The account's status for `agent`; `None` when no account has this username. The look is
    /// audited with the agent's identity.
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    pub async fn account_status(
        &self,
        org: &Organisation,
        agent: &Agent,
        username: &Username,
    ) -> Result<Option<AccountStatus>, ResetError> {
        let now = self.clock.unix();
        let mut conn = self.store.conn().await?;
        let account = accounts::by_username(&mut conn, &org.tenant_id, username).await?;
        record(
            &mut conn,
            now,
            Some(&org.tenant_id),
            account.as_ref().map(|a| &a.id),
            AuditEvent::HelpdeskViewed,
            Some(&agent.requester().key()),
            None,
        )
        .await?;
        let Some(account) = account else {
            return Ok(None);
        };
        let id = account.id.0.as_str();
        let links = history::links(&mut conn, id, LINKS).await?;
        let mails = history::mails(&mut conn, &org.tenant_id, account.email.full(), MAILS).await?;
        let rows = history::events(&mut conn, id, &SHOWN, AUDIT_ROWS).await?;
        let last_signin = history::last(&mut conn, id, AuditEvent::SignInOk.name()).await?;
        let subject = lock_subject(account.username.as_str());
        let locked_until = lockout::locked_until(&mut conn, &org.tenant_id, &subject)
            .await?
            .filter(|&until| until > now);
        let active_link_until = links
            .iter()
            .find(|l| l.used_at.is_none() && l.revoked_at.is_none() && l.expires_at > now)
            .map(|l| l.expires_at);
        Ok(Some(AccountStatus {
            events: timeline(&links, &mails, &rows, now),
            username: account.username,
            display_name: account.display_name,
            email: account.email,
            enrolled: account.password_hash.is_some(),
            locked_until,
            last_signin,
            active_link_until,
        }))
    }

    /// « Renvoyer le lien »: the account's own request path (its limits, superseding, audit),
    /// asked by the agent: a reset link, or an enrolment link for an account without password.
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    pub async fn resend_for_agent(
        &self,
        org: &Organisation,
        agent: &Agent,
        username: &Username,
        locale: Locale,
    ) -> Result<Resent, ResetError> {
        let account = {
            let mut conn = self.store.conn().await?;
            accounts::by_username(&mut conn, &org.tenant_id, username).await?
        };
        let Some(account) = account else {
            return Ok(Resent::NoAccount);
        };
        let purpose = match account.password_hash {
            Some(_) => Purpose::Reset,
            None => Purpose::Enroll,
        };
        let locale = account.locale.unwrap_or(locale);
        let done = self
            .request(org, &agent.requester(), username, purpose, locale)
            .await?;
        Ok(match done.delivery {
            Some(d) => {
                info!(account.id = %d.account_id, "link re-sent by a service-desk agent");
                Resent::Sent {
                    email: d.email,
                    expires_at: d.expires_at,
                }
            }
            None => Resent::AccountLimited,
        })
    }
}

/// Notes that the page behind a link was opened. The page is shown even if this fails.
pub(crate) async fn note_opened(store: &Store, token_id: &str, now: i64) {
    let noted = async {
        let mut conn = store.conn().await?;
        history::mark_opened(&mut conn, token_id, now).await
    };
    if let Err(e) = noted.await {
        warn!(error = %e, "first opening of a link not recorded");
    }
}

/// The account's history, newest first: the audit rows shown, each link's fate and each mail's.
fn timeline(
    links: &[history::LinkRow],
    mails: &[history::MailRow],
    rows: &[history::EventRow],
    now: i64,
) -> Vec<Event> {
    let mut events = Vec::new();
    let mut push = |at: i64, what: Happening| events.push(Event { at, what });
    for r in rows {
        let by = By::of_client(r.client.as_deref());
        let purpose = r
            .detail
            .as_deref()
            .and_then(|d| d.split_whitespace().next())
            .and_then(Purpose::parse)
            .unwrap_or(Purpose::Reset);
        let what = match r.event.as_str() {
            "link_requested" => Happening::Requested { purpose, by },
            "mail_retried_by_operator" => Happening::Requested {
                purpose,
                by: By::Operator,
            },
            "password_changed" => Happening::PasswordChanged,
            "enrolled" => Happening::Enrolled,
            "signin_locked" => Happening::SignInLocked,
            "account_unlocked" => Happening::Unlocked { by },
            "email_changed" => Happening::EmailChanged,
            _ => continue,
        };
        push(r.occurred_at, what);
    }
    for l in links {
        if let Some(at) = l.opened_at {
            push(at, Happening::LinkOpened);
        }
        match (l.used_at, l.revoked_at, l.revoked_reason.as_deref()) {
            (Some(at), _, _) => push(at, Happening::LinkUsed),
            (None, Some(at), Some("superseded")) => push(at, Happening::LinkSuperseded),
            (None, Some(at), Some("cancelled")) => push(at, Happening::LinkCancelled),
            // Revoked because another link was used: that one's "used" line tells it.
            (None, Some(_), _) => {}
            (None, None, _) if l.expires_at <= now => push(l.expires_at, Happening::LinkExpired),
            (None, None, _) => {}
        }
    }
    for m in mails {
        let kind = MailKind::of(&m.template);
        match (m.sent_at, m.dead_at) {
            (Some(at), _) => push(at, Happening::MailSent(kind)),
            (None, Some(at)) => push(at, Happening::MailDead(kind)),
            (None, None) if m.failed => push(
                m.created_at,
                Happening::MailRetrying {
                    mail: kind,
                    attempts: m.attempts,
                },
            ),
            (None, None) => push(m.created_at, Happening::MailQueued(kind)),
        }
    }
    // Newest first; at the same second, in the order things happen (requested before sent).
    events.sort_by_key(|e| (std::cmp::Reverse(e.at), std::cmp::Reverse(order(e.what))));
    // A locked account refuses every try: one line per run of refusals is enough.
    events.dedup_by(|later, earlier| {
        later.what == Happening::SignInLocked && earlier.what == Happening::SignInLocked
    });
    events.truncate(TIMELINE);
    events
}

/// Rank of what happens first within one second.
fn order(h: Happening) -> u8 {
    match h {
        Happening::Requested { .. } | Happening::EmailChanged => 0,
        Happening::LinkSuperseded => 1,
        Happening::MailQueued(_) | Happening::MailRetrying { .. } => 2,
        Happening::MailSent(_) | Happening::MailDead(_) => 3,
        Happening::LinkOpened => 4,
        Happening::LinkUsed | Happening::LinkCancelled | Happening::LinkExpired => 5,
        Happening::PasswordChanged | Happening::Enrolled => 6,
        Happening::SignInLocked | Happening::Unlocked { .. } => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(created: i64, expires: i64) -> history::LinkRow {
        history::LinkRow {
            purpose: "reset".into(),
            created_at: created,
            expires_at: expires,
            opened_at: None,
            used_at: None,
            revoked_at: None,
            revoked_reason: None,
        }
    }

    fn row(at: i64, event: &str, client: Option<&str>, detail: Option<&str>) -> history::EventRow {
        history::EventRow {
            occurred_at: at,
            event: event.into(),
            client: client.map(str::to_string),
            detail: detail.map(str::to_string),
        }
    }

    #[test]
    fn a_journey_reads_newest_first_and_in_order_within_a_second() {
        let mut used = link(100, 1900);
        used.opened_at = Some(200);
        used.used_at = Some(300);
        let mut replaced = link(50, 1850);
        replaced.revoked_at = Some(100);
        replaced.revoked_reason = Some("superseded".into());
        let mails = [history::MailRow {
            template: "reset".into(),
            created_at: 100,
            attempts: 1,
            sent_at: Some(101),
            dead_at: None,
            failed: false,
        }];
        let rows = [
            row(300, "password_changed", None, Some("sessions_ended=0")),
            row(100, "link_requested", Some("agent:t:o"), Some("reset")),
            row(50, "link_requested", Some("teams:t:u"), Some("enroll")),
        ];
        let got: Vec<Happening> = timeline(&[used, replaced], &mails, &rows, 400)
            .into_iter()
            .map(|e| e.what)
            .collect();
        assert_eq!(
            got,
            [
                Happening::PasswordChanged,
                Happening::LinkUsed,
                Happening::LinkOpened,
                Happening::MailSent(MailKind::Reset),
                Happening::LinkSuperseded,
                Happening::Requested {
                    purpose: Purpose::Reset,
                    by: By::Agent
                },
                Happening::Requested {
                    purpose: Purpose::Enroll,
                    by: By::Person
                },
            ]
        );
    }

    #[test]
    fn unused_links_expire_and_repeated_lock_refusals_fold() {
        let rows = [
            row(30, "signin_locked", Some("ip:1"), None),
            row(20, "signin_locked", Some("ip:1"), None),
        ];
        let got: Vec<Event> = timeline(&[link(0, 10), link(5, 1000)], &[], &rows, 40);
        assert_eq!(
            got,
            [
                Event {
                    at: 30,
                    what: Happening::SignInLocked
                },
                Event {
                    at: 10,
                    what: Happening::LinkExpired
                },
            ]
        );
    }
}
