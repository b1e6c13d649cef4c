//! What became of a send: the outcomes written (sent, retried later, dead-lettered, held back),
//! then logged, counted and told to whoever watches (the requester's card, the desk's channel);
//! and the relay's state as the sends see it.

use std::{sync::Arc, time::Duration};

use rand::Rng;

use tracing::{Instrument, error, info, warn};

use super::failure::{Failure, SendError};
use crate::model::EmailAddress;
use crate::model::events::{DeskEvent, DeskObserver, LinkEvent, LinkObserver};
use crate::{
    audit::{Audit, AuditEvent},
    clock::SharedClock,
    store::{Conn, StoreError, outbox, tokens},
};

/// Sends failing in a row (no answer, 4xx, credentials refused) after which the relay is said
/// to be down; the next mail it takes says it is back.
const RELAY_DOWN_AFTER: u32 = 3;

/// The relay's state as the sends see it.
#[derive(Debug, Default)]
pub struct RelayWatch {
    failing: std::sync::atomic::AtomicU32,
    down: std::sync::atomic::AtomicBool,
}

impl RelayWatch {
    /// One send's outcome; `Some(true)`: the relay just went down, `Some(false)`: just came back.
    fn saw(&self, result: &Result<(), SendError>) -> Option<bool> {
        use std::sync::atomic::Ordering::SeqCst;
        match result {
            Ok(()) => {
                self.failing.store(0, SeqCst);
                self.down.swap(false, SeqCst).then_some(false)
            }
            Err(e) if matches!(e.failure, Failure::Transient | Failure::Credentials) => {
                let failing = self.failing.fetch_add(1, SeqCst) + 1;
                (failing >= RELAY_DOWN_AFTER && !self.down.swap(true, SeqCst)).then_some(true)
            }
            // A refusal of one message, or a link that expired, says nothing of the relay.
            Err(_) => None,
        }
    }
}

/// What became of one claimed mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settled {
    Sent,
    /// Retried after this delay.
    Failed(Duration),
    Dead,
    /// Held back: its link expired (or was replaced) before it could be sent. `tell`: the
    /// link was still active and is now revoked, its requester's card says so.
    Expired {
        tell: bool,
    },
}

/// What recording and telling a send's outcome takes from the worker.
pub(super) struct Outcomes<'a> {
    pub(super) clock: &'a SharedClock,
    pub(super) max_attempts: i64,
    pub(super) observer: &'a Arc<dyn LinkObserver>,
    pub(super) desk: &'a Arc<dyn DeskObserver>,
    pub(super) relay: &'a RelayWatch,
}

impl Outcomes<'_> {
    /// Records the outcome of each send: sent, retried later, or dead-lettered. The sent ones
    /// (nearly all) are written together: one statement marks them, one audits them. What is
    /// logged and counted of them waits for the commit (`report`): a turn that fails is written
    /// again.
    pub(super) async fn settle_all<'m>(
        &self,
        conn: &mut Conn,
        outcomes: impl Iterator<Item = (&'m outbox::ClaimedMail, &'m Result<(), SendError>)>,
    ) -> Result<Vec<Settled>, StoreError> {
        let now = self.clock.unix();
        let mut settled = Vec::new();
        let mut sent = Vec::new();
        let mut audits = Vec::new();
        for (mail, result) in outcomes {
            match result {
                Ok(()) => {
                    sent.push(mail.outbox_id.as_str());
                    audits.push(
                        Audit::event(AuditEvent::MailSent, now)
                            .tenant(&mail.tenant_id)
                            .detail(format!("{} {}", mail.template, mail.message_id)),
                    );
                    settled.push(Settled::Sent);
                }
                Err(e) => {
                    let outcome = self
                        .settle_failure(conn, mail, e)
                        .instrument(mail_span(mail))
                        .await?;
                    settled.push(outcome);
                }
            }
        }
        outbox::mark_all_sent(conn, &sent, now).await?;
        Audit::record_all(audits, conn).await?;
        Ok(settled)
    }

    /// Records a failed send: retried later, held back (its link expired), or dead-lettered.
    async fn settle_failure(
        &self,
        conn: &mut Conn,
        mail: &outbox::ClaimedMail,
        e: &SendError,
    ) -> Result<Settled, StoreError> {
        let id = mail.outbox_id.as_str();
        let now = self.clock.unix();
        let detail = format!("{} {}", mail.template, mail.message_id);
        if e.failure == Failure::Expired {
            if !outbox::mark_expired(conn, id, now, &e.detail).await? {
                // Settled meanwhile (a lease that ran out): nothing more to say.
                return Ok(Settled::Expired { tell: false });
            }
            // Nobody got the link, and nobody will: it is revoked, not left to expire.
            let revoked = match &e.expired_link {
                Some(token_id) => tokens::revoke_undelivered(conn, token_id, now).await?,
                None => false,
            };
            Audit::event(AuditEvent::MailExpired, now)
                .tenant(&mail.tenant_id)
                .detail(detail)
                .record(conn)
                .await?;
            return Ok(Settled::Expired { tell: revoked });
        }
        if e.failure == Failure::Refused || mail.attempts >= self.max_attempts {
            outbox::mark_dead(conn, id, now, &e.detail).await?;
            Audit::event(AuditEvent::MailDeadLettered, now)
                .tenant(&mail.tenant_id)
                .detail(detail)
                .record(conn)
                .await?;
            return Ok(Settled::Dead);
        }
        let delay = backoff(mail.attempts);
        let next = now + i64::try_from(delay.as_secs()).unwrap_or(3600);
        outbox::mark_failed(conn, id, next, &e.detail).await?;
        Ok(Settled::Failed(delay))
    }

    /// Logs and counts an outcome once it is written; a link not sent in time is announced.
    pub(super) fn report(
        &self,
        mail: &outbox::ClaimedMail,
        result: &Result<(), SendError>,
        settled: Settled,
    ) {
        if let (Settled::Expired { tell: true }, Err(e)) = (settled, result)
            && let Some(token_id) = &e.expired_link
        {
            self.observer.link_event(token_id, LinkEvent::Undelivered);
        }
        if settled == Settled::Dead {
            let to =
                EmailAddress::parse(&mail.recipient).map_or_else(|_| String::new(), |a| a.masked());
            self.desk.desk_event(
                Some(&mail.tenant_id),
                DeskEvent::MailDead {
                    outbox_id: mail.outbox_id.clone(),
                    template: mail.template.clone(),
                    to,
                    queued_at: mail.created_at,
                },
            );
        }
        match self.relay.saw(result) {
            Some(true) => self.desk.desk_event(None, DeskEvent::RelayDown),
            Some(false) => self.desk.desk_event(None, DeskEvent::RelayUp),
            None => {}
        }
        report(mail, result, settled);
    }
}

