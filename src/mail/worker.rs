//! The outbox worker: claim due rows, open, render, send, mark sent, or schedule a retry with
//! exponential backoff and jitter. Nothing is deleted on failure, so SMTP outages and restarts
//! lose nothing. A mail the relay refuses for good (5xx at MAIL, RCPT or after DATA) is
//! dead-lettered at once, and one that keeps failing after `max_attempts`: kept for tracing,
//! its payload erased, never claimed again.
//!
//! A send that times out after the relay received the whole message may still be delivered by
//! the relay: it is retried later all the same, so the person may get the mail twice. SMTP has no
//! way to ask whether a message was taken; every MTA makes this choice (a duplicate over a loss).

use std::{sync::Arc, time::Duration};

use lettre::{Message, message::MultiPart};
use rand::Rng;
use tokio::sync::Notify;
use tracing::{Instrument, error, info, warn};

use super::{
    MailParams, MailTemplate,
    crypto::MailKey,
    render,
    transport::{Failure, SendError, Transport},
};
use crate::{
    clock::SharedClock,
    i18n::{Locale, Strings},
    org::Organisations,
    reset::audit::{AuditEvent, record},
    store::{AnyConnection, Dialect, Store, StoreError, outbox},
    templates::Templates,
};

const LEASE_SECS: i64 = 120;
const BATCH: i64 = 16;

#[derive(Clone)]
pub struct MailWorker {
    pub store: Store,
    pub transport: Transport,
    pub key: MailKey,
    pub templates: Templates,
    pub strings: Strings,
    pub orgs: Organisations,
    pub clock: SharedClock,
    pub wake: Arc<Notify>,
    pub poll: Duration,
    /// Failed attempts after which a mail is dead-lettered (`mail.max_attempts`).
    pub max_attempts: i64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickOutcome {
    pub sent: usize,
    pub failed: usize,
    pub dead: usize,
}

/// Delay before attempt `attempts + 1`: 30 s, 1 min, 2 min … capped at one hour, ±20 %.
pub fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from((attempts - 1).clamp(0, 16)).unwrap_or(16);
    let base = (30u64 << exp).min(3600);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    Duration::from_secs_f64(base as f64 * jitter)
}

