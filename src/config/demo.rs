//! `[demo]`: the demonstration account.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demo {
    /// Create the demo organisation's demo account at start-up when the directory is empty.
    #[serde(default)]
    pub seed: bool,
}
