//! Signing in with the portal password: credential checks (also for the portal's API), the
//! lockout after consecutive failures, hash upgrades, and login sessions.

use crate::model::UnixTime;
use sha2::{Digest, Sha256};
use tracing::{Instrument, info, instrument};

use super::{
    ResetError,
    hasher::{Hasher, Verified},
    limits::{Bucket, Limit, hit},
};
use crate::audit::{Audit, AuditEvent};
use crate::config::Limits;
use crate::model::{Account, AccountId, NewPassword, Requester, ResetToken, TokenHash, Username};
use crate::{
    clock::SharedClock,
    org::{LockoutPolicy, Organisation},
    store::{Conn, Store, StoreError, accounts, lockout, sessions},
};

#[derive(Clone)]
pub struct SignInService {
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    pub(crate) hasher: Hasher,
    pub(crate) limits: Limits,
    /// Told of a hard lock (the service desk's channel).
    pub(crate) desk: std::sync::Arc<dyn crate::model::events::DeskObserver>,
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
    /// `POST /api/v1/credentials/verify`: per end user when the caller names their address
    /// (`on_behalf`), else per organisation key.
    Api { on_behalf: bool },
}

impl Channel {
    fn audit_detail(self) -> &'static str {
        match self {
            Channel::LoginPage => "login_page",
            Channel::Api { .. } => "api",
        }
    }
}

/// The lockout's key for a typed username: the SHA-256 of its normalised form, so that unknown
/// usernames have a lock state too and nothing typed is kept.
pub(crate) fn lock_subject(typed: &str) -> String {
    let normalised = match Username::parse(typed) {
        Ok(u) => u.as_str().to_string(),
        Err(_) => typed.trim().to_lowercase(),
    };
    hex::encode(Sha256::digest(normalised.as_bytes()))
}

/// A reservation older than this counts as abandoned (its instance died mid-check).
const STALE_RESERVATION_SECS: i64 = 300;

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
pub const BROWSER_SESSION_SECS: i64 = 24 * 3600;

/// A check reserved against the lockout, for the task that settles it.
struct Reservation {
    tenant: String,
    lockout: LockoutPolicy,
    subject: String,
    account: Option<Account>,
    client: String,
    detail: Option<String>,
    now: UnixTime,
}

