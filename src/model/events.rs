//! What happens to a link after it is sent, for whoever shows its status (the Teams bot's live
//! card). The domain only announces; it knows nothing of Teams.

use super::UnixTime;

/// An event about the link whose id is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEvent {
    /// The page behind the link was opened (GET; the link is still usable).
    Opened,
    /// The password was set through the link.
    Completed,
    /// A newer request replaced the link.
    Superseded,
    /// Cancelled ("Ce n'était pas moi").
    Cancelled,
    /// Its mail could not be sent before it expired (a relay outage): never delivered.
    Undelivered,
}

pub trait LinkObserver: Send + Sync + 'static {
    /// Called after the change is committed. Must return quickly (spawn any I/O).
    fn link_event(&self, token_id: &str, event: LinkEvent);
}

/// Nobody is watching.
pub struct NoObserver;

impl LinkObserver for NoObserver {
    fn link_event(&self, _: &str, _: LinkEvent) {}
}

/// What the service desk should know at once, where it works (its Teams channel). Facts only:
/// never a link, a token, a code or a full address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskEvent {
    /// A mail given up on: refused by the relay, or failing past `mail.max_attempts`.
    MailDead {
        /// The outbox row, for « Renvoyer ».
        outbox_id: String,
        /// The mail's kind (`reset`, `enroll`…).
        template: String,
        /// The recipient, masked (`j***@c***.ca`).
        to: String,
        /// When it was queued.
        queued_at: UnixTime,
    },
    /// Sign-in hard-locked after too many wrong passwords: only a new password or an agent
    /// lifts it.
    HardLock {
        username: String,
    },
    /// The owner of an account said they did not call about the code an agent had sent.
    CallerDenied {
        display_name: String,
        username: String,
        agent_name: String,
    },
    /// The mail relay stopped taking mail (several sends in a row failed), or took it again.
    RelayDown,
    RelayUp,
    /// Requests refused by the rate limits reached the organisation's threshold within
    /// `minutes` (a script, an attack, or limits set too low).
    RefusalBurst {
        refusals: u32,
        minutes: u32,
    },
    /// The database stopped answering the readiness probe, or answers again.
    DatabaseDown,
    DatabaseUp,
}

pub trait DeskObserver: Send + Sync + 'static {
    /// `tenant_id`: the organisation concerned; `None`: all of them (the relay, the database).
    /// Must return quickly (spawn any I/O).
    fn desk_event(&self, tenant_id: Option<&str>, event: DeskEvent);
}

impl DeskObserver for NoObserver {
    fn desk_event(&self, _: Option<&str>, _: DeskEvent) {}
}

/// Refused requests per organisation over fixed windows, to tell the desk once per window when
/// they reach its threshold.
#[derive(Debug, Default)]
pub struct RefusalWatch(std::sync::Mutex<std::collections::HashMap<String, RefusalWindow>>);

#[derive(Debug, Default, Clone, Copy)]
struct RefusalWindow {
    start: UnixTime,
    refusals: u32,
    told: bool,
}

/// The window refusals are counted over.
pub const REFUSAL_WINDOW_SECS: i64 = 600;

impl RefusalWatch {
    /// One refusal for `tenant_id` at `now`; the count when it just reached `threshold` (once
    /// per window), else `None`. A threshold of 0 never tells.
    pub fn refused(&self, tenant_id: &str, now: UnixTime, threshold: u32) -> Option<u32> {
        if threshold == 0 {
            return None;
        }
        let mut all = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let w = all.entry(tenant_id.to_string()).or_default();
        if now - w.start >= REFUSAL_WINDOW_SECS {
            *w = RefusalWindow {
                start: now,
                ..RefusalWindow::default()
            };
        }
        w.refusals = w.refusals.saturating_add(1);
        if w.refusals >= threshold && !w.told {
            w.told = true;
            return Some(w.refusals);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_told_once_per_window() {
        let watch = RefusalWatch::default();
        let told: Vec<Option<u32>> = (0..5)
            .map(|i| watch.refused("t", UnixTime(100 + i), 3))
            .collect();
        assert_eq!(told, [None, None, Some(3), None, None]);
        assert_eq!(
            watch.refused("other", UnixTime(100), 3),
            None,
            "per organisation"
        );
        let later = UnixTime(100 + REFUSAL_WINDOW_SECS);
        let told: Vec<Option<u32>> = (0..3).map(|i| watch.refused("t", later + i, 3)).collect();
        assert_eq!(told, [None, None, Some(3)], "a new window");
        assert_eq!(watch.refused("t", later, 0), None, "off");
    }
}
