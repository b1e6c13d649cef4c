//! `[organisations.words]` and the organisation's words as a page, card or mail says them.

use serde::Deserialize;

use super::Organisation;
use crate::i18n::Locale;

/// Text an organisation writes in each of its languages: `{ fr-CA = "…", en = "…", pt = "…" }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Localized(std::collections::BTreeMap<String, String>);

impl Localized {
    /// The text in `locale`, if the organisation wrote one.
    pub fn get(&self, locale: Locale) -> Option<&str> {
        self.0
            .get(locale.tag())
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// The languages written that the service does not speak (a configuration error).
    pub fn unknown_languages(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(String::as_str)
            .filter(|k| Locale::from_tag(k).is_none_or(|l| l.tag() != *k))
            .collect()
    }
}

/// `[organisations.words]`: what the organisation calls things. Unset: neutral defaults (no
/// username rule, « nom d'utilisateur », « de {name} »).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    /// How its usernames are made, shown as the hint under every username field.
    #[serde(default)]
    pub username_hint: Localized,
    /// Its term for the account people type (« compte unifié », « matricule »…; in Portuguese
    /// with its possessive: « sua conta unificada »).
    #[serde(default)]
    pub account_term: Localized,
    /// Its name as a sentence carries it, with its article (« du CISSS de Lanaudière »,
    /// « de la Cité », « du Cégep de Sept-Îles »; "the CISSS de Lanaudière"; « do CISSS »).
    #[serde(default)]
    pub name_in_sentence: Localized,
}

/// An organisation's words in one language, ready for a page, a card, a mail or the tab.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SaidWords {
    /// Its username rule; none when it wrote none in this language.
    pub username_hint: Option<String>,
    /// Its term for the account people type.
    pub account: String,
    /// Its name as a sentence carries it (« du CISSS de Lanaudière »).
    pub of_org: String,
    /// How to reach its service desk, in one line; none when it gave no phone or URL.
    pub contact: Option<String>,
}

impl Organisation {
    /// Its words in `locale`, the service's neutral ones (from `strings`) where it wrote none.
    pub fn words_in(&self, locale: Locale, strings: &crate::i18n::Strings) -> SaidWords {
        let w = &self.words;
        SaidWords {
            username_hint: w.username_hint.get(locale).map(str::to_string),
            account: w
                .account_term
                .get(locale)
                .map_or_else(|| strings.get(locale, "words.account"), str::to_string),
            of_org: w.name_in_sentence.get(locale).map_or_else(
                || {
                    strings
                        .get(locale, "words.of_org")
                        .replace("{name}", &self.name)
                },
                str::to_string,
            ),
            contact: self.contact_line(locale, strings),
        }
    }

    fn contact_line(&self, locale: Locale, strings: &crate::i18n::Strings) -> Option<String> {
        let desk = &self.service_desk;
        if !desk.is_set() {
            return None;
        }
        let mut details = Vec::new();
        if let Some(phone) = &desk.phone {
            let mut p = phone.trim().to_string();
            if let Some(ext) = &desk.extension {
                p.push_str(
                    &strings
                        .get(locale, "words.extension")
                        .replace("{n}", ext.trim()),
                );
            }
            details.push(p);
        }
        if let Some(hours) = desk.hours.get(locale) {
            details.push(format!("({hours})"));
        }
        if let Some(url) = &desk.url {
            details.push(url.to_string());
        }
        Some(
            strings
                .get(locale, "words.contact")
                .replace("{details}", &details.join(" ")),
        )
    }
}
