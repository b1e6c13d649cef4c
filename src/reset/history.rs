//! An account's history as the service desk reads it: the audit rows worth showing, each link's
//! fate and each mail's, merged into one timeline, newest first. Pure: the rows come from
//! `store::history`.

use crate::audit::AuditEvent;
use crate::model::Purpose;
use crate::model::Revoked;
use crate::model::UnixTime;
use crate::store::history;

/// How many lines the timeline keeps (newest).
const TIMELINE: usize = 12;

/// The audit rows the timeline shows (sign-in checks are summed up as "last sign-in").
pub const SHOWN: [AuditEvent; 7] = [
    AuditEvent::LinkRequested,
    AuditEvent::MailRetriedByOperator,
    AuditEvent::PasswordChanged,
    AuditEvent::Enrolled,
    AuditEvent::SignInLocked,
    AuditEvent::AccountUnlocked,
    AuditEvent::EmailChanged,
];

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
    Unlocked,
    Other,
}

impl MailKind {
    fn of(template: &str) -> Self {
        match template {
            "reset" => MailKind::Reset,
            "enroll" => MailKind::Enroll,
            "changed" => MailKind::Changed,
            "unlocked" => MailKind::Unlocked,
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
    pub at: UnixTime,
    pub what: Happening,
}

/// The account's history, newest first: the audit rows shown, each link's fate and each mail's.
// Long: one arm per kind of row; each arm is one line of the history an agent reads.
pub fn timeline(
    links: &[history::LinkRow],
    mails: &[history::MailRow],
    rows: &[history::EventRow],
    now: UnixTime,
) -> Vec<Event> {
    let mut events = Vec::new();
    let mut push = |at: UnixTime, what: Happening| events.push(Event { at, what });
    for r in rows {
        let by = By::of_client(r.client.as_deref());
        let purpose = r
            .detail
            .as_deref()
            .and_then(|d| d.split_whitespace().next())
            .and_then(Purpose::parse)
            .unwrap_or(Purpose::Reset);
        let Ok(event) = r.event.parse::<AuditEvent>() else {
            continue;
        };
        let what = match event {
            AuditEvent::LinkRequested => Happening::Requested { purpose, by },
            AuditEvent::MailRetriedByOperator => Happening::Requested {
                purpose,
                by: By::Operator,
            },
            AuditEvent::PasswordChanged => Happening::PasswordChanged,
            AuditEvent::Enrolled => Happening::Enrolled,
            AuditEvent::SignInLocked => Happening::SignInLocked,
            AuditEvent::AccountUnlocked => Happening::Unlocked { by },
            AuditEvent::EmailChanged => Happening::EmailChanged,
            _ => continue,
        };
        push(r.occurred_at, what);
    }
    for l in links {
        if let Some(at) = l.opened_at {
            push(at, Happening::LinkOpened);
        }
        let reason = l.revoked_reason.as_deref().and_then(|r| r.parse().ok());
        match (l.used_at, l.revoked_at, reason) {
            (Some(at), _, _) => push(at, Happening::LinkUsed),
            (None, Some(at), Some(Revoked::Superseded)) => push(at, Happening::LinkSuperseded),
            (None, Some(at), Some(Revoked::Cancelled)) => push(at, Happening::LinkCancelled),
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
            created_at: UnixTime(created),
            expires_at: UnixTime(expires),
            opened_at: None,
            used_at: None,
            revoked_at: None,
            revoked_reason: None,
        }
    }

    fn row(at: i64, event: &str, client: Option<&str>, detail: Option<&str>) -> history::EventRow {
        history::EventRow {
            occurred_at: UnixTime(at),
            event: event.into(),
            client: client.map(str::to_string),
            detail: detail.map(str::to_string),
        }
    }

    #[test]
    fn a_journey_reads_newest_first_and_in_order_within_a_second() {
        let mut used = link(100, 1900);
        used.opened_at = Some(UnixTime(200));
        used.used_at = Some(UnixTime(300));
        let mut replaced = link(50, 1850);
        replaced.revoked_at = Some(UnixTime(100));
        replaced.revoked_reason = Some("superseded".into());
        let mails = [history::MailRow {
            template: "reset".into(),
            created_at: UnixTime(100),
            attempts: 1,
            sent_at: Some(UnixTime(101)),
            dead_at: None,
            failed: false,
        }];
        let rows = [
            row(300, "password_changed", None, Some("sessions_ended=0")),
            row(100, "link_requested", Some("agent:t:o"), Some("reset")),
            row(50, "link_requested", Some("teams:t:u"), Some("enroll")),
        ];
        let got: Vec<Happening> = timeline(&[used, replaced], &mails, &rows, UnixTime(400))
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
        let got: Vec<Event> = timeline(&[link(0, 10), link(5, 1000)], &[], &rows, UnixTime(40));
        assert_eq!(
            got,
            [
                Event {
                    at: UnixTime(30),
                    what: Happening::SignInLocked
                },
                Event {
                    at: UnixTime(10),
                    what: Happening::LinkExpired
                },
            ]
        );
    }
}
