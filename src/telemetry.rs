//! Logging: `RUST_LOG`-style filter, pretty for people or JSON for collectors.

use std::{borrow::Cow, io};

use tracing_subscriber::{EnvFilter, fmt, fmt::MakeWriter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pretty,
    Json,
}

/// `[log]`: how the service logs (the command line's `--log-format` and `RUST_LOG` win).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` (default) or `json`.
    pub format: Option<Format>,
    /// The service's own level (`info`, `debug`, `warn`…), or a whole filter
    /// (`octopus_teams=debug,sqlx=warn`).
    pub level: Option<String>,
}

impl LogSettings {
    fn filter(&self) -> String {
        match self.level.as_deref().map(str::trim) {
            Some(l) if l.contains('=') || l.contains(',') => l.to_string(),
            Some(l) if !l.is_empty() => format!("octopus_teams={l},tower_http=warn"),
            _ => DEFAULT_FILTER.to_string(),
        }
    }
}

pub const DEFAULT_FILTER: &str = "octopus_teams=info,tower_http=warn";

/// Starts logging: `format` from the command line, else `[log]`; `RUST_LOG`, else `[log] level`.
pub fn init(format: Option<Format>, settings: &LogSettings) {
    use std::io::IsTerminal;
    use tracing_subscriber::field::MakeExt;
    let format = format.or(settings.format).unwrap_or(Format::Pretty);
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(settings.filter()))
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Colours only for a person at a terminal who has not asked for none (no-color.org).
    let colours =
        io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(Redacting(io::stdout));
    let _ = match format {
        Format::Pretty => builder
            .with_ansi(colours)
            .fmt_fields(
                fmt::format::debug_fn(|w, field, value| {
                    let raw = format!("{value:?}");
                    let text = escape_controls(&raw);
                    match field.name() {
                        "message" => write!(w, "{text}"),
                        name => write!(w, "{name}={text}"),
                    }
                })
                .delimited(" "),
            )
            .try_init(),
        Format::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// `text` with every control character (line breaks, ANSI escape sequences' ESC, C1 controls)
/// and every bidirectional override written as a `\u{…}` escape: values that come from outside
/// (a team's name, a tenant id from an activity) cannot start a line of their own, colour the
/// terminal, or reorder what follows.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{2028}' | '\u{2029}'
            )
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Query parameters whose values are secrets wherever they appear in a URL.
const SECRET_PARAMS: [&str; 12] = [
    "password",
    "pass",
    "pwd",
    "passwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "sig",
];

/// Every URL in `text` with its password (`user:***@`), secret query values (`?password=***`)
/// and reset-link tokens (`/reset/***`) hidden. Text without a URL is returned as it is.
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    if !text.contains("://") && !text.contains("password=") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The scheme: letters, digits, '+', '-', '.' just before "://".
        // (Past the whole character found: it may be several bytes long, e.g. « é:// ».)
        let mut start = rest[..i]
            .char_indices()
            .rfind(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(j, c)| j + c.len_utf8());
        // A scheme starts with a letter (colour codes may stick digits in front of it).
        while start < i && !rest[start..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            start += 1;
        }
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')'))
            .map_or(rest.len(), |j| i + j);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    // `password=…` outside a URL (a connection string, a form echoed in an error).
    if out.contains("password=") {
        out = out
            .split("password=")
            .enumerate()
            .map(|(n, part)| {
                if n == 0 {
                    return part.to_string();
                }
                let cut = part
                    .find(|c: char| c.is_whitespace() || matches!(c, '&' | ';' | '"' | ','))
                    .unwrap_or(part.len());
                if part.starts_with("***") {
                    part.to_string()
                } else {
                    format!("***{}", &part[cut..])
                }
            })
            .collect::<Vec<_>>()
            .join("password=");
    }
    Cow::Owned(out)
}

fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return raw.to_string();
    };
    let mut changed = false;
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
        changed = true;
    }
    let secret_query = url
        .query_pairs()
        .any(|(k, _)| SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()));
    if secret_query {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let hidden = SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str());
                (
                    k.into_owned(),
                    if hidden { "***".into() } else { v.into_owned() },
                )
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if let Some(pos) = url.path().find("/reset/") {
        let path = url.path().to_string();
        let (head, tail) = path.split_at(pos + "/reset/".len());
        let after = tail.find('/').map_or("", |j| &tail[j..]);
        if !tail.is_empty() {
            url.set_path(&format!("{head}***{after}"));
            changed = true;
        }
    }
    // Keep the text as it was written when nothing was hidden (Url adds a trailing '/').
    if changed {
        url.to_string().replace("%2A%2A%2A", "***")
    } else {
        raw.to_string()
    }
}

/// A writer that hides secrets in each log line before it leaves the process.
#[derive(Clone, Copy)]
pub struct Redacting<M>(pub M);

pub struct RedactingWriter<W: io::Write>(W);

impl<W: io::Write> io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        // A log line must never take the logging down with it: should redaction ever fail, the
        // line is withheld rather than written unredacted or left to unwind through the logger.
        let redacted = std::panic::catch_unwind(|| redact_secrets(&text).into_owned())
            .unwrap_or_else(|_| "[log line withheld: it could not be redacted]\n".to_string());
        self.0.write_all(redacted.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("Soutien TI"), "Soutien TI");
        assert_eq!(
            escape_controls("a\nb\u{1b}[31mc\r\u{202e}d"),
            "a\\u{a}b\\u{1b}[31mc\\u{d}\\u{202e}d"
        );
        assert_eq!(escape_controls("Équipe « é »"), "Équipe « é »");
    }

    #[test]
    fn any_text_is_redacted_without_panicking() {
        // Team names and other user text reach log lines: multi-byte characters right before
        // "://" once split a character in two.
        for line in [
            "team.name=\"Soutien é://x\"",
            "Équipehttps://user:hunter2@x.example/a",
            "«·»://—://é://",
            "://",
            "ü://password=abc é",
            "日本語https://a:b@c/reset/tok",
        ] {
            let out = redact_secrets(line);
            assert!(!out.contains("hunter2"), "{out}");
        }
        // Every kind of character just before a scheme, and right before "://" (no scheme then:
        // not a URL, nothing to redact, but no panic either).
        for c in ['a', 'é', '€', '日', '😀', ' ', '+'] {
            for n in 0..4 {
                let line = format!("{c}{}ftp://u:secret@h/", "x".repeat(n));
                let out = redact_secrets(&line);
                assert!(!out.contains("secret"), "{line} → {out}");
                let _ = redact_secrets(&format!("{}{c}://u:secret@h/", "x".repeat(n)));
            }
        }
    }

    #[test]
    fn secrets_in_urls_are_hidden_in_log_lines() {
        for (line, secret) in [
            (
                "database: postgres://octo:hunter2@db.example:5432/octo failed",
                "hunter2",
            ),
            (
                "connect sqlite://x.db?mode=rwc&password=hunter3 refused",
                "hunter3",
            ),
            (
                "mail smtps://bot:s3cr%40t@mail.example.org:465 down",
                "s3cr",
            ),
            ("GET https://idp.example/keys?api_key=k3y&x=1: 500", "k3y"),
            ("host=db user=octo password=hunter4 dbname=octo", "hunter4"),
            (
                "link https://octo.example/reset/AbCdEf123/cancel sent",
                "AbCdEf123",
            ),
            ("\u{1b}[0mhttp://ops:hunter5@127.0.0.1:3978/", "hunter5"),
        ] {
            let shown = redact_secrets(line);
            assert!(!shown.contains(secret), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
        let plain =
            "signing keys refreshed url=https://login.example/v1/.well-known/openidconfiguration";
        assert_eq!(redact_secrets(plain), plain);
        assert_eq!(redact_secrets("no url here"), "no url here");
    }
}
