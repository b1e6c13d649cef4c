//! Caller verification for the service desk: an agent has a one-time code sent to the owner of
//! an account (in their Teams chat with the bot, else by mail); the caller reads it back; a right
//! code opens the agent's verified actions for a while. The code is kept only as an HMAC under a
//! key derived from the service key, works once, expires, and allows a few wrong tries. The
//! owner may answer « Je n'ai pas appelé », which ends the check and warns the agent.

use crate::model::UnixTime;
use hmac::Mac;
use secrecy::ExposeSecret;
use tracing::{info, instrument};

mod state;

pub use state::*;

use super::{
    ResetError, ResetService,
    agent::Agent,
    limits::{Limit, hit},
};
use crate::audit::{Audit, AuditEvent};
use crate::model::{Account, AccountId, ConversationRef, Username};
use crate::reset::limits::Bucket;
use crate::{
    mail::{MailParams, MailTemplate, OutgoingMail},
    org::Organisation,
    store::{Conn, StoreError, accounts, caller as rows, caller::CheckRow},
};

/// Codes that prove a caller is the account's owner.
pub struct CallerChecks<'a> {
    clock: &'a crate::clock::SharedClock,
    key: &'a crate::service_key::ServiceKey,
    outbox: crate::reset::outbox::Outbox<'a>,
    store: &'a crate::store::Store,
}

impl<'a> CallerChecks<'a> {
    /// This feature of `links`, borrowing only what it uses.
    pub fn of(links: &'a ResetService) -> Self {
        Self {
            clock: &links.clock,
            key: &links.key,
            outbox: crate::reset::outbox::Outbox::of(links),
            store: &links.store,
        }
    }
}

