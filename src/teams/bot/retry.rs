//! When a Bot Connector call is tried again, and after how long.

use std::time::Duration;

use rand::Rng;
use reqwest::{Method, StatusCode, header};

/// Whether a failed call is worth another try: no answer, busy (429, 503), a precondition
/// (412), or a server error of a call that is safe to repeat (not a POST).
pub(super) fn retriable(status: Option<StatusCode>, method: &Method) -> bool {
    match status {
        None => true,
        Some(StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) => true,
        Some(StatusCode::PRECONDITION_FAILED) => true,
        Some(s) if s.is_server_error() => *method != Method::POST,
        _ => false,
    }
}

/// The connector's own `Retry-After` (seconds), at most 30 s.
pub(super) fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(30)))
}

/// 1 s, 2 s, 4 s … ±20 %, at most 20 s (Teams' guidance: exponential backoff with jitter).
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = (1000u64 << attempt.saturating_sub(1).min(5)).min(20_000);
    Duration::from_millis((base as f64 * rand::thread_rng().gen_range(0.8..1.2)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_or_silent_connectors_are_tried_again_and_a_post_that_failed_inside_is_not() {
        assert!(retriable(None, &Method::PUT));
        for busy in [
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::PRECONDITION_FAILED,
        ] {
            assert!(retriable(Some(busy), &Method::POST), "{busy}");
        }
        assert!(retriable(Some(StatusCode::BAD_GATEWAY), &Method::PUT));
        assert!(!retriable(Some(StatusCode::BAD_GATEWAY), &Method::POST));
        assert!(!retriable(Some(StatusCode::FORBIDDEN), &Method::PUT));
    }

    #[test]
    fn the_wait_grows_within_its_jitter_and_stops_at_twenty_seconds() {
        for (attempt, base) in [(1, 1000), (2, 2000), (3, 4000), (9, 20_000)] {
            let ms = backoff(attempt).as_millis() as u64;
            assert!(
                (base * 8 / 10..=base * 12 / 10).contains(&ms),
                "{attempt}: {ms}"
            );
        }
    }
}
