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

use futures_util::{FutureExt, StreamExt, stream::FuturesUnordered};
use tokio::sync::Notify;
use tracing::{Instrument, error, warn};

use super::{
    compose::Composer,
    failure::SendError,
    outcome::{Outcomes, RelayWatch, mail_span},
    transport::Transport,
};
use crate::service_key::ServiceKey;
use crate::{
    clock::SharedClock,
    i18n::Strings,
    model::events::{DeskObserver, LinkObserver},
    org::Organisations,
    store::{Dialect, Store, StoreError, outbox, tokens},
    templates::Templates,
};

const LEASE_SECS: i64 = 120;
/// PostgreSQL: at most this many mail transactions at once, each holding a pooled connection
/// while its batch is sent (the pool has 16; the web side keeps the rest). `mail.concurrency` is
/// shared among them.
const LOCKED_LANES: usize = 4;

/// One send in flight, its own task (so that it progresses while the worker claims more).
type Sending = tokio::task::JoinHandle<Result<Done, StoreError>>;

/// How a send task ended.
enum Done {
    /// SQLite: the relay's answer for a leased mail, its outcome still to be written.
    Sent(Box<Sent>),
    /// PostgreSQL: how many outcomes its lane wrote (0: nothing was due).
    Locked(usize),
}

/// SQLite: sends that have ended, their outcomes not yet written, and how many write turns in
/// a row have failed to write them.
#[derive(Default)]
struct Pending {
    sent: Vec<Sent>,
    failed_turns: u32,
}

/// Failed write turns after which pending outcomes are let go.
const GIVE_UP_TURNS: u32 = 3;

/// A leased mail and the relay's answer, until a write turn records it.
struct Sent {
    mail: outbox::ClaimedMail,
    result: Result<(), SendError>,
}

#[derive(Clone)]
pub struct MailWorker {
    pub store: Store,
    pub transport: Transport,
    pub key: ServiceKey,
    pub templates: Templates,
    pub strings: Strings,
    pub orgs: Organisations,
    pub clock: SharedClock,
    pub wake: Arc<Notify>,
    pub poll: Duration,
    /// Failed attempts after which a mail is dead-lettered (`mail.max_attempts`).
    pub max_attempts: i64,
    /// Sends in flight at once (`mail.concurrency`, at least 1).
    pub concurrency: usize,
    /// Told when a link could not be sent in time (the requester's Teams card says so).
    pub observer: Arc<dyn LinkObserver>,
    /// Told of a mail given up on, and of the relay down and back (the desk's channel).
    pub desk: Arc<dyn DeskObserver>,
    /// Whether the relay takes mail, from the sends' outcomes.
    pub relay: Arc<RelayWatch>,
}