impl SignInService {
    /// Checks a username and password. Each check is reserved against the lockout before any
    /// hashing, so parallel guesses get at most the threshold; known and unknown usernames take
    /// the same path and cost the same work.
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
        let mut conn = self.store.write().await?;
        self.admit(&mut conn, org, &client, channel, now).await?;
        let account = match Username::parse(username) {
            Ok(u) => accounts::by_username(&mut conn, &org.tenant_id, &u).await?,
            Err(_) => None,
        };
        let subject = lock_subject(username);
        let reserved = lockout::reserve(
            &mut conn,
            lockout::Reserve {
                tenant_id: &org.tenant_id,
                subject: &subject,
                now,
                stale_before: now - STALE_RESERVATION_SECS,
                threshold: org.lockout.threshold,
                hard_limit: org.lockout.hard_limit,
            },
        )
        .await?;
        let detail = Some(channel.audit_detail().to_string());
        if reserved.is_none() {
            Audit::event(AuditEvent::SignInLocked, now)
                .tenant(&org.tenant_id)
                .account(account.as_ref().map(|a| &a.id))
                .client(&client)
                .detail(detail)
                .record(&mut conn)
                .await?;
            return Ok(CheckOutcome::Locked);
        }
        drop(conn);
        let reserved = Reservation {
            tenant: org.tenant_id.clone(),
            lockout: org.lockout,
            subject,
            account,
            client,
            detail,
            now,
        };
        // The reservation must be settled even if the caller goes away (a dropped connection
        // cancels the handler): the rest runs on its own task.
        let this = self.clone();
        let password = password.clone();
        let settle = crate::metrics::spawn(
            async move { this.settle(reserved, &password).await }.in_current_span(),
        );
        settle
            .await
            .map_err(|e| ResetError::Internal(anyhow::anyhow!("sign-in check task: {e}")))?
    }

    /// The channel's allowance, counted for `client`: over it, the first refusal of the window
    /// is audited and the check is refused before any look-up.
    async fn admit(
        &self,
        conn: &mut Conn,
        org: &Organisation,
        client: &str,
        channel: Channel,
        now: UnixTime,
    ) -> Result<(), ResetError> {
        let per_client = Limit {
            max: self.limits.signins_per_ip,
            window_secs: self.limits.signin_window_secs,
        };
        let tenant = org.tenant_id.as_str();
        let (bucket, limit) = match channel {
            Channel::LoginPage => (Bucket::SignIn { client }, per_client),
            Channel::Api { on_behalf: true } => (Bucket::Verify { tenant, client }, per_client),
            Channel::Api { on_behalf: false } => (
                Bucket::VerifyKey { tenant },
                Limit {
                    max: self.limits.verify_per_key,
                    window_secs: self.limits.verify_window_secs,
                },
            ),
        };
        let Err(refused) = hit(conn, bucket, limit, now).await? else {
            return Ok(());
        };
        if refused.first_in_window {
            Audit::event(AuditEvent::SignInRateLimited, now)
                .tenant(tenant)
                .client(client)
                .record(conn)
                .await?;
        }
        Err(ResetError::RateLimited {
            retry_after_secs: refused.retry_after_secs,
        })
    }

    /// Verifies a reserved check and audits its outcome; a check that fails on the way releases
    /// its reservation.
    async fn settle(
        &self,
        reserved: Reservation,
        password: &NewPassword,
    ) -> Result<CheckOutcome, ResetError> {
        let Reservation {
            tenant,
            lockout: policy,
            subject,
            account,
            client,
            detail,
            now,
        } = reserved;
        let outcome = self
            .verify_reserved(&tenant, policy, &subject, account, password, now)
            .await;
        if outcome.is_err() {
            let mut conn = self.store.write().await?;
            lockout::release(&mut conn, &tenant, &subject).await?;
        }
        let (outcome, account_id) = outcome?;
        let mut conn = self.store.write().await?;
        let event = match &outcome {
            CheckOutcome::Valid(_) => AuditEvent::SignInOk,
            _ => AuditEvent::SignInFailed,
        };
        Audit::event(event, now)
            .tenant(&tenant)
            .account(account_id.as_ref())
            .client(&client)
            .detail(detail)
            .record(&mut conn)
            .await?;
        Ok(outcome)
    }

    /// Hashes (against the dummy hash when there is no enrolled account) and settles the
    /// reservation: a success clears the failures, a failure counts and may lock.
    async fn verify_reserved(
        &self,
        tenant: &str,
        policy: LockoutPolicy,
        subject: &str,
        account: Option<Account>,
        password: &NewPassword,
        now: UnixTime,
    ) -> Result<(CheckOutcome, Option<AccountId>), ResetError> {
        let stored = account.as_ref().and_then(|a| a.password_hash.as_deref());
        let verified = self
            .hasher
            .verify(password, stored)
            .await
            .map_err(ResetError::from_hashing)?;
        let account_id = account.as_ref().map(|a| a.id.clone());
        let username = account.as_ref().map(|a| a.username.as_str().to_string());
        match (verified, account) {
            (Verified::Valid { needs_rehash }, Some(account)) => {
                lockout::succeed(&mut *self.store.write().await?, tenant, subject, now).await?;
                if needs_rehash {
                    // Hashed with no connection held: the write turn is not kept waiting.
                    let hash = self
                        .hasher
                        .hash(password)
                        .await
                        .map_err(ResetError::from_hashing)?;
                    let mut conn = self.store.write().await?;
                    accounts::set_password(&mut conn, &account.id, &hash, now).await?;
                    info!(account.id = %account.id, "password hash upgraded to the current parameters");
                }
                Ok((CheckOutcome::Valid(Box::new(account)), account_id))
            }
            _ => {
                let mut tx = self.store.begin().await?;
                let window = policy.window_start(now);
                let failures = lockout::fail(&mut tx, tenant, subject, now, window).await?;
                if let Some(delay) = policy.lock_for(failures) {
                    let until = delay.map_or(lockout::HARD_LOCK, |d| {
                        now.plus(i64::try_from(d.as_secs()).unwrap_or(3600))
                    });
                    lockout::lock_until(&mut tx, tenant, subject, until).await?;
                    info!(
                        failures = failures.consecutive,
                        in_window = failures.in_window,
                        hard = delay.is_none(),
                        "sign-in locked after consecutive failures"
                    );
                }
                tx.commit().await.map_err(StoreError::from)?;
                // A hard lock of an account (not of a username nobody has) goes to the desk.
                if let (Some(None), Some(username)) = (policy.lock_for(failures), username) {
                    self.desk.desk_event(
                        Some(tenant),
                        crate::model::events::DeskEvent::HardLock { username },
                    );
                }
                // This attempt was wrong; the lock applies from the next one.
                Ok((CheckOutcome::Invalid, account_id))
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
        let mut conn = self.store.write().await?;
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
        let mut conn = self.store.write().await?;
        sessions::delete(&mut conn, &token.hash())
            .await
            .map_err(|e: StoreError| e.into())
    }
}
