//! The Teams app package: `manifest/` templates filled from the configuration and zipped (files
//! at the zip's root), or a clear refusal when the configuration cannot make a valid package.

use std::io::{Cursor, Write};

use serde_json::Value;
use url::{Host, Url};
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use crate::config::{BotMode, Config, TeamsApp};

const MANIFEST: &str = include_str!("../../manifest/manifest.template.json");
const LOCALIZATIONS: [(&str, &str); 2] = [
    ("en.json", include_str!("../../manifest/en.json")),
    ("pt.json", include_str!("../../manifest/pt.json")),
];
const ICONS: [(&str, &[u8]); 2] = [
    ("color.png", include_bytes!("../../manifest/color.png")),
    ("outline.png", include_bytes!("../../manifest/outline.png")),
];

/// Every reason the configuration cannot make a valid package.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the Teams app package:\n  - {}", .0.join("\n  - "))]
pub struct PackageRefused(pub Vec<String>);

/// The placeholder values, checked.
struct Values(Vec<(&'static str, String)>);

fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

fn values(cfg: &Config) -> Result<Values, PackageRefused> {
    let mut errs = Vec::new();
    let app = &cfg.teams_app;
    let (bot_id, app_id, sso_app_id) = app_ids(cfg, &mut errs);
    let host = public_host(&cfg.http.public_base_url, &mut errs);
    let full_names = full_names(app, &mut errs);
    let developer_url = publisher(app, &cfg.http.public_base_url, &mut errs);
    let color = &app.accent_color;
    if !errs.is_empty() {
        return Err(PackageRefused(errs));
    }
    let base_url = format!("https://{host}");
    Ok(Values(vec![
        ("APP_ID", app_id),
        ("BOT_ID", bot_id),
        ("HOST", host.clone()),
        ("BASE_URL", base_url),
        ("SSO_RESOURCE", format!("api://{host}/{sso_app_id}")),
        ("SSO_APP_ID", sso_app_id),
        ("VERSION", app.version.clone()),
        ("SHORT_NAME", app.short_name.clone()),
        ("FULL_NAME", app.full_name.clone()),
        ("FULL_NAME_EN", full_names[0].clone()),
        ("FULL_NAME_PT", full_names[1].clone()),
        ("DEVELOPER_NAME", app.developer_name.clone()),
        ("DEVELOPER_URL", developer_url),
        ("ACCENT_COLOR", color.clone()),
    ]))
}

/// The bot's, the app's and the single sign-on app's ids: GUIDs, the bot's by default.
fn app_ids(cfg: &Config, errs: &mut Vec<String>) -> (String, String, String) {
    let app = &cfg.teams_app;
    let bot_id = match &cfg.bot.mode {
        BotMode::Authenticated(a) => Some(a.app_id.clone()),
        BotMode::LocalDev => {
            errs.push("bot.app_id is empty: the package needs the Azure Bot's Microsoft App ID (README: register the bot)".into());
            None
        }
    };
    let bot_id = bot_id.unwrap_or_default();
    if !bot_id.is_empty() && !is_guid(&bot_id) {
        errs.push(format!("bot.app_id {bot_id:?} is not a GUID"));
    }
    let app_id = app.app_id.clone().unwrap_or_else(|| bot_id.clone());
    if !app_id.is_empty() && !is_guid(&app_id) {
        errs.push(format!("teams_app.app_id {app_id:?} is not a GUID"));
    }
    let sso_app_id = app.sso_app_id.clone().unwrap_or_else(|| bot_id.clone());
    if !sso_app_id.is_empty() && !is_guid(&sso_app_id) {
        errs.push(format!("teams_app.sso_app_id {sso_app_id:?} is not a GUID"));
    }
    (bot_id, app_id, sso_app_id)
}

/// The public host Teams loads the tab from and reaches the bot at: a bare https domain.
fn public_host(base: &Url, errs: &mut Vec<String>) -> String {
    let host = base.host_str().unwrap_or_default().to_ascii_lowercase();
    if base.scheme() != "https" {
        errs.push(format!(
            "http.public_base_url must be https (Teams loads the tab and reaches the bot only over https): {base}"
        ));
    }
    match base.host() {
        Some(Host::Domain(d)) if d.contains('.') && d != "localhost" => {}
        _ => errs.push(format!(
            "http.public_base_url must name a public domain (Teams validDomains), not {host:?}"
        )),
    }
    if base.port().is_some() || base.path() != "/" {
        errs.push("http.public_base_url must be the bare https://host (no port, no path) for the tab and SSO".into());
    }
    host
}

fn len(s: &str) -> usize {
    s.chars().count()
}

/// The app's names within the store's lengths; the English and Portuguese full names.
fn full_names(app: &TeamsApp, errs: &mut Vec<String>) -> Vec<String> {
    if !(1..=30).contains(&len(&app.short_name)) {
        errs.push(format!(
            "teams_app.short_name is {} characters; 1 to 30 allowed",
            len(&app.short_name)
        ));
    }
    if !(1..=100).contains(&len(&app.full_name)) {
        errs.push(format!(
            "teams_app.full_name is {} characters; 1 to 100 allowed",
            len(&app.full_name)
        ));
    }
    if app.short_name == app.full_name {
        errs.push("teams_app.full_name must differ from short_name".into());
    }
    let mut full_names = Vec::new();
    for (lang, suffix) in [
        ("en", " – password self-service"),
        ("pt", " – autoatendimento de senhas"),
    ] {
        let name = app
            .full_names
            .get(lang)
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("{}{suffix}", app.short_name));
        if !(1..=100).contains(&len(&name)) {
            errs.push(format!(
                "teams_app.full_names.{lang} is {} characters; 1 to 100 allowed",
                len(&name)
            ));
        }
        full_names.push(name);
    }
    for lang in app
        .full_names
        .keys()
        .filter(|l| !["en", "pt"].contains(&l.as_str()))
    {
        errs.push(format!(
            "teams_app.full_names.{lang}: only en and pt (full_name is the French one)"
        ));
    }
    full_names
}

/// Who publishes the app: its name, its https address (the service's by default), the
/// version and the accent colour. The address is returned.
fn publisher(app: &TeamsApp, base: &Url, errs: &mut Vec<String>) -> String {
    if !(1..=32).contains(&len(&app.developer_name)) {
        errs.push(format!(
            "teams_app.developer_name is {} characters; 1 to 32 allowed",
            len(&app.developer_name)
        ));
    }
    let developer_url = app
        .developer_url
        .clone()
        .unwrap_or_else(|| base.as_str().trim_end_matches('/').to_string());
    match Url::parse(&developer_url) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => {}
        _ => errs.push(format!(
            "teams_app.developer_url must be an https URL: {developer_url:?}"
        )),
    }
    let semver = app.version.split('.').collect::<Vec<_>>();
    if semver.len() != 3
        || semver
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        errs.push(format!(
            "teams_app.version {:?} must be MAJOR.MINOR.PATCH (digits)",
            app.version
        ));
    }
    let color = &app.accent_color;
    if color.len() != 7
        || !color.starts_with('#')
        || !color[1..].chars().all(|c| c.is_ascii_hexdigit())
    {
        errs.push(format!("teams_app.accent_color {color:?} must be #RRGGBB"));
    }
    developer_url
}

