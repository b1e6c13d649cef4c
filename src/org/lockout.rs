//! `[organisations.lockout]`: when failed sign-ins lock an account, and for how long.

use crate::model::UnixTime;
use std::time::Duration;

use serde::Deserialize;

/// Consecutive sign-in failures before and while the account is locked.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutPolicy {
    pub threshold: u32,
    pub base_delay_secs: u64,
    pub max_delay_secs: u64,
    pub hard_limit: u32,
    /// Failures count toward `hard_limit` over this many hours, across self-service unlocks.
    #[serde(default = "default_hard_limit_window_hours")]
    pub hard_limit_window_hours: u64,
    /// Self-service unlocks (bot, tab) per account per day; an agent's are not counted.
    #[serde(default = "default_self_unlocks_per_day")]
    pub self_unlocks_per_day: u32,
}

fn default_hard_limit_window_hours() -> u64 {
    24
}

fn default_self_unlocks_per_day() -> u32 {
    3
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            threshold: 5,
            base_delay_secs: 60,
            max_delay_secs: 3600,
            hard_limit: 100,
            hard_limit_window_hours: default_hard_limit_window_hours(),
            self_unlocks_per_day: default_self_unlocks_per_day(),
        }
    }
}

impl LockoutPolicy {
    /// How long the account stays locked after a failure that left these counts; `None` when
    /// it is not locked, `Some(None)` when only a new password or an agent can unlock it.
    pub fn lock_for(&self, failures: crate::store::lockout::Failures) -> Option<Option<Duration>> {
        if failures.consecutive >= self.hard_limit || failures.in_window >= self.hard_limit {
            return Some(None);
        }
        let consecutive = failures.consecutive;
        if consecutive < self.threshold {
            return None;
        }
        let doublings = (consecutive - self.threshold).min(20);
        let secs = self
            .base_delay_secs
            .saturating_mul(1u64 << doublings)
            .min(self.max_delay_secs);
        Some(Some(Duration::from_secs(secs)))
    }

    /// The start of the hard lock's window ending at `now`.
    pub fn window_start(&self, now: UnixTime) -> UnixTime {
        let secs =
            i64::try_from(self.hard_limit_window_hours.saturating_mul(3600)).unwrap_or(i64::MAX);
        now.minus(secs)
    }
}