impl MailWorker {
    fn composer(&self) -> Composer<'_> {
        Composer {
            key: &self.key,
            templates: &self.templates,
            strings: &self.strings,
            orgs: &self.orgs,
            clock: &self.clock,
        }
    }

    fn outcomes(&self) -> Outcomes<'_> {
        Outcomes {
            clock: &self.clock,
            max_attempts: self.max_attempts,
            observer: &self.observer,
            desk: &self.desk,
            relay: &self.relay,
        }
    }

    /// Keeps up to `concurrency` sends in flight: due mail is claimed as soon as a send ends or
    /// mail is queued (the wake), and at least every `poll` for retries that come due. At
    /// shutdown, what is due is still taken, and the sends in flight are finished.
    ///
    /// On SQLite a send frees its place as soon as the relay has answered, and the worker
    /// writes the outcomes of every send that has ended in one transaction, which also claims
    /// the next mails: one write turn for many mails, rather than a turn for each behind the
    /// requests that queue them (under load the mails fell behind; BENCHMARKS.md). A send whose
    /// outcome is not yet written is still leased, so it is not sent twice.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let this = Arc::new(self);
        let mut in_flight = FuturesUnordered::new();
        let mut pending = Pending::default();
        // Outcomes came since the last write turn (after a failed one, the next waits for news,
        // a wake or the poll rather than trying again at once).
        let mut fresh = false;
        // Nothing was due at the last look: no claiming until woken or the poll.
        let mut drained = false;
        let mut stopping = false;
        loop {
            if !drained || fresh {
                fresh = false;
                drained = this.top_up(&mut in_flight, &mut pending).await;
            }
            if stopping {
                break;
            }
            tokio::select! {
                _ = &mut shutdown => {
                    stopping = true;
                    drained = false;
                }
                Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                    let before = pending.sent.len();
                    drained |= collect_ended(done, &mut in_flight, &mut pending.sent);
                    fresh = pending.sent.len() > before;
                }
                _ = this.wake.notified() => drained = false,
                _ = tokio::time::sleep(this.poll) => drained = false,
            }
        }
        // The sends in flight end; each outcome is written as it comes, not after the slowest.
        while let Some(done) = in_flight.next().await {
            collect_ended(done, &mut in_flight, &mut pending.sent);
            this.write_outcomes(&mut pending, 0).await;
        }
        while !pending.sent.is_empty() {
            this.write_outcomes(&mut pending, 0).await;
        }
    }

    /// Starts sends for the free places (on SQLite, after writing the outcomes pending).
    /// Returns true when nothing more is due for now.
    async fn top_up(
        self: &Arc<Self>,
        in_flight: &mut FuturesUnordered<Sending>,
        pending: &mut Pending,
    ) -> bool {
        let free = self.concurrency.max(1).saturating_sub(in_flight.len());
        match self.store.dialect() {
            Dialect::Sqlite => {
                let Some(claimed) = self.write_outcomes(pending, free).await else {
                    return true;
                };
                let drained = claimed.len() < free;
                for mail in claimed {
                    in_flight.push(crate::metrics::spawn(self.clone().send_leased(mail)));
                }
                drained
            }
            Dialect::Postgres => {
                // Lanes × batch never above `mail.concurrency`.
                let concurrency = self.concurrency.max(1);
                let lanes = LOCKED_LANES.min(concurrency);
                let batch = concurrency / lanes;
                for _ in 0..lanes.saturating_sub(in_flight.len()) {
                    in_flight.push(crate::metrics::spawn(self.clone().send_locked(batch)));
                }
                false
            }
        }
    }

    /// SQLite: `write_turn`, and what a failed one leaves. Its outcomes stay pending for the
    /// next turn, up to `GIVE_UP_TURNS` failures in a row: then each is written alone
    /// (`write_one_by_one`), and those that still fail are let go. None when the turn failed.
    async fn write_outcomes(
        &self,
        pending: &mut Pending,
        limit: usize,
    ) -> Option<Vec<outbox::ClaimedMail>> {
        match self.write_turn(&pending.sent, limit).await {
            Ok(claimed) => {
                pending.sent.clear();
                pending.failed_turns = 0;
                Some(claimed)
            }
            Err(e) => {
                warn!(error = %e, "mail outbox unavailable; retrying");
                if !pending.sent.is_empty() {
                    pending.failed_turns += 1;
                    if pending.failed_turns >= GIVE_UP_TURNS {
                        self.write_one_by_one(pending).await;
                    }
                }
                None
            }
        }
    }

    /// SQLite, after `GIVE_UP_TURNS` failed turns: each pending outcome in a transaction of its
    /// own, so that one that cannot be written does not take the others with it. Those that
    /// still fail are let go: their mails are sent again once their lease runs out.
    async fn write_one_by_one(&self, pending: &mut Pending) {
        let mut lost = 0;
        for s in std::mem::take(&mut pending.sent) {
            if self.write_turn(std::slice::from_ref(&s), 0).await.is_err() {
                lost += 1;
            }
        }
        pending.failed_turns = 0;
        if lost > 0 {
            warn!(
                mails = lost,
                "outcomes of sent mails could not be written; those mails are taken again when their lease runs out"
            );
        }
    }

    /// SQLite: one transaction that writes the outcome of every send in `sent`, then claims up
    /// to `limit` due mails under a lease (their leases keep the mails in `sent` from being
    /// claimed again meanwhile, for `LEASE_SECS`). Outcomes are logged once committed.
    async fn write_turn(
        &self,
        sent: &[Sent],
        limit: usize,
    ) -> Result<Vec<outbox::ClaimedMail>, StoreError> {
        if sent.is_empty() && limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.store.begin().await?;
        let settled = self
            .outcomes()
            .settle_all(&mut tx, sent.iter().map(|s| (&s.mail, &s.result)))
            .await?;
        let claimed = if limit == 0 {
            Vec::new()
        } else {
            let limit = i64::try_from(limit).unwrap_or(1);
            outbox::claim(&mut tx, self.clock.unix(), LEASE_SECS, limit).await?
        };
        tx.commit().await?;
        for (s, settled) in sent.iter().zip(settled) {
            self.outcomes().report(&s.mail, &s.result, settled);
        }
        Ok(claimed)
    }

    /// Sends a leased mail; its outcome is written by the worker's next write turn.
    async fn send_leased(self: Arc<Self>, mail: outbox::ClaimedMail) -> Result<Done, StoreError> {
        let result = self.deliver(&mail).instrument(mail_span(&mail)).await;
        Ok(Done::Sent(Box::new(Sent { mail, result })))
    }

    /// PostgreSQL: up to `batch` due rows locked (`FOR UPDATE SKIP LOCKED`) by this transaction
    /// while they are sent, together, and their outcomes written before the locks are let go:
    /// another instance (or lane) skips them meanwhile, and takes them over as soon as this one's
    /// session ends without committing (a crash). One claim and one commit for the batch, not for
    /// each mail: every statement is a round trip to the database. A transaction that cannot be
    /// committed (the database lost mid-batch) leaves every mail of its batch to be sent again:
    /// at least once, as for a crash.
    ///
    /// The commit does not wait for the WAL to reach the disk (`synchronous_commit = off`, this
    /// transaction only). Locks are released and the outcomes are visible to every instance at
    /// commit as usual; only a crash of the database server within the next fraction of a second
    /// could forget that the mails were sent, which then sends them again: the duplicate the
    /// worker already accepts over a loss.
    async fn send_locked(self: Arc<Self>, batch: usize) -> Result<Done, StoreError> {
        let mut tx = self.store.begin().await?;
        sqlx::query("set local synchronous_commit = off")
            .execute(&mut **tx)
            .await?;
        let limit = i64::try_from(batch.max(1)).unwrap_or(1);
        let mails = outbox::claim_locked(&mut tx, self.clock.unix(), limit).await?;
        if mails.is_empty() {
            return Ok(Done::Locked(0));
        }
        // The links' state for the whole batch in one statement, on this transaction's own
        // connection (not one pooled connection per mail), then the sends together.
        let built: Vec<_> = mails
            .iter()
            .map(|mail| self.composer().build(mail))
            .collect();
        let links: Vec<&str> = built
            .iter()
            .filter_map(|b| b.as_ref().ok()?.1.as_deref())
            .collect();
        let usable = tokens::usable_among(&mut tx, &links, self.clock.unix()).await?;
        let results =
            futures_util::future::join_all(mails.iter().zip(built).map(|(mail, built)| {
                let (usable, transport) = (&usable, &self.transport);
                async move {
                    let (message, link) = built?;
                    // A link replaced, cancelled or used while its mail waited is not sent.
                    if link.is_some_and(|id| !usable.contains(&id)) {
                        return Err(SendError::link_gone());
                    }
                    transport.send(message).await
                }
                .instrument(mail_span(mail))
            }))
            .await;
        let settled = self
            .outcomes()
            .settle_all(&mut tx, mails.iter().zip(&results))
            .await?;
        tx.commit().await?;
        for ((mail, result), settled) in mails.iter().zip(&results).zip(settled) {
            self.outcomes().report(mail, result, settled);
        }
        Ok(Done::Locked(mails.len()))
    }

    async fn deliver(&self, mail: &outbox::ClaimedMail) -> Result<(), SendError> {
        let (message, token_id) = self.composer().build(mail)?;
        // A link replaced, cancelled or used while its mail waited (an outage) is not sent.
        if let Some(token_id) = token_id {
            let usable = async {
                let mut conn = self.store.conn().await?;
                tokens::is_usable(&mut conn, &token_id, self.clock.unix()).await
            };
            match usable.await {
                Ok(true) => {}
                Ok(false) => return Err(SendError::link_gone()),
                Err(e) => return Err(SendError::local(format!("link state: {e}"))),
            }
        }
        self.transport.send(message).await
    }
}

