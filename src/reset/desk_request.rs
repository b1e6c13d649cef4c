//! « Ouvrir une demande au Centre de services »: where self-service ends, the person asks for
//! the desk, and the service mails the organisation's Octopus MailIntegration mailbox a request
//! that says who, what happened and when — never a link, a token, a code or a password. One
//! request per person, reason and window; through the outbox like every mail.

use crate::model::UnixTime;
use std::str::FromStr;

use tracing::{info, instrument};

use super::{
    ResetError, ResetService,
    limits::{Limit, hit},
    signin::lock_subject,
};
use crate::audit::{Audit, AuditEvent};
use crate::model::{Account, EmailAddress, Requester, UnknownName};
use crate::reset::limits::Bucket;
use crate::{
    mail::{DeskMail, MailParams, MailTemplate, OutgoingMail},
    org::{OctopusRequests, Organisation, RequestMode},
    store::{Conn, StoreError, accounts, history, lockout},
};

/// Audit rows named in the request, newest first.
const REFERENCES: i64 = 8;

/// Where self-service ended for the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskReason {
    /// Their Teams identity is linked to no account.
    Unlinked,
    /// A hard lock: self-service cannot lift it.
    HardLock,
    /// The link's mail could not be delivered in time.
    Undelivered,
    /// They cancelled a link they did not ask for (« Ce n'était pas moi »).
    NotMe,
    /// Someone called the desk in their name (« Je n'ai pas appelé »).
    DidNotCall,
}

impl DeskReason {
    pub const ALL: [DeskReason; 5] = [
        Self::Unlinked,
        Self::HardLock,
        Self::Undelivered,
        Self::NotMe,
        Self::DidNotCall,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unlinked => "unlinked",
            Self::HardLock => "hard_lock",
            Self::Undelivered => "undelivered",
            Self::NotMe => "not_me",
            Self::DidNotCall => "did_not_call",
        }
    }
}

impl FromStr for DeskReason {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownName)
    }
}

/// The person asking, as Teams names them.
#[derive(Debug, Clone)]
pub struct Asker {
    pub requester: Requester,
    pub aad_object_id: Option<String>,
    pub display_name: String,
    /// Their UPN, when Teams gave it.
    pub upn: Option<String>,
}

/// What the click did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeskRequest {
    /// The mail to the desk's mailbox is queued.
    Sent,
    /// The same request went within the window: nothing more.
    AlreadySent,
    /// The organisation has no mailbox for requests.
    NotOffered,
}

/// Requests opened in Octopus for the person who asks.
pub struct DeskRequests<'a> {
    clock: &'a crate::clock::SharedClock,
    outbox: super::outbox::Outbox<'a>,
    store: &'a crate::store::Store,
}

impl<'a> DeskRequests<'a> {
    /// This feature of `links`, borrowing only what it uses.
    pub fn of(links: &'a ResetService) -> Self {
        Self {
            clock: &links.clock,
            outbox: super::outbox::Outbox::of(links),
            store: &links.store,
        }
    }
}

impl DeskRequests<'_> {
    /// Queues the request mail to the organisation's MailIntegration mailbox, in the
    /// organisation's language, and audits it (`desk_request_sent`, detail: the reason).
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id, reason = reason.as_str()))]
    pub async fn open_desk_request(
        &self,
        org: &Organisation,
        asker: &Asker,
        reason: DeskReason,
    ) -> Result<DeskRequest, ResetError> {
        let Some(cfg) = &org.octopus_requests else {
            return Ok(DeskRequest::NotOffered);
        };
        let Ok(mailbox) = EmailAddress::parse(&cfg.mailbox) else {
            return Ok(DeskRequest::NotOffered);
        };
        let now = self.clock.unix();
        let client = asker.requester.key();
        let mut tx = self.store.begin().await?;
        let account = match asker.aad_object_id.as_deref() {
            Some(oid) => accounts::by_identity(&mut tx, &org.tenant_id, Some(oid), None).await?,
            None => None,
        };
        let holds = reason_holds(&mut tx, org, reason, account.as_ref()).await?;
        if !holds {
            return Ok(DeskRequest::NotOffered);
        }
        if !first_in_window(&mut tx, org, cfg, asker, reason, now).await? {
            return Ok(DeskRequest::AlreadySent);
        }
        let token = match cfg.mode {
            RequestMode::Incident => None,
            RequestMode::ServiceRequest => cfg.enclosing_token.as_deref().map(str::trim),
        };
        let desk = desk_mail(&mut tx, cfg, asker, account.as_ref(), reason, token).await?;
        self.outbox
            .queue(
                &mut tx,
                OutgoingMail {
                    template: MailTemplate::DeskRequest,
                    to: &mailbox,
                    locale: org.default_locale,
                    tenant_id: &org.tenant_id,
                    params: MailParams {
                        name: one_line(&asker.display_name, token),
                        occurred_at: Some(now),
                        desk: Some(desk),
                        ..MailParams::default()
                    },
                },
                now,
            )
            .await?;
        Audit::event(AuditEvent::DeskRequestSent, now)
            .tenant(&org.tenant_id)
            .account(account.as_ref().map(|a| &a.id))
            .client(&client)
            .detail(reason.as_str())
            .record(&mut tx)
            .await?;
        self.outbox.commit(tx).await?;
        info!("request mailed to the service desk's Octopus mailbox");
        Ok(DeskRequest::Sent)
    }
}

