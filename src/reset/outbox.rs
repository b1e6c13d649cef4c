//! Mail as the link service and its features queue it.

use crate::model::UnixTime;
use tokio::sync::Notify;
use url::Url;

use super::ResetService;
use crate::{
    mail::{OutgoingMail, enqueue, enqueue_for_account},
    model::AccountId,
    service_key::ServiceKey,
    store::{Conn, StoreError, Tx},
};

/// The outbox seen from the domain: a mail is sealed with the service key into the caller's
/// transaction, its message id in the service's own domain, and the mail worker is woken once
/// that transaction commits.
#[derive(Clone, Copy)]
pub struct Outbox<'a> {
    key: &'a ServiceKey,
    wake: &'a Notify,
    base_url: &'a Url,
}

impl<'a> Outbox<'a> {
    pub fn of(links: &'a ResetService) -> Self {
        Self {
            key: &links.key,
            wake: &links.mail_wake,
            base_url: &links.base_url,
        }
    }

    fn message_domain(&self) -> &str {
        self.base_url.host_str().unwrap_or("localhost")
    }

    /// Writes `mail` in the outbox on `conn`; its outbox id.
    pub async fn queue(
        &self,
        conn: &mut Conn,
        mail: OutgoingMail<'_>,
        now: UnixTime,
    ) -> Result<String, StoreError> {
        enqueue(conn, self.key, mail, self.message_domain(), now).await
    }

    /// `queue`, written only if `account` exists (`None` if not), by the same statement either
    /// way.
    pub async fn queue_for(
        &self,
        conn: &mut Conn,
        mail: OutgoingMail<'_>,
        now: UnixTime,
        account: &AccountId,
    ) -> Result<Option<String>, StoreError> {
        enqueue_for_account(conn, self.key, mail, self.message_domain(), now, account).await
    }

    /// Commits `tx`, then wakes the worker for the mail it holds.
    pub async fn commit(&self, tx: Tx) -> Result<(), StoreError> {
        tx.commit().await?;
        self.wake();
        Ok(())
    }

    /// Wakes the worker: mail was committed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
