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
