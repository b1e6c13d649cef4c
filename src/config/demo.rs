//! `[demo]`: the demonstration account.

use serde::Deserialize;

use crate::org::Organisations;

/// The embedded demo organisation's tenant id: made up, never a real organisation's.
pub const DEMO_TENANT: &str = "00000000-0000-0000-0000-000000000000";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demo {
    /// Create the demo account (`trej`) at start-up when the directory is empty. Unset: only in
    /// local-development mode with the embedded demo organisation alone.
    #[serde(default)]
    pub seed: Option<bool>,
}

impl Demo {
    /// Whether the demo account is created: as written, else only for a local-development
    /// service whose one organisation is the embedded demo one.
    pub fn seeds(&self, local_dev: bool, orgs: &Organisations) -> bool {
        self.seed
            .unwrap_or_else(|| local_dev && only_the_demo_organisation(orgs))
    }

    /// `check-config`'s word on an explicit `seed = true` next to real organisations.
    pub fn warning(&self, orgs: &Organisations) -> Option<String> {
        (self.seed == Some(true) && !only_the_demo_organisation(orgs)).then(|| {
            "demo.seed = true with real organisations: the demo account trej \
             (julie.tremblay@example.org) is created in the first one when its directory is \
             empty; remove [demo] seed in production"
                .to_string()
        })
    }
}

fn only_the_demo_organisation(orgs: &Organisations) -> bool {
    orgs.iter().all(|o| o.tenant_id == DEMO_TENANT)
}
