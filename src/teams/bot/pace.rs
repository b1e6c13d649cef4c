//! Pacing the Bot Connector for a run that writes to many people (`campaign enroll`): requests
//! evenly spaced at a rate under Teams' limit for one app in one tenant, all of them held back
//! while Teams asks to wait (429 with Retry-After), and the rate lowered each time it does (the
//! tenant's budget is shared with the bot's live answers and any other app).
//!
//! The pacer also measures how long a request takes once let through, so that the run keeps as
//! many people in progress as that rate needs (rate × latency) and no more.

use std::{sync::Mutex, time::Duration};

use tokio::time::Instant;

/// Lowest rate a run is slowed down to, requests per second.
const FLOOR: f64 = 0.5;
/// After a 429, the rate is multiplied by this.
const SLOW_DOWN: f64 = 0.8;
/// Weight of the newest latency in the running average.
const ALPHA: f64 = 0.2;

#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    per_second: f64,
    /// When the next request may go.
    next: Instant,
    /// No request before this: Teams said to wait (429, Retry-After).
    hold_until: Instant,
    /// Running average of a request's duration, seconds (None until the first ends).
    latency: Option<f64>,
    /// 429s met.
    throttled: u32,
    /// Requests let through.
    requests: u64,
}

/// A request let through; dropped when it has ended, which times it.
pub struct Turn<'a> {
    pacer: &'a Pacer,
    started: Instant,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let took = self.started.elapsed().as_secs_f64();
        let mut s = self.pacer.lock();
        s.latency = Some(match s.latency {
            Some(avg) => avg + ALPHA * (took - avg),
            None => took,
        });
    }
}

impl Pacer {
    /// `per_second`: the rate to keep (at least `FLOOR`).
    pub fn new(per_second: f64) -> Self {
        Self {
            state: Mutex::new(State {
                per_second: per_second.max(FLOOR),
                next: Instant::now(),
                hold_until: Instant::now(),
                latency: None,
                throttled: 0,
                requests: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for this request's slot: `1 / rate` after the previous one's, and not before a
    /// hold (`throttled`) has ended. A hold that starts while a request waits for its slot
    /// sends it back to take a new one after the hold.
    pub async fn turn(&self) -> Turn<'_> {
        let mut counted = false;
        loop {
            let at = {
                let mut s = self.lock();
                let at = s.next.max(s.hold_until).max(Instant::now());
                s.next = at + Duration::from_secs_f64(1.0 / s.per_second);
                if !counted {
                    s.requests += 1;
                    counted = true;
                }
                at
            };
            tokio::time::sleep_until(at).await;
            if Instant::now() >= self.lock().hold_until {
                return Turn {
                    pacer: self,
                    started: Instant::now(),
                };
            }
        }
    }

    /// Teams answered 429: no request before `wait` has passed. The first 429 of a hold also
    /// lowers the rate from then on; those of requests already under way when it came do not.
    pub fn throttled(&self, wait: Duration) {
        let mut s = self.lock();
        let now = Instant::now();
        if now >= s.hold_until {
            s.per_second = (s.per_second * SLOW_DOWN).max(FLOOR);
            s.throttled += 1;
        }
        s.hold_until = s.hold_until.max(now + wait);
    }

    /// The rate kept now, requests per second.
    pub fn per_second(&self) -> f64 {
        self.lock().per_second
    }

    /// How many times Teams asked the run to slow down (429s in separate holds).
    pub fn throttled_count(&self) -> u32 {
        self.lock().throttled
    }

    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// People to keep in progress at once so that requests of `latency` each can keep the rate:
    /// rate × latency, with a quarter more for the work between requests; at least 1, at most
    /// `cap`.
    pub fn parallelism(&self, cap: usize) -> usize {
        let s = self.lock();
        let Some(latency) = s.latency else {
            return 1;
        };
        let wanted = (s.per_second * latency * 1.25).ceil();
        if wanted.is_finite() && wanted >= 1.0 {
            (wanted as usize).clamp(1, cap.max(1))
        } else {
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_at_the_rate() {
        let pacer = Pacer::new(10.0);
        let start = Instant::now();
        for _ in 0..11 {
            drop(pacer.turn().await);
        }
        let took = start.elapsed();
        assert_eq!(took, Duration::from_secs(1), "10 intervals of 100 ms");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_every_request_and_slows_the_rate() {
        let pacer = Pacer::new(10.0);
        drop(pacer.turn().await);
        pacer.throttled(Duration::from_secs(2));
        let before = Instant::now();
        drop(pacer.turn().await);
        assert!(before.elapsed() >= Duration::from_secs(2));
        assert!((pacer.per_second() - 8.0).abs() < 1e-9);
        assert_eq!(pacer.throttled_count(), 1);
        let before = Instant::now();
        drop(pacer.turn().await);
        assert_eq!(before.elapsed(), Duration::from_millis(125), "1 / 8 s");
    }

    #[tokio::test(start_paused = true)]
    async fn requests_already_waiting_for_their_slot_are_held_too() {
        let pacer = std::sync::Arc::new(Pacer::new(10.0));
        drop(pacer.turn().await);
        let start = Instant::now();
        let mut waiting = Vec::new();
        for _ in 0..4 {
            let pacer = pacer.clone();
            waiting.push(tokio::spawn(async move {
                drop(pacer.turn().await);
                Instant::now()
            }));
        }
        // Their slots are 100, 200, 300 and 400 ms away; a 429 comes at 50 ms.
        tokio::time::sleep(Duration::from_millis(50)).await;
        pacer.throttled(Duration::from_secs(2));
        // Another request under way when the 429 came gets one too: no second slow-down.
        pacer.throttled(Duration::from_secs(2));
        for w in waiting {
            let went = w.await.expect("a waiting request");
            assert!(went.duration_since(start) >= Duration::from_millis(2050));
        }
        assert_eq!(pacer.throttled_count(), 1);
        assert!((pacer.per_second() - 8.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn parallelism_follows_rate_times_latency() {
        let pacer = Pacer::new(30.0);
        assert_eq!(pacer.parallelism(64), 1, "nothing measured yet");
        {
            let _turn = pacer.turn().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // 30/s × 0.2 s × 1.25 = 7.5
        assert_eq!(pacer.parallelism(64), 8);
        assert_eq!(pacer.parallelism(4), 4);
        let quick = Pacer::new(30.0);
        {
            let _turn = quick.turn().await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(quick.parallelism(64), 1);
    }
}