impl MailWorker {
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.tick().await {
                Ok(outcome) if outcome.sent + outcome.failed + outcome.dead == BATCH as usize => {
                    continue;
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "mail outbox unavailable; retrying"),
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// One pass over the due rows: on SQLite a leased batch, on PostgreSQL one locked row per
    /// transaction (see `store::outbox`), so that several instances never send a mail twice.
    pub async fn tick(&self) -> Result<TickOutcome, StoreError> {
        match self.store.dialect() {
            Dialect::Sqlite => self.tick_leased().await,
            Dialect::Postgres => self.tick_locked().await,
        }
    }

    async fn tick_leased(&self) -> Result<TickOutcome, StoreError> {
        let now = self.clock.unix();
        let claimed = {
            let mut conn = self.store.conn().await?;
            outbox::claim(&mut conn, now, LEASE_SECS, BATCH).await?
        };
        let mut outcome = TickOutcome::default();
        for mail in claimed {
            let span = mail_span(&mail);
            let result = self.deliver(&mail).instrument(span.clone()).await;
            let mut conn = self.store.conn().await?;
            self.settle(&mut conn, &mail, result, &mut outcome)
                .instrument(span)
                .await?;
        }
        Ok(outcome)
    }

    /// The row stays locked by this transaction while it is sent, and its outcome is written
    /// before the lock is let go: another instance skips it meanwhile, and takes it over as soon
    /// as this one's session ends without committing. Each mail is its own transaction, so
    /// several of these may run side by side.
    async fn tick_locked(&self) -> Result<TickOutcome, StoreError> {
        let mut outcome = TickOutcome::default();
        for _ in 0..BATCH {
            let mut tx = self.store.begin().await?;
            let Some(mail) = outbox::claim_locked(&mut tx, self.clock.unix()).await? else {
                break;
            };
            let span = mail_span(&mail);
            let result = self.deliver(&mail).instrument(span.clone()).await;
            self.settle(&mut tx, &mail, result, &mut outcome)
                .instrument(span)
                .await?;
            tx.commit().await?;
        }
        Ok(outcome)
    }

    /// Records the outcome of one send: sent, retried later, or dead-lettered.
    async fn settle(
        &self,
        conn: &mut AnyConnection,
        mail: &outbox::ClaimedMail,
        result: Result<(), SendError>,
        outcome: &mut TickOutcome,
    ) -> Result<(), StoreError> {
        let id = mail.outbox_id.as_str();
        let now = self.clock.unix();
        let detail = format!("{} {}", mail.template, mail.message_id);
        let e = match result {
            Ok(()) => {
                outbox::mark_sent(conn, id, now).await?;
                record(
                    conn,
                    now,
                    Some(&mail.tenant_id),
                    None,
                    AuditEvent::MailSent,
                    None,
                    Some(detail),
                )
                .await?;
                info!(attempt = mail.attempts, "mail sent");
                metrics::counter!("octopus_mail_sent_total").increment(1);
                outcome.sent += 1;
                return Ok(());
            }
            Err(e) => e,
        };
        // The relay's own words (which may name the recipient) stay on the row; the log gets
        // the reply code, or our side's error when there was no reply.
        let code = e.code.as_deref();
        let cause = code.is_none().then_some(e.detail.as_str());
        if e.failure == Failure::Refused || mail.attempts >= self.max_attempts {
            outbox::mark_dead(conn, id, now, &e.detail).await?;
            record(
                conn,
                now,
                Some(&mail.tenant_id),
                None,
                AuditEvent::MailDeadLettered,
                None,
                Some(detail),
            )
            .await?;
            error!(attempt = mail.attempts, failure = ?e.failure, smtp.code = code, error = cause, "mail dead-lettered: not retried again");
            metrics::counter!("octopus_mail_dead_letters_total").increment(1);
            outcome.dead += 1;
            return Ok(());
        }
        let delay = backoff(mail.attempts);
        let next = now + i64::try_from(delay.as_secs()).unwrap_or(3600);
        outbox::mark_failed(conn, id, next, &e.detail).await?;
        metrics::counter!("octopus_mail_failures_total").increment(1);
        if e.failure == Failure::Credentials {
            error!(
                attempt = mail.attempts,
                retry_in_secs = delay.as_secs(),
                smtp.code = code,
                "the relay refused our credentials (mail.transport); mail kept, will retry"
            );
        } else {
            warn!(
                attempt = mail.attempts,
                retry_in_secs = delay.as_secs(),
                smtp.code = code,
                error = cause,
                "mail not sent; will retry"
            );
        }
        outcome.failed += 1;
        Ok(())
    }

    async fn deliver(&self, mail: &outbox::ClaimedMail) -> Result<(), SendError> {
        let message = self.build(mail).map_err(SendError::local)?;
        self.transport.send(message).await
    }

    fn build(&self, mail: &outbox::ClaimedMail) -> Result<Message, String> {
        let template = MailTemplate::parse(&mail.template).ok_or("unknown template")?;
        let org = self
            .orgs
            .by_tenant(&mail.tenant_id)
            .ok_or("the organisation is no longer configured")?;
        let locale = Locale::from_tag(&mail.locale).unwrap_or(org.default_locale);
        let sealed = mail.payload.as_deref().ok_or("payload already erased")?;
        let plain = self
            .key
            .open(sealed, mail.outbox_id.as_bytes())
            .map_err(|e| e.to_string())?;
        let params: MailParams =
            serde_json::from_slice(&plain).map_err(|e| format!("payload: {e}"))?;
        let rendered = render::render(
            &self.templates,
            &self.strings,
            template,
            locale,
            org,
            &params,
            self.clock.now(),
        )
        .map_err(|e| format!("render: {e}"))?;
        let to = mail
            .recipient
            .parse()
            .map_err(|_| "recipient address refused")?;
        Message::builder()
            .from(org.sender.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(mail.message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| format!("message: {e}"))
    }
}

fn mail_span(mail: &outbox::ClaimedMail) -> tracing::Span {
    tracing::info_span!("mail", mail.id = %mail.outbox_id, mail.template = %mail.template)
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
