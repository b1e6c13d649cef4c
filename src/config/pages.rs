//! `[pages]`: the web pages (/login, /forgot, /enroll, /reset/…).

use serde::Deserialize;

use super::{Config, Description};

/// The web pages (/login, /forgot, /enroll, /reset/…).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pages {
    #[serde(default)]
    pub language: PageLanguage,
}

/// Which language a page opens in before the person chooses one (a choice is remembered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageLanguage {
    /// The organisation's default language, the others as links (as the seed's portal does).
    #[default]
    Organisation,
    /// The browser's Accept-Language, else the organisation's.
    Browser,
}

impl PageLanguage {
    /// As written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Organisation => "organisation",
            Self::Browser => "browser",
        }
    }
}

pub(super) fn describe(cfg: &Config, out: &mut Description) {
    out.line("pages.language", cfg.pages.language.as_str());
}
