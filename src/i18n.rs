//! Languages and the string tables in `locales/` (French first). Every user-visible string comes
//! from these tables; code only chooses the key.

use std::sync::Arc;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    FrCa,
    En,
    Pt,
}

impl Locale {
    pub const ALL: [Locale; 3] = [Locale::FrCa, Locale::En, Locale::Pt];

    pub fn tag(self) -> &'static str {
        match self {
            Locale::FrCa => "fr-CA",
            Locale::En => "en",
            Locale::Pt => "pt",
        }
    }

    /// Accepts language tags loosely: `fr`, `fr-FR`, `FR_ca`, `en-US`, `pt-BR`…
    pub fn from_tag(tag: &str) -> Option<Self> {
        let lang = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match lang.as_str() {
            "fr" => Some(Locale::FrCa),
            "en" => Some(Locale::En),
            "pt" => Some(Locale::Pt),
            _ => None,
        }
    }

    /// The first supported language of an `Accept-Language` header, by quality.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut choices: Vec<(f32, Locale)> = header
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let tag = it.next()?.trim();
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((q, Locale::from_tag(tag)?))
            })
            .collect();
        choices.sort_by(|a, b| b.0.total_cmp(&a.0));
        choices.first().map(|c| c.1)
    }

    fn index(self) -> usize {
        match self {
            Locale::FrCa => 0,
            Locale::En => 1,
            Locale::Pt => 2,
        }
    }
}

impl std::fmt::Display for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.tag())
    }
}

const SOURCES: [(&str, &str); 3] = [
    ("fr-CA", include_str!("../locales/fr-CA.toml")),
    ("en", include_str!("../locales/en.toml")),
    ("pt", include_str!("../locales/pt.toml")),
];

/// The three string tables, parsed once at start-up.
#[derive(Clone, Debug)]
pub struct Strings {
    tables: Arc<[Value; 3]>,
    /// The same tables as template values, converted once.
    views: Arc<[minijinja::Value; 3]>,
}

impl Strings {
    pub fn load() -> anyhow::Result<Self> {
        let parse = |(tag, src): (&str, &str)| -> anyhow::Result<Value> {
            let table: toml::Table =
                toml::from_str(src).map_err(|e| anyhow::anyhow!("locales/{tag}.toml: {e}"))?;
            Ok(serde_json::to_value(table)?)
        };
        let [a, b, c] = SOURCES;
        let tables = [parse(a)?, parse(b)?, parse(c)?];
        let views = tables.clone().map(|t| minijinja::Value::from_serialize(&t));
        Ok(Self {
            tables: Arc::new(tables),
            views: Arc::new(views),
        })
    }

    /// The whole table, for templates (`{{ t.login.title }}`).
    pub fn table(&self, locale: Locale) -> minijinja::Value {
        self.views[locale.index()].clone()
    }

    fn json(&self, locale: Locale) -> &Value {
        &self.tables[locale.index()]
    }

    /// One string by dotted key; falls back to French, then to the key itself so a missing
    /// translation is visible rather than blank.
    pub fn get(&self, locale: Locale, key: &str) -> String {
        lookup(self.json(locale), key)
            .or_else(|| lookup(self.json(Locale::FrCa), key))
            .unwrap_or_else(|| key.to_string())
    }

    /// One table of the locale as JSON (e.g. `cards` for the Adaptive Card strings).
    pub fn section(&self, locale: Locale, name: &str) -> Value {
        self.json(locale)
            .get(name)
            .cloned()
            .unwrap_or(Value::Object(Default::default()))
    }

    /// Every dotted key of a table, for the completeness test.
    pub fn keys(&self, locale: Locale) -> Vec<String> {
        let mut out = Vec::new();
        collect_keys(self.json(locale), String::new(), &mut out);
        out.sort();
        out
    }
}

fn lookup(table: &Value, key: &str) -> Option<String> {
    let mut v = table;
    for part in key.split('.') {
        v = v.get(part)?;
    }
    v.as_str().map(str::to_string)
}

