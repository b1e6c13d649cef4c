//! What happens to a link after it is sent, for whoever shows its status (the Teams bot's live
//! card). The domain only announces; it knows nothing of Teams.

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
        /// The mail's kind (`reset`, `enroll`…).
        template: String,
        /// The recipient, masked (`j***@c***.ca`).
        to: String,
        /// When it was queued.
        queued_at: i64,
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