impl CallerChecks<'_> {
    /// Opens a check of the caller for `agent`: a new code for the account's owner, sent in their
    /// Teams chat with the bot when they have one, else queued by mail. Audited with the agent.
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    // Long: one transaction: the cap, the retired codes, the new one, its audit row and its mail,
    // all or none.
    pub async fn start_caller_check(
        &self,
        org: &Organisation,
        agent: &Agent,
        agent_name: &str,
        username: &Username,
    ) -> Result<Started, ResetError> {
        let now = self.clock.unix();
        let mut tx = self.store.begin().await?;
        let Some(account) = accounts::by_username(&mut tx, &org.tenant_id, username).await? else {
            return Ok(Started::NoAccount);
        };
        if !under_cap(&mut tx, org, &account, now).await? {
            return Ok(Started::TooMany);
        }
        let to = owner_chat(&mut tx, org, &account).await?;
        rows::retire(
            &mut tx,
            &org.tenant_id,
            &account.id.0,
            agent.object_id(),
            now,
        )
        .await?;
        let code = CallerCode::generate();
        let id = uuid::Uuid::new_v4().to_string();
        let sent_by = if to.is_some() { "teams" } else { "mail" };
        rows::insert(
            &mut tx,
            &CheckRow {
                id: id.clone(),
                tenant_id: org.tenant_id.clone(),
                account_id: account.id.0.clone(),
                agent_object_id: agent.object_id().to_string(),
                agent_name: agent_name.to_string(),
                code_hash: self.code_hash(&id, &code),
                sent_by: sent_by.to_string(),
                created_at: now,
                expires_at: now + CODE_LIFETIME,
                tries: 0,
                confirmed_at: None,
                denied_at: None,
            },
        )
        .await?;
        Audit::event(AuditEvent::CallerCodeSent, now)
            .tenant(&org.tenant_id)
            .account(&account.id)
            .client(&agent.requester().key())
            .detail(sent_by)
            .record(&mut tx)
            .await?;
        let check = SentCheck {
            id,
            locale: account.locale,
            expires_at: now + CODE_LIFETIME,
        };
        if to.is_none() {
            self.queue_code_mail(&mut tx, org, &account, &check, &code, agent_name, now)
                .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        info!(account.id = %account.id, sent_by, "caller code sent for a service-desk agent");
        Ok(match to {
            Some(to) => Started::Teams { check, code, to },
            None => {
                self.outbox.wake();
                Started::Mailed { check }
            }
        })
    }

    /// The code of a check that could not be posted in Teams, mailed instead.
    pub async fn mail_caller_code(
        &self,
        org: &Organisation,
        check: &SentCheck,
        code: &CallerCode,
    ) -> Result<(), ResetError> {
        let now = self.clock.unix();
        let mut tx = self.store.begin().await?;
        let Some(row) = rows::by_id(&mut tx, &check.id).await? else {
            return Ok(());
        };
        let Some(account) = accounts::by_id(&mut tx, &AccountId(row.account_id.clone())).await?
        else {
            return Ok(());
        };
        self.queue_code_mail(&mut tx, org, &account, check, code, &row.agent_name, now)
            .await?;
        rows::set_sent_by(&mut tx, &check.id, "mail").await?;
        self.outbox.commit(tx).await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn queue_code_mail(
        &self,
        tx: &mut Conn,
        org: &Organisation,
        account: &Account,
        check: &SentCheck,
        code: &CallerCode,
        agent_name: &str,
        now: UnixTime,
    ) -> Result<(), ResetError> {
        self.outbox
            .queue(
                tx,
                OutgoingMail {
                    template: MailTemplate::CallerCode,
                    to: &account.email,
                    locale: account.locale.unwrap_or(org.default_locale),
                    tenant_id: &org.tenant_id,
                    params: MailParams {
                        name: account.display_name.clone(),
                        expires_at: Some(check.expires_at),
                        code: Some(code.spaced()),
                        agent_name: Some(agent_name.to_string()),
                        ..MailParams::default()
                    },
                },
                now,
            )
            .await?;
        Ok(())
    }

    /// The code the agent typed, as the caller read it (spaces and dashes ignored), checked
    /// against the agent's newest check of the account. Audited either way.
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    pub async fn confirm_caller(
        &self,
        org: &Organisation,
        agent: &Agent,
        username: &Username,
        typed: &str,
    ) -> Result<Confirmation, ResetError> {
        let now = self.clock.unix();
        let typed: String = typed.chars().filter(char::is_ascii_digit).collect();
        let mut conn = self.store.write().await?;
        let Some(account) = accounts::by_username(&mut conn, &org.tenant_id, username).await?
        else {
            return Ok(Confirmation::NeedNewCode);
        };
        let Some(check) =
            rows::latest(&mut conn, &org.tenant_id, &account.id.0, agent.object_id()).await?
        else {
            return Ok(Confirmation::NeedNewCode);
        };
        match CallerState::of(Some(&check), now) {
            CallerState::Denied => return Ok(Confirmation::Denied),
            CallerState::Pending { .. } => {}
            _ => return Ok(Confirmation::NeedNewCode),
        }
        let agent_key = agent.requester().key();
        // Not six digits: not a guess, no try used.
        if typed.len() != 6 {
            return Ok(Confirmation::Wrong {
                tries_left: MAX_TRIES - check.tries,
            });
        }
        // The try is taken before the code is compared: concurrent guesses each use one.
        let Some(tries) = rows::take_try(&mut conn, &check.id, now, MAX_TRIES).await? else {
            return Ok(Confirmation::NeedNewCode);
        };
        if self.code_matches(&check, &typed) {
            if !rows::confirm(&mut conn, &check.id, now).await? {
                return Ok(Confirmation::NeedNewCode);
            }
            Audit::event(AuditEvent::CallerConfirmed, now)
                .tenant(&org.tenant_id)
                .account(&account.id)
                .client(&agent_key)
                .record(&mut conn)
                .await?;
            info!(account.id = %account.id, "caller confirmed by their one-time code");
            return Ok(Confirmation::Confirmed {
                until: now + VERIFIED_FOR,
            });
        }
        Audit::event(AuditEvent::CallerCodeWrong, now)
            .tenant(&org.tenant_id)
            .account(&account.id)
            .client(&agent_key)
            .detail(format!("tries: {tries}"))
            .record(&mut conn)
            .await?;
        Ok(if tries >= MAX_TRIES {
            Confirmation::NeedNewCode
        } else {
            Confirmation::Wrong {
                tries_left: MAX_TRIES - tries,
            }
        })
    }

    /// Where the agent's check of the account stands.
    pub(super) async fn caller_state(
        &self,
        conn: &mut Conn,
        org: &Organisation,
        agent: &Agent,
        account: &AccountId,
    ) -> Result<CallerState, ResetError> {
        let now = self.clock.unix();
        let row = rows::latest(conn, &org.tenant_id, &account.0, agent.object_id()).await?;
        Ok(CallerState::of(row.as_ref(), now))
    }

    /// The owner's « Je n'ai pas appelé » on the code card: only the identity bound to the
    /// account may give it. The check ends (a code not yet read back no longer works; a caller
    /// already confirmed loses the verified actions), audited with the agent who asked.
    #[instrument(skip_all, fields(tenant.id = %org.tenant_id))]
    pub async fn deny_caller(
        &self,
        org: &Organisation,
        owner_object_id: Option<&str>,
        check_id: &str,
    ) -> Result<Denial, ResetError> {
        let now = self.clock.unix();
        let Some(owner) = owner_object_id else {
            return Ok(Denial::NotTheirs);
        };
        let mut tx = self.store.begin().await?;
        let Some(check) = rows::by_id(&mut tx, check_id)
            .await?
            .filter(|c| c.tenant_id == org.tenant_id)
        else {
            return Ok(Denial::NotTheirs);
        };
        let account = accounts::by_id(&mut tx, &AccountId(check.account_id.clone())).await?;
        let Some(account) = account.filter(|a| {
            a.entra_object_id
                .as_deref()
                .is_some_and(|bound| bound.eq_ignore_ascii_case(owner))
        }) else {
            return Ok(Denial::NotTheirs);
        };
        if !rows::deny(&mut tx, &check.id, now).await? {
            return Ok(Denial::Already);
        }
        let agent_key = format!("agent:{}:{}", org.tenant_id, check.agent_object_id);
        Audit::event(AuditEvent::CallerDenied, now)
            .tenant(&org.tenant_id)
            .account(&account.id)
            .client(&agent_key)
            .record(&mut tx)
            .await?;
        tx.commit().await.map_err(StoreError::from)?;
        info!(account.id = %account.id, "the owner says they did not call the service desk");
        Ok(Denial::Done(DeniedCall {
            agent_object_id: check.agent_object_id,
            agent_name: check.agent_name,
            username: account.username,
            display_name: account.display_name,
            at: now,
        }))
    }

    /// The HMAC of the code, bound to its check: a code copied to another row does not match.
    fn code_hash(&self, check_id: &str, code: &CallerCode) -> String {
        use base64::Engine;
        let mac = self.code_mac(check_id, code.0.expose_secret());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    fn code_matches(&self, check: &CheckRow, typed: &str) -> bool {
        use base64::Engine;
        let Ok(stored) = base64::engine::general_purpose::STANDARD.decode(&check.code_hash) else {
            return false;
        };
        self.code_mac(&check.id, typed)
            .verify_slice(&stored)
            .is_ok()
    }

    fn code_mac(&self, check_id: &str, digits: &str) -> hmac::Hmac<sha2::Sha256> {
        let key = self.key.derive("caller-code");
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(&key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(check_id.as_bytes());
        mac.update(b":");
        mac.update(digits.as_bytes());
        mac
    }
}

/// `CODES_PER_HOUR` codes per account: one atomic count, so that concurrent asks cannot pass
/// the cap together.
async fn under_cap(
    conn: &mut Conn,
    org: &Organisation,
    account: &Account,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let per_hour = Limit {
        max: CODES_PER_HOUR,
        window_secs: 3600,
    };
    let bucket = Bucket::CallerCode {
        tenant: &org.tenant_id,
        account: &account.id.0,
    };
    Ok(hit(conn, bucket, per_hour, now).await?.is_ok())
}

/// The owner's personal chat with the bot, where the code is posted when there is one.
async fn owner_chat(
    conn: &mut Conn,
    org: &Organisation,
    account: &Account,
) -> Result<Option<ConversationRef>, StoreError> {
    match account.entra_object_id.as_deref() {
        Some(oid) => crate::store::bot::personal_conversation(conn, &org.chat_tenants(), oid).await,
        None => Ok(None),
    }
}
