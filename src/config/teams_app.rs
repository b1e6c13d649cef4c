//! `[teams_app]`: what the Teams app package says about itself (checked when the package is built).

use serde::Deserialize;

/// What the Teams app package says about itself (checked when the package is built).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsApp {
    pub app_id: Option<String>,
    /// Environment values are parsed as TOML: `…VERSION=1.0` arrives as a number.
    #[serde(deserialize_with = "string_or_number")]
    pub version: String,
    pub short_name: String,
    pub full_name: String,
    pub developer_name: String,
    pub developer_url: Option<String>,
    pub accent_color: String,
    pub sso_app_id: Option<String>,
    /// The full name in the package's other languages: `{ en = "…", pt = "…" }` (`full_name` is
    /// the French one). Unset: `short_name` and the service's own words.
    #[serde(default)]
    pub full_names: std::collections::BTreeMap<String, String>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        F(f64),
        I(i64),
    }
    Ok(match Either::deserialize(d)? {
        Either::S(s) => s,
        Either::F(f) => f.to_string(),
        Either::I(i) => i.to_string(),
    })
}