/// Replaces `{{NAME}}` in every string of the parsed template (values need no JSON escaping).
fn fill(node: &mut Value, values: &Values) -> Result<(), String> {
    match node {
        Value::String(s) => {
            for (name, value) in &values.0 {
                let placeholder = format!("{{{{{name}}}}}");
                if s.contains(&placeholder) {
                    *s = s.replace(&placeholder, value);
                }
            }
            if let Some(start) = s.find("{{") {
                return Err(format!("unknown placeholder in template: {}", &s[start..]));
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|i| fill(i, values)),
        Value::Object(map) => map.values_mut().try_for_each(|v| fill(v, values)),
        _ => Ok(()),
    }
}

/// The hosts of the organisations' Octopus portals (https only, as Teams frames nothing else):
/// the channel tab may be the portal itself (`/tab/config`).
fn portal_domains(cfg: &Config) -> Vec<String> {
    cfg.organisations
        .iter()
        .map(|o| &o.portal_url)
        .filter(|u| u.scheme() == "https")
        .filter_map(|u| match u.host() {
            Some(Host::Domain(d)) if d.contains('.') => Some(d.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// Appends `domains` to the manifest's `validDomains`, once each (the schema allows 100).
fn add_valid_domains(manifest: &mut Value, domains: &[String]) -> Result<(), PackageRefused> {
    if let Some(list) = manifest
        .get_mut("validDomains")
        .and_then(Value::as_array_mut)
    {
        for d in domains {
            if !list.iter().any(|v| v.as_str() == Some(d.as_str())) {
                list.push(Value::String(d.clone()));
            }
        }
        if list.len() > 100 {
            return Err(PackageRefused(vec![format!(
                "validDomains would list {} hosts (the service and the organisations' portals); Teams allows 100",
                list.len()
            )]));
        }
    }
    Ok(())
}

/// The package as zip bytes: manifest.json, the localization files and the icons, at the root.
/// What `manifest` would refuse in this configuration (nothing when it would build): for
/// `check-config`, so that a bad name or URL is found before the package is wanted.
pub fn problems(cfg: &Config) -> Vec<String> {
    values(cfg)
        .err()
        .map(|PackageRefused(errs)| errs)
        .unwrap_or_default()
}

pub fn build(cfg: &Config) -> Result<Vec<u8>, PackageRefused> {
    let values = values(cfg)?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let templates = std::iter::once(("manifest.json", MANIFEST)).chain(LOCALIZATIONS);
    for (name, src) in templates {
        let mut doc: Value = serde_json::from_str(src)
            .map_err(|e| PackageRefused(vec![format!("{name} template: {e}")]))?;
        fill(&mut doc, &values).map_err(|e| PackageRefused(vec![format!("{name}: {e}")]))?;
        if name == "manifest.json" {
            add_valid_domains(&mut doc, &portal_domains(cfg))?;
        }
        let bytes =
            serde_json::to_vec_pretty(&doc).map_err(|e| PackageRefused(vec![e.to_string()]))?;
        files.push((name.to_string(), bytes));
    }
    for (name, bytes) in ICONS {
        files.push((name.to_string(), bytes.to_vec()));
    }
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let io = |e: &dyn std::fmt::Display| PackageRefused(vec![format!("zip: {e}")]);
    for (name, bytes) in files {
        zip.start_file(name, options).map_err(|e| io(&e))?;
        zip.write_all(&bytes).map_err(|e| io(&e))?;
    }
    Ok(zip.finish().map_err(|e| io(&e))?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_inside_strings_and_leftovers_refused() {
        let mut doc =
            serde_json::json!({"a": "api://{{HOST}}/{{SSO_APP_ID}}", "b": ["{{HOST}}"], "n": 3});
        let v = Values(vec![
            ("HOST", "x.example.org".into()),
            ("SSO_APP_ID", "id".into()),
        ]);
        fill(&mut doc, &v).expect("filled");
        assert_eq!(doc["a"], "api://x.example.org/id");
        assert_eq!(doc["b"][0], "x.example.org");
        let mut bad = serde_json::json!({"a": "{{NOPE}}"});
        assert!(fill(&mut bad, &v).is_err());
    }
}
