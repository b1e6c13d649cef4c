//! Instants: what the service stores and compares of time, whole seconds since the Unix epoch
//! (UTC). A type of its own, so that an instant is never confused with a count of seconds (a
//! lifetime, a window, a delay), which stays a plain number.

use std::ops::{Add, Sub};

use serde::{Deserialize, Serialize};

/// One instant, in Unix seconds: the unit the database stores (`BIGINT`) and every rule reads.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    sqlx::Type,
)]
#[sqlx(transparent)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The Unix epoch: before every instant the service records.
    pub const EPOCH: UnixTime = UnixTime(0);

    /// Seconds since the epoch, as stored.
    pub fn secs(self) -> i64 {
        self.0
    }

    /// `secs` seconds later, saturating rather than overflowing (a far-future lock).
    pub fn plus(self, secs: i64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }

    /// `secs` seconds earlier, saturating.
    pub fn minus(self, secs: i64) -> UnixTime {
        UnixTime(self.0.saturating_sub(secs))
    }

    /// The start of the fixed window of `secs` seconds this instant falls in (windows start at
    /// the epoch, so every instance counts in the same ones).
    pub fn window_start(self, secs: i64) -> UnixTime {
        UnixTime(self.0 - self.0.rem_euclid(secs.max(1)))
    }

    /// As a calendar time, for showing (`None` out of chrono's range).
    pub fn to_utc(self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp(self.0, 0)
    }
}

impl Add<i64> for UnixTime {
    type Output = UnixTime;
    fn add(self, secs: i64) -> UnixTime {
        self.plus(secs)
    }
}

impl Sub<i64> for UnixTime {
    type Output = UnixTime;
    fn sub(self, secs: i64) -> UnixTime {
        self.minus(secs)
    }
}

/// Seconds from `earlier` to `self` (negative when `earlier` is later).
impl Sub<UnixTime> for UnixTime {
    type Output = i64;
    fn sub(self, earlier: UnixTime) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl std::fmt::Display for UnixTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_start_on_multiples_of_their_length_and_arithmetic_saturates() {
        assert_eq!(UnixTime(1_000_123).window_start(60), UnixTime(1_000_080));
        assert_eq!(UnixTime(-1).window_start(60), UnixTime(-60));
        assert_eq!(UnixTime(i64::MAX) + 10, UnixTime(i64::MAX));
        assert_eq!(UnixTime(100) - UnixTime(40), 60);
    }
}
