//! Signing in with the portal password: credential checks (also for the portal's API), the
//! lockout after consecutive failures, hash upgrades, and login sessions.

use tracing::{info, instrument};

use super::{
    ResetError,
    audit::{AuditEvent, record},
    hasher::{Hasher, Verified},
    limits::{Limit, hit},
    model::{Account, NewPassword, Requester, Username},
    token::{ResetToken, TokenHash},
};
use crate::{
    clock::SharedClock,
    config::Limits,
    org::Organisation,
    store::{Store, StoreError, accounts, sessions},
};

#[derive(Clone)]
pub struct SignInService {
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    pub(crate) hasher: Hasher,
    pub(crate) limits: Limits,
}

#[derive(Debug, Clone)]
pub enum CheckOutcome {
    Valid(Box<Account>),
    Invalid,
    Locked,
}

/// Which allowance a check draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The login page, limited per client address.
    LoginPage,
    /// `POST /api/v1/credentials/verify`, limited per organisation key.
    Api,
}

/// The opaque value of the session cookie.
pub struct SessionToken(ResetToken);

impl SessionToken {
    pub fn parse(raw: &str) -> Option<Self> {
        ResetToken::parse(raw).map(Self)
    }
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
    fn hash(&self) -> TokenHash {
        self.0.hash()
    }
}

/// Persistent sessions last this long; others until the browser closes (and at most a day).
pub const PERSISTENT_SESSION_SECS: i64 = 30 * 24 * 3600;
const BROWSER_SESSION_SECS: i64 = 24 * 3600;

impl SignInService {
    /// Checks a username and password. Unknown, not enrolled and locked accounts cost the same
    /// hashing work as a real check.
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    pub async fn check(
        &self,
        org: &Organisation,
        who: &Requester,
        username: &str,
        password: &NewPassword,
        channel: Channel,
    ) -> Result<CheckOutcome, ResetError> {
        let now = self.clock.unix();
        let client = who.key();
        let mut conn = self.store.conn().await?;
        let (bucket, limit) = match channel {
            Channel::LoginPage => (
                format!("signin:{client}"),
                Limit {
                    max: self.limits.signins_per_ip,
                    window_secs: self.limits.signin_window_secs,
                },
            ),
            Channel::Api => (
                format!("verify:{}", org.tenant_id),
                Limit {
                    max: self.limits.verify_per_key,
                    window_secs: self.limits.verify_window_secs,
                },
            ),
        };
        if let Err(retry_after_secs) = hit(&mut conn, &bucket, limit, now).await? {
            record(
                &mut conn,
                now,
                Some(&org.tenant_id),
                None,
                AuditEvent::SignInRateLimited,
                Some(&client),
                None,
            )
            .await?;
            return Err(ResetError::RateLimited { retry_after_secs });
        }
        let account = match Username::parse(username) {
            Ok(u) => accounts::by_username(&mut conn, &org.tenant_id, &u).await?,
            Err(_) => None,
        };
        drop(conn);

        let locked = account.as_ref().is_some_and(|a| {
            a.failed_logins >= org.lockout.hard_limit || a.locked_until.is_some_and(|t| t > now)
        });
        let stored = account
            .as_ref()
            .filter(|_| !locked)
            .and_then(|a| a.password_hash.as_deref());
        let verified = self.hasher.verify(password, stored).await?;

        let mut conn = self.store.conn().await?;
        let detail = Some(match channel {
            Channel::LoginPage => "login_page".to_string(),
            Channel::Api => "api".to_string(),
        });
        let Some(account) = account else {
            record(
                &mut conn,
                now,
                Some(&org.tenant_id),
                None,
                AuditEvent::SignInFailed,
                Some(&client),
                detail,
            )
            .await?;
            return Ok(CheckOutcome::Invalid);
        };
        if locked {
            record(
                &mut conn,
                now,
                Some(&org.tenant_id),
                Some(&account.id),
                AuditEvent::SignInLocked,
                Some(&client),
                detail,
            )
            .await?;
            return Ok(CheckOutcome::Locked);
        }
        match verified {
            Verified::Valid { needs_rehash } => {
                accounts::clear_failures(&mut conn, &account.id).await?;
                if needs_rehash {
                    let hash = self.hasher.hash(password).await?;
                    accounts::set_password(&mut conn, &account.id, &hash, now).await?;
                    info!(account.id = %account.id, "password hash upgraded to the current parameters");
                }
                record(
                    &mut conn,
                    now,
                    Some(&org.tenant_id),
                    Some(&account.id),
                    AuditEvent::SignInOk,
                    Some(&client),
                    detail,
                )
                .await?;
                Ok(CheckOutcome::Valid(Box::new(account)))
            }
            Verified::Invalid => {
                let failures = accounts::add_failure(&mut conn, &account.id).await?;
                let outcome = match org.lockout.lock_for(failures) {
                    None => CheckOutcome::Invalid,
                    Some(delay) => {
                        let until = delay.map_or(i64::MAX, |d| {
                            now + i64::try_from(d.as_secs()).unwrap_or(3600)
                        });
                        accounts::set_locked_until(&mut conn, &account.id, Some(until)).await?;
                        info!(account.id = %account.id, failures, "account locked after consecutive failures");
                        // This attempt was wrong; the lock applies from the next one.
                        CheckOutcome::Invalid
                    }
                };
                record(
                    &mut conn,
                    now,
                    Some(&org.tenant_id),
                    Some(&account.id),
                    AuditEvent::SignInFailed,
                    Some(&client),
                    detail,
                )
                .await?;
                Ok(outcome)
            }
        }
    }

    pub async fn open_session(
        &self,
        account: &Account,
        persistent: bool,
    ) -> Result<SessionToken, ResetError> {
        let now = self.clock.unix();
        let token = SessionToken(ResetToken::generate());
        let ttl = if persistent {
            PERSISTENT_SESSION_SECS
        } else {
            BROWSER_SESSION_SECS
        };
        let mut conn = self.store.conn().await?;
        sessions::insert(
            &mut conn,
            &token.hash(),
            &account.id,
            persistent,
            now,
            now + ttl,
        )
        .await?;
        Ok(token)
    }

    pub async fn session_account(
        &self,
        token: &SessionToken,
    ) -> Result<Option<Account>, ResetError> {
        let mut conn = self.store.conn().await?;
        let Some(id) = sessions::account_of(&mut conn, &token.hash(), self.clock.unix()).await?
        else {
            return Ok(None);
        };
        Ok(accounts::by_id(&mut conn, &id).await?)
    }

    pub async fn close_session(&self, token: &SessionToken) -> Result<(), ResetError> {
        let mut conn = self.store.conn().await?;
        sessions::delete(&mut conn, &token.hash())
            .await
            .map_err(|e: StoreError| e.into())
    }
}