/// One request per person (the bot and the tab alike) and reason per window: whether this is
/// the first, counted.
async fn first_in_window(
    conn: &mut Conn,
    org: &Organisation,
    cfg: &OctopusRequests,
    asker: &Asker,
    reason: DeskReason,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let once = Limit {
        max: 1,
        window_secs: u64::from(cfg.window_hours) * 3600,
    };
    let person = asker
        .aad_object_id
        .as_deref()
        .map_or_else(|| asker.requester.key(), str::to_ascii_lowercase);
    let bucket = Bucket::DeskRequest {
        tenant: &org.tenant_id,
        person: &person,
        reason: reason.as_str(),
    };
    Ok(hit(conn, bucket, once, now).await?.is_ok())
}

/// What the server can check, it checks: no account, or a hard lock indeed. The other reasons
/// come from a card the person was shown; the account's audit rows in the mail tell the desk
/// what really happened.
async fn reason_holds(
    conn: &mut Conn,
    org: &Organisation,
    reason: DeskReason,
    account: Option<&Account>,
) -> Result<bool, StoreError> {
    Ok(match (reason, account) {
        (DeskReason::Unlinked, found) => found.is_none(),
        (DeskReason::HardLock, Some(a)) => {
            let subject = lock_subject(a.username.as_str());
            lockout::locked_until(conn, &org.tenant_id, &subject).await? == Some(lockout::HARD_LOCK)
        }
        (DeskReason::HardLock, None) => false,
        (DeskReason::Undelivered | DeskReason::NotMe | DeskReason::DidNotCall, _) => true,
    })
}

/// The request's fields for MailIntegration: who asks, the account, its recent history, each
/// written as one line that cannot hold the enclosing `token`.
async fn desk_mail(
    conn: &mut Conn,
    cfg: &OctopusRequests,
    asker: &Asker,
    account: Option<&Account>,
    reason: DeskReason,
    token: Option<&str>,
) -> Result<DeskMail, StoreError> {
    let references = match account {
        Some(a) => history::recent(conn, &a.id.0, REFERENCES).await?,
        None => Vec::new(),
    };
    Ok(DeskMail {
        reason: reason.as_str().to_string(),
        upn: asker
            .upn
            .as_deref()
            .or_else(|| account.and_then(|a| a.upn.as_deref()))
            .map(|u| one_line(u, token)),
        username: account.map(|a| a.username.as_str().to_string()),
        object_id: asker.aad_object_id.clone(),
        references: references
            .into_iter()
            .map(|r| (r.occurred_at, r.event))
            .collect(),
        field_lines: cfg.field_lines.clone(),
        enclosing_token: token.map(str::to_string),
    })
}

/// Longest name or UPN written in a request.
const MAX_FIELD: usize = 200;

/// A name as Teams or a token gives it, made one plain line of the request: control characters
/// (newlines that would add lines MailIntegration reads) become spaces, runs of spaces one, at
/// most `MAX_FIELD` characters, and never the enclosing token (which would cut the body).
fn one_line(raw: &str, token: Option<&str>) -> String {
    let mut line: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if let Some(token) = token.filter(|t| !t.is_empty() && t.is_ascii()) {
        // ASCII lower-casing keeps every byte offset, so a match found in the lower-cased copy
        // is the same range of the line.
        while let Some(at) = line.to_ascii_lowercase().find(&token.to_ascii_lowercase()) {
            line.replace_range(at..at + token.len(), " ");
        }
    }
    line.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_FIELD)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_plain_line_without_the_token() {
        assert_eq!(
            one_line("Julie\r\nNom d'utilisateur : admin\tx", None),
            "Julie Nom d'utilisateur : admin x"
        );
        assert_eq!(
            one_line("Marc createsr Gagnon CreateSRCreateSR", Some("CreateSR")),
            "Marc Gagnon"
        );
        assert_eq!(one_line(&"é".repeat(500), None).chars().count(), MAX_FIELD);
    }

    #[test]
    fn reasons_read_back_as_written() {
        for r in DeskReason::ALL {
            assert_eq!(r.as_str().parse::<DeskReason>(), Ok(r));
        }
        assert_eq!("password".parse::<DeskReason>(), Err(UnknownName));
    }
}
