//! How the command line talks to the admin: lines and tables on standard output.

use std::io::Write;

/// The configuration file read when neither --config nor OCTOPUS_CONFIG names one.
pub const SYSTEM_CONFIG: &str = "/etc/octopus-teams/config.toml";

/// A table for people: columns as wide as what they hold (accents and all), no borders.
pub(super) fn table<const N: usize>(header: [&str; N]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header);
    t
}

/// Prints a [`table`] flush left, without trailing spaces.
pub(super) fn say_table(table: &comfy_table::Table) {
    let text = table.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect();
    say(lines.join("\n"));
}

/// Prints to standard output: the CLI's one way to talk to the admin.
pub fn say(text: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", text.as_ref());
}

/// The database a command wrote to, as a person names it: scheme, host and database (or file),
/// never a user, a password or the URL's parameters.
pub fn database_label(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.path()
        ),
        Err(_) => "the configured database".into(),
    }
}
