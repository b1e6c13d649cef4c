//! Time, injected: the domain never calls `now()` itself, so expiry and rate windows are tested
//! by moving a manual clock rather than by sleeping.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// This instant, in the unit stored in the database.
    fn unix(&self) -> crate::model::UnixTime {
        crate::model::UnixTime(self.now().timestamp())
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Real time plus an offset that tests advance.
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    offset_secs: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn advance(&self, by: std::time::Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX / 4);
        self.offset_secs.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }
}

pub type SharedClock = Arc<dyn Clock>;