fn collect_keys(v: &Value, prefix: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                collect_keys(child, key, out);
            }
        }
        _ => out.push(prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_key() {
        let s = Strings::load().expect("locales parse");
        let fr = s.keys(Locale::FrCa);
        for loc in [Locale::En, Locale::Pt] {
            let other = s.keys(loc);
            let missing: Vec<_> = fr.iter().filter(|k| !other.contains(k)).collect();
            let extra: Vec<_> = other.iter().filter(|k| !fr.contains(k)).collect();
            assert!(missing.is_empty(), "{loc}: missing {missing:?}");
            assert!(extra.is_empty(), "{loc}: not in fr-CA {extra:?}");
        }
    }

    #[test]
    fn cards_and_tab_name_the_link_as_the_email_shows_it() {
        let s = Strings::load().expect("locales parse");
        for loc in Locale::ALL {
            let link = s.get(loc, "mail.reset.link");
            for key in [
                "cards.sentMessage",
                "cards.sentUniformMessage",
                "cards.usedMessage",
            ] {
                assert!(
                    s.get(loc, key).contains(&link),
                    "{loc} {key} does not name « {link} »"
                );
            }
        }
    }

    /// Every French string as a reader sees it: no plain space before « : ; ? ! » or inside
    /// « », « courriel » rather than « email ». Placeholders (`{email}`) are not text.
    #[test]
    fn french_strings_follow_the_oqlf_typography() {
        let table: toml::Table =
            toml::from_str(include_str!("../locales/fr-CA.toml")).expect("fr-CA parses");
        let mut strings = Vec::new();
        collect("", &toml::Value::Table(table), &mut strings);
        let mut problems = Vec::new();
        for (key, text) in &strings {
            let prose = without_placeholders(text);
            for (bad, why) in [
                (" :", "plain space before « : »"),
                (" ;", "plain space before « ; »"),
                (" ?", "plain space before « ? »"),
                (" !", "plain space before « ! »"),
                ("« ", "plain space after « « »"),
                (" »", "plain space before « » »"),
            ] {
                if prose.contains(bad) {
                    problems.push(format!("{key}: {why}: {text:?}"));
                }
            }
            // « : » right after a word, with no space at all (`Lien: …`).
            let chars: Vec<char> = prose.chars().collect();
            for w in chars.windows(3) {
                if w[0].is_alphanumeric() && w[1] == ':' && (w[2] == ' ' || w[2] == '\n') {
                    problems.push(format!("{key}: no space before « : »: {text:?}"));
                    break;
                }
            }
            if chars.len() >= 2
                && chars[chars.len() - 1] == ':'
                && chars[chars.len() - 2].is_alphanumeric()
            {
                problems.push(format!("{key}: no space before « : »: {text:?}"));
            }
            let lower = prose.to_lowercase();
            let words: Vec<&str> = lower
                .split(|c: char| !c.is_alphanumeric() && c != '-')
                .collect();
            if words
                .iter()
                .any(|w| matches!(*w, "email" | "e-mail" | "emails" | "e-mails"))
            {
                problems.push(format!("{key}: « courriel », not « email »: {text:?}"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    fn collect(prefix: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
        match v {
            toml::Value::String(s) => out.push((prefix.to_string(), s.clone())),
            toml::Value::Table(t) => {
                for (k, v) in t {
                    collect(&format!("{prefix}.{k}"), v, out);
                }
            }
            toml::Value::Array(a) => {
                for v in a {
                    collect(prefix, v, out);
                }
            }
            _ => {}
        }
    }

    /// `text` with `{…}` placeholders removed (they are names, not words).
    fn without_placeholders(text: &str) -> String {
        let mut out = String::new();
        let mut depth = 0;
        for c in text.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth > 0 => depth -= 1,
                _ if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(
            Locale::from_accept_language("de-DE, pt-BR;q=0.8, en;q=0.5"),
            Some(Locale::Pt)
        );
        assert_eq!(
            Locale::from_accept_language("en-US,en;q=0.9"),
            Some(Locale::En)
        );
        assert_eq!(Locale::from_accept_language("de"), None);
        assert_eq!(Locale::from_tag("fr-FR"), Some(Locale::FrCa));
    }
}
