//! `[limits]`: the rate limits, per client address, account and API key. The section is
//! deserialised straight into the domain's [`Limits`]; this checks it and describes it.

use super::{Config, Description};
use crate::reset::limits::Limits;

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
