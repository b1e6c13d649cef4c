//! `[metrics]`: where `GET /metrics` is served.

use std::net::SocketAddr;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// A separate address for `GET /metrics` (e.g. 127.0.0.1:9464); empty = on http.listen.
    #[serde(default)]
    pub listen: String,
}

impl RawMetrics {
    /// The separate address, if one is set.
    pub(super) fn validate(&self, errs: &mut Vec<String>) -> Option<SocketAddr> {
        match self.listen.trim() {
            "" => None,
            l => l
                .parse::<SocketAddr>()
                .map_err(|e| {
                    errs.push(format!(
                        "metrics.listen: {e} (expected host:port, e.g. 127.0.0.1:9464, or empty)"
                    ))
                })
                .ok(),
        }
    }
}
