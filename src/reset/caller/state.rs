//! The code a caller reads back and where a check stands: pending, verified, lapsed.

use crate::model::UnixTime;
use std::fmt;

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};

use crate::model::{ConversationRef, Username};
use crate::{i18n::Locale, store::caller::CheckRow};

/// How long a code can be read back.
pub const CODE_LIFETIME: i64 = 600;
/// How long a confirmed caller's actions stay open to the agent.
pub const VERIFIED_FOR: i64 = 900;
/// Wrong codes allowed per check; then a new code is needed.
pub const MAX_TRIES: i64 = 3;
/// Codes sent to one account within an hour, by all agents: the owner is not to be flooded.
pub const CODES_PER_HOUR: u32 = 5;

/// A six-digit one-time code. Shown only to its owner; never logged.
pub struct CallerCode(pub(super) SecretString);

impl fmt::Debug for CallerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallerCode([redacted])")
    }
}

impl CallerCode {
    pub(super) fn generate() -> Self {
        let n: u32 = rand::rngs::OsRng.gen_range(0..1_000_000);
        Self(SecretString::from(format!("{n:06}")))
    }

    /// The code as the owner reads it out: `123 456`.
    pub fn spaced(&self) -> String {
        let digits = self.0.expose_secret();
        format!("{} {}", &digits[..3], &digits[3..])
    }
}

/// What asking for a code did.
#[derive(Debug)]
pub enum Started {
    NoAccount,
    /// `CODES_PER_HOUR` codes already went to this account within the hour.
    TooMany,
    /// The code is to be posted in the owner's chat with the bot (the caller posts it; when
    /// that fails, [`ResetService::mail_caller_code`] mails it instead).
    Teams {
        check: SentCheck,
        code: CallerCode,
        to: ConversationRef,
    },
    /// The owner has no chat with the bot: the code is on its way by mail.
    Mailed {
        check: SentCheck,
    },
}

/// A check just opened.
#[derive(Debug, Clone)]
pub struct SentCheck {
    pub id: String,
    /// The owner's language, when the directory gives one.
    pub locale: Option<Locale>,
    pub expires_at: UnixTime,
}

/// The agent's check of a caller, as the agent's card shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerState {
    /// No check, or one whose verified time is over: « Vérifier l'appelant ».
    None,
    /// A code is out, waiting to be read back.
    Pending {
        expires_at: UnixTime,
        by_mail: bool,
        tries_left: i64,
    },
    /// The caller read the right code: verified actions until then.
    Verified { until: UnixTime },
    /// The code expired or ran out of tries: a new one is needed.
    Spent,
    /// The owner said they did not call.
    Denied,
}

/// What a code typed by the agent did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    Confirmed {
        until: UnixTime,
    },
    Wrong {
        tries_left: i64,
    },
    /// Out of tries now, or expired, used or absent: ask for a new code.
    NeedNewCode,
    /// The owner said they did not call.
    Denied,
}

/// The owner's « Je n'ai pas appelé », for warning the agent.
#[derive(Debug, Clone)]
pub struct DeniedCall {
    pub agent_object_id: String,
    pub agent_name: String,
    pub username: Username,
    pub display_name: String,
    pub at: UnixTime,
}

/// What the owner's answer did.
#[derive(Debug, Clone)]
pub enum Denial {
    Done(DeniedCall),
    /// Already answered: nothing more.
    Already,
    /// No such check for this person's account.
    NotTheirs,
}

impl CallerState {
    pub(super) fn of(row: Option<&CheckRow>, now: UnixTime) -> Self {
        let Some(r) = row else { return Self::None };
        if r.denied_at.is_some() {
            return Self::Denied;
        }
        match r.confirmed_at {
            Some(at) if at + VERIFIED_FOR > now => Self::Verified {
                until: at + VERIFIED_FOR,
            },
            Some(_) => Self::None,
            None if r.tries >= MAX_TRIES || r.expires_at <= now => Self::Spent,
            None => Self::Pending {
                expires_at: r.expires_at,
                by_mail: r.sent_by == "mail",
                tries_left: MAX_TRIES - r.tries,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(now: UnixTime) -> CheckRow {
        CheckRow {
            id: "c".into(),
            tenant_id: "t".into(),
            account_id: "a".into(),
            agent_object_id: "o".into(),
            agent_name: "Agent".into(),
            code_hash: String::new(),
            sent_by: "teams".into(),
            created_at: now,
            expires_at: now + CODE_LIFETIME,
            tries: 0,
            confirmed_at: None,
            denied_at: None,
        }
    }

    #[test]
    fn a_check_moves_from_pending_to_verified_and_lapses() {
        let now = UnixTime(1_000);
        let mut r = row(now);
        assert_eq!(
            CallerState::of(Some(&r), now),
            CallerState::Pending {
                expires_at: now + CODE_LIFETIME,
                by_mail: false,
                tries_left: 3
            }
        );
        assert_eq!(
            CallerState::of(Some(&r), now + CODE_LIFETIME),
            CallerState::Spent
        );
        r.tries = MAX_TRIES;
        assert_eq!(CallerState::of(Some(&r), now), CallerState::Spent);
        r.tries = 1;
        r.confirmed_at = Some(now + 60);
        assert_eq!(
            CallerState::of(Some(&r), now + 60),
            CallerState::Verified {
                until: now + 60 + VERIFIED_FOR
            }
        );
        assert_eq!(
            CallerState::of(Some(&r), now + 60 + VERIFIED_FOR),
            CallerState::None
        );
        r.denied_at = Some(now + 61);
        assert_eq!(CallerState::of(Some(&r), now + 62), CallerState::Denied);
        assert_eq!(CallerState::of(None, now), CallerState::None);
    }

    #[test]
    fn codes_are_six_digits_read_in_two_groups() {
        for _ in 0..100 {
            let c = CallerCode::generate();
            let s = c.spaced();
            assert_eq!(s.len(), 7);
            assert!(s[..3].chars().all(|c| c.is_ascii_digit()));
            assert_eq!(&s[3..4], " ");
            assert!(!format!("{c:?}").contains(&s[..3]));
        }
    }
}
