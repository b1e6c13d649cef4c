//! The strict key check: a configuration that does not deserialise (an unknown or missing key, a
//! value of the wrong kind) is explained key by key, with where it came from.

/// A configuration that does not deserialise, explained key by key: an unknown key is named
/// with its section path, where it came from, and the closest known key.
pub fn explain(err: figment::Error) -> super::ConfigErrors {
    super::ConfigErrors(err.into_iter().map(|e| explain_one(&e)).collect())
}

fn explain_one(e: &figment::Error) -> String {
    use figment::error::Kind;
    let from = match &e.metadata {
        Some(m) if m.name.contains("environment") => {
            " (from the environment variable OCTOPUS__{})".to_string()
        }
        Some(m) => match &m.source {
            Some(source) => format!(" (in {source})"),
            None => format!(" (from {})", m.name),
        },
        None => String::new(),
    };
    let key_of = |field: &str| {
        let mut path = e.path.clone();
        if path.last().map(String::as_str) != Some(field) {
            path.push(field.to_string());
        }
        path
    };
    let env_name = |path: &[String]| {
        path.iter()
            .map(|k| k.to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join("__")
    };
    match &e.kind {
        Kind::UnknownField(field, expected) => {
            let path = key_of(field);
            let key = path.join(".");
            let section = path[..path.len() - 1].join(".");
            let near = expected
                .iter()
                .min_by_key(|k| strsim::levenshtein(field, k))
                .map(|k| {
                    if section.is_empty() {
                        format!("; did you mean {k}?")
                    } else {
                        format!("; did you mean {section}.{k}?")
                    }
                })
                .unwrap_or_default();
            format!(
                "unknown key {key}{}{near} (known here: {})",
                from.replace("OCTOPUS__{}", &format!("OCTOPUS__{}", env_name(&path))),
                expected.join(", ")
            )
        }
        Kind::MissingField(field) => {
            let path = key_of(field);
            format!("missing key {}", path.join("."))
        }
        _ => {
            let key = e.path.join(".");
            let from = from.replace("OCTOPUS__{}", &format!("OCTOPUS__{}", env_name(&e.path)));
            if key.is_empty() {
                format!("{}{from}", e.kind)
            } else {
                format!("{key}: {}{from}", e.kind)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use figment::providers::{Format, Toml};

    use super::*;
    use crate::config::{Config, RawConfig};

    fn unknown(toml: &str) -> String {
        Config::figment(None)
            .merge(Toml::string(toml))
            .extract::<RawConfig>()
            .map_err(explain)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn an_unknown_key_is_named_with_its_section_and_the_closest_known_key() {
        let text = unknown("[mail]\ntransprot = \"smtp://x\"\n");
        assert!(text.contains("unknown key mail.transprot"), "{text}");
        assert!(text.contains("did you mean mail.transport?"), "{text}");
        let text = unknown(
            "[[organisations]]\ntenant_id = \"t\"\nslug = \"s\"\nname = \"n\"\nportal_url = \"https://p\"\nsender = \"a@b.c\"\ntime_zone = \"UTC\"\ndefault_locale = \"en\"\ntoken_lifetime_minutes = 5\n[organisations.policy]\nmin_lenght = 4\nmax_length = 9\nrequire_letter = true\nrequire_digit = true\n",
        );
        assert!(text.contains("organisations.0.policy.min_lenght"), "{text}");
        assert!(
            text.contains("did you mean organisations.0.policy.min_length?"),
            "{text}"
        );
        let text = unknown("[telemetry]\nformat = \"json\"\n");
        assert!(text.contains("unknown key telemetry"), "{text}");
    }
}
