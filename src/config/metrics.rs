//! `[metrics]`: where `GET /metrics` is served, who may read it, and how often the figures that
//! follow a person's request (mail, the outbox) are published.

use std::{net::SocketAddr, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Config, Description, security::strong_secret};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// The address of the metrics listener (default 127.0.0.1:9464); empty = on http.listen,
    /// which needs a token.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The bearer token scrapers present (at least 32 characters); only its hash is kept.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// The token's SHA-256 (64 hex digits), for configurations that keep no token at all.
    #[serde(default)]
    pub token_sha256: Option<String>,
    /// The mail and outbox figures change at most this often (seconds).
    #[serde(default = "default_publish")]
    pub publish_interval_secs: u64,
}

fn default_listen() -> String {
    "127.0.0.1:9464".into()
}

fn default_publish() -> u64 {
    300
}

impl Default for RawMetrics {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            token: None,
            token_sha256: None,
            publish_interval_secs: default_publish(),
        }
    }
}

/// Where and to whom `/metrics` is served.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// The separate listener; `None`: on http.listen (then a token is required).
    pub listen: Option<SocketAddr>,
    /// The SHA-256 of the bearer token scrapers must present, when one is set.
    pub token_sha256: Option<[u8; 32]>,
    pub publish_interval: Duration,
}

impl MetricsConfig {
    /// Whether `authorization` (the request's header) carries the token; always true without one.
    pub fn admits(&self, authorization: Option<&str>) -> bool {
        let Some(want) = &self.token_sha256 else {
            return true;
        };
        let presented = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        if presented.is_empty() {
            return false;
        }
        let got: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Compared whole, whatever the first difference.
        got.iter().zip(want).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
    }

    /// `check-config`'s word when anyone who reaches the listener may read it.
    pub fn warning(&self) -> Option<String> {
        let open = self.listen.is_some_and(|a| !a.ip().is_loopback());
        (open && self.token_sha256.is_none()).then(|| {
            "metrics.listen is reachable from other hosts and metrics.token is not set: anyone \
             who reaches it reads the service's figures; set metrics.token (≥ 32 characters) or \
             bind metrics.listen to 127.0.0.1"
                .to_string()
        })
    }
}

impl RawMetrics {
    pub(super) fn validate(&self, errs: &mut Vec<String>) -> MetricsConfig {
        let listen = match self.listen.trim() {
            "" => None,
            l => l
                .parse::<SocketAddr>()
                .map_err(|e| {
                    errs.push(format!(
                        "metrics.listen: {e} (expected host:port, e.g. 127.0.0.1:9464, or empty \
                         to share http.listen with a token)"
                    ))
                })
                .ok(),
        };
        let from_token = self.token.as_ref().and_then(|t| {
            strong_secret(t.expose_secret().trim())
                .map_err(|why| {
                    errs.push(format!(
                        "metrics.token: {why} (e.g. `openssl rand -base64 32`)"
                    ))
                })
                .ok()
                .map(|()| Sha256::digest(t.expose_secret().trim().as_bytes()).into())
        });
        let from_hash = self.token_sha256.as_deref().and_then(|h| {
            let bytes = hex::decode(h.trim()).ok().filter(|b| b.len() == 32);
            if bytes.is_none() {
                errs.push(
                    "metrics.token_sha256: must be 64 hex digits (`printf %s TOKEN | sha256sum`)"
                        .into(),
                );
            }
            let empty: [u8; 32] = Sha256::digest(b"").into();
            if bytes.as_deref() == Some(empty.as_slice()) {
                errs.push(
                    "metrics.token_sha256: that is the SHA-256 of an empty token (was TOKEN set \
                     when you ran sha256sum?)"
                        .into(),
                );
            }
            bytes.and_then(|b| <[u8; 32]>::try_from(b).ok())
        });
        if from_token.is_some() && from_hash.is_some() {
            errs.push("metrics: set token or token_sha256, not both".into());
        }
        let token_sha256 = from_token.or(from_hash);
        // A token that was given but refused is already named above.
        if self.listen.trim().is_empty() && self.token.is_none() && self.token_sha256.is_none() {
            errs.push(
                "metrics.listen is empty (serve /metrics on http.listen) but no metrics.token is \
                 set: the public listener would tell anyone the service's figures; set \
                 metrics.token (≥ 32 characters, sent as Authorization: Bearer …) or a loopback \
                 metrics.listen such as 127.0.0.1:9464"
                    .into(),
            );
        }
        if self.publish_interval_secs == 0 {
            errs.push("metrics.publish_interval_secs: at least 1".into());
        }
        MetricsConfig {
            listen,
            token_sha256,
            publish_interval: Duration::from_secs(self.publish_interval_secs.max(1)),
        }
    }
}

pub(super) fn describe(cfg: &Config, out: &mut Description) {
    let m = &cfg.metrics;
    out.line(
        "metrics.listen",
        m.listen
            .map_or("on http.listen".to_string(), |a| a.to_string()),
    );
    out.line(
        "metrics.token",
        if m.token_sha256.is_some() {
            "set (redacted)"
        } else {
            "none"
        },
    );
    out.line(
        "metrics.publish_interval",
        format!(
            "{} s (mail and outbox figures)",
            m.publish_interval.as_secs()
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(listen: &str, token: Option<&str>) -> (MetricsConfig, Vec<String>) {
        let raw = RawMetrics {
            listen: listen.into(),
            token: token.map(SecretString::from),
            ..RawMetrics::default()
        };
        let mut errs = Vec::new();
        (raw.validate(&mut errs), errs)
    }

    #[test]
    fn the_public_listener_serves_metrics_only_with_a_strong_token() {
        let (_, errs) = metrics("", None);
        assert!(errs[0].contains("metrics.token"), "{errs:?}");
        let (_, errs) = metrics("", Some("short"));
        assert!(errs[0].contains("metrics.token"), "{errs:?}");
        let token = "a-scraper-token-of-at-least-32-chars-Zq8w";
        let (m, errs) = metrics("", Some(token));
        assert!(errs.is_empty(), "{errs:?}");
        assert!(m.admits(Some(&format!("Bearer {token}"))));
        assert!(!m.admits(Some("Bearer a-scraper-token-of-at-least-32-chars-Zq8x")));
        assert!(!m.admits(None));
        assert!(!m.admits(Some("Bearer ")));
        let (_, errs) = metrics("", Some("          short-but-padded          "));
        assert!(!errs.is_empty(), "padding does not make a token strong");
    }

    #[test]
    fn the_hash_of_an_empty_token_is_refused() {
        let raw = RawMetrics {
            listen: String::new(),
            token_sha256: Some(
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
            ),
            ..RawMetrics::default()
        };
        let mut errs = Vec::new();
        let m = raw.validate(&mut errs);
        assert!(errs.iter().any(|e| e.contains("empty token")), "{errs:?}");
        assert!(!m.admits(None));
    }

    #[test]
    fn an_open_listener_without_a_token_is_warned_about() {
        let (m, errs) = metrics("0.0.0.0:9464", None);
        assert!(errs.is_empty());
        assert!(m.warning().is_some());
        let (m, _) = metrics("127.0.0.1:9464", None);
        assert!(m.warning().is_none());
        assert!(m.admits(None), "loopback without a token: no token asked");
    }
}
