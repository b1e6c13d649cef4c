//! `[limits]`: the rate limits, per client address, account and API key, as the domain counts
//! them; checked and described here.

use super::{Config, Description};
use serde::Deserialize;

/// The allowances of `[limits]`: per client address, account and API key.
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
    pub scim_per_org: u32,
    pub scim_failures_per_ip: u32,
    pub scim_window_secs: u64,
}

/// Every window lasts at least one second.
pub(super) fn validate(limits: &Limits, errs: &mut Vec<String>) {
    if limits.request_window_secs == 0
        || limits.signin_window_secs == 0
        || limits.verify_window_secs == 0
        || limits.scim_window_secs == 0
    {
        errs.push("limits: windows must be at least one second".into());
    }
}

pub(super) fn describe(cfg: &Config, out: &mut Description) {
    out.line("limits", format!("{:?}", cfg.limits));
}