/// Logs and counts an outcome once it is written.
fn report(mail: &outbox::ClaimedMail, result: &Result<(), SendError>, settled: Settled) {
    let _span = mail_span(mail).entered();
    let attempt = mail.attempts;
    let Err(e) = result else {
        info!(attempt, "mail sent");
        crate::metrics::held(|| metrics::counter!("octopus_mail_sent_total").increment(1));
        return;
    };
    // The relay's own words (which may name the recipient) stay on the row; the log gets
    // the reply code, or our side's error when there was no reply.
    let code = e.code.as_deref();
    let cause = code.is_none().then_some(e.detail.as_str());
    match settled {
        Settled::Expired { .. } => {
            error!(
                attempt,
                "link mail not sent: its link expired, or was replaced, before the relay could \
                 take it (relay outage?)"
            );
            crate::metrics::held(|| {
                metrics::counter!("octopus_mail_expired_total").increment(1);
            });
        }
        Settled::Dead => {
            error!(attempt, failure = ?e.failure, smtp.code = code, error = cause, "mail dead-lettered: not retried again");
            crate::metrics::held(|| {
                metrics::counter!("octopus_mail_dead_letters_total").increment(1);
            });
        }
        Settled::Failed(delay) => {
            crate::metrics::held(|| metrics::counter!("octopus_mail_failures_total").increment(1));
            if e.failure == Failure::Credentials {
                error!(
                    attempt,
                    retry_in_secs = delay.as_secs(),
                    smtp.code = code,
                    "the relay refused our credentials (mail.transport); mail kept, will retry"
                );
            } else {
                warn!(
                    attempt,
                    retry_in_secs = delay.as_secs(),
                    smtp.code = code,
                    error = cause,
                    "mail not sent; will retry"
                );
            }
        }
        Settled::Sent => {}
    }
}

pub(super) fn mail_span(mail: &outbox::ClaimedMail) -> tracing::Span {
    tracing::info_span!("mail", mail.id = %mail.outbox_id, mail.template = %mail.template)
}

/// Delay before attempt `attempts + 1`: 30 s, 1 min, 2 min … capped at one hour, ±20 %.
pub fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from((attempts - 1).clamp(0, 16)).unwrap_or(16);
    let base = (30u64 << exp).min(3600);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    Duration::from_secs_f64(base as f64 * jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let secs = |a| backoff(a).as_secs_f64();
        assert!((24.0..=36.0).contains(&secs(1)));
        assert!((48.0..=72.0).contains(&secs(2)));
        assert!((2880.0..=4320.0).contains(&secs(12)));
        assert!(secs(40) <= 4320.0);
    }
}