/// `collect`s `done` and every other send that has ended meanwhile, so that one write turn takes
/// them all. Returns true when a PostgreSQL lane found nothing due.
fn collect_ended(
    done: Result<Result<Done, StoreError>, tokio::task::JoinError>,
    in_flight: &mut FuturesUnordered<Sending>,
    sent: &mut Vec<Sent>,
) -> bool {
    let mut nothing_due = collect(done, sent);
    while let Some(Some(done)) = in_flight.next().now_or_never() {
        nothing_due |= collect(done, sent);
    }
    nothing_due
}

/// Keeps a SQLite send's outcome for the next write turn, and logs what went wrong with a task.
/// Returns true when a PostgreSQL lane found nothing due (no more claiming until woken).
fn collect(
    done: Result<Result<Done, StoreError>, tokio::task::JoinError>,
    sent: &mut Vec<Sent>,
) -> bool {
    match done {
        Ok(Ok(Done::Sent(s))) => sent.push(*s),
        Ok(Ok(Done::Locked(0))) => return true,
        Ok(Ok(Done::Locked(_))) => {}
        Ok(Err(e)) => {
            warn!(error = %e, "a mail's outcome could not be written; it is taken again later");
        }
        Err(e) => error!(error = %e, "a mail send task failed"),
    }
    false
}
