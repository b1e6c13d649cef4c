//! `[limits]`: the rate limits, per client address, account and API key.

use serde::Deserialize;

use super::{Config, Description};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub requests_per_ip: u32,
    pub requests_per_account: u32,
    pub request_window_secs: u64,
    pub signins_per_ip: u32,
    pub signin_window_secs: u64,
    pub verify_per_key: u32,
    pub verify_window_secs: u64,
}

impl Limits {
    pub(super) fn validate(&self, errs: &mut Vec<String>) {
        if self.request_window_secs == 0
            || self.signin_window_secs == 0
            || self.verify_window_secs == 0
        {
            errs.push("limits: windows must be at least one second".into());
        }
    }
}

pub(super) fn describe(cfg: &Config, out: &mut Description) {
    out.line("limits", format!("{:?}", cfg.limits));
}
