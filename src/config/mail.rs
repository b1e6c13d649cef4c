//! `[mail]`: the relay (or a folder, in development) and how the outbox worker sends.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::redact_url;
use super::{Config, Description};

/// Where mail goes.
#[derive(Clone)]
pub enum MailTransport {
    /// Each message written as an `.eml` file in this folder (development).
    Folder(std::path::PathBuf),
    /// An `smtp://` or `smtps://` URL, possibly with credentials.
    Smtp(SecretString),
}

impl std::fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Folder(p) => write!(f, "folder {}", p.display()),
            Self::Smtp(url) => write!(f, "{}", redact_url(url.expose_secret())),
        }
    }
}

fn default_mail_concurrency() -> u32 {
    16
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMail {
    pub transport: SecretString,
    pub poll_interval_secs: u64,
    pub timeout_secs: u64,
    pub max_attempts: u32,
    /// Mails sent at the same time (each on its own pooled relay connection).
    #[serde(default = "default_mail_concurrency")]
    pub concurrency: u32,
    /// A PEM file of CA certificates to trust for the relay (besides the public roots).
    #[serde(default)]
    pub tls_ca_file: Option<String>,
}

/// `[mail]`: the transport and how the outbox worker uses it.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: MailTransport,
    /// PEM certificates of the private CA that signed the relay's certificate (`mail.tls_ca_file`).
    pub tls_ca: Option<Vec<u8>>,
    pub poll_interval: Duration,
    pub timeout: Duration,
    /// Attempts after which a mail that keeps failing (4xx, connection) is dead-lettered.
    pub max_attempts: u32,
    /// `mail.concurrency`: sends in flight at once (at least 1).
    pub concurrency: usize,
}

impl RawMail {
    /// The section checked; `None` when its transport did not parse (the problem is named).
    pub(super) fn validate(&self, errs: &mut Vec<String>) -> Option<MailConfig> {
        let raw = self.transport.expose_secret();
        let transport = if let Some(dir) = raw.strip_prefix("file:") {
            let dir = dir.trim_start_matches("//");
            if dir.is_empty() {
                errs.push("mail.transport: file: needs a folder, e.g. file:data/mail".into());
            }
            Some(MailTransport::Folder(dir.into()))
        } else if raw.starts_with("smtp://") || raw.starts_with("smtps://") {
            match Url::parse(raw) {
                Ok(u) if u.host().is_some() => {
                    for (key, value) in u.query_pairs() {
                        match (key.as_ref(), value.as_ref()) {
                            ("tls", "required" | "opportunistic") | ("ehlo_domain", _) => {}
                            ("tls", other) => errs.push(format!(
                                "mail.transport: tls={other:?} is not a TLS mode: tls=required \
                                 (STARTTLS, refused without it) or tls=opportunistic; smtps:// \
                                 for implicit TLS"
                            )),
                            (other, _) => errs.push(format!(
                                "mail.transport: unknown parameter {other:?} (known: tls, \
                                 ehlo_domain)"
                            )),
                        }
                    }
                    Some(MailTransport::Smtp(self.transport.clone()))
                }
                _ => {
                    errs.push("mail.transport: not a valid smtp:// or smtps:// URL".into());
                    None
                }
            }
        } else {
            errs.push("mail.transport: expected file:DIR, smtp://… or smtps://…".into());
            None
        };
        let tls_ca = self
            .tls_ca_file
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .and_then(|file| match relay_ca(file, raw) {
                Ok(pem) => Some(pem),
                Err(e) => {
                    errs.push(format!("mail.tls_ca_file: {e}"));
                    None
                }
            });
        Some(MailConfig {
            transport: transport?,
            tls_ca,
            poll_interval: Duration::from_secs(self.poll_interval_secs.max(1)),
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
            max_attempts: self.max_attempts.max(1),
            concurrency: usize::try_from(self.concurrency.clamp(1, 256)).unwrap_or(16),
        })
    }
}

/// Reads the relay's private CA (PEM) and checks that it holds a certificate and that the
/// transport uses TLS at all (a CA for a plain connection would be a silent misconfiguration).
fn relay_ca(file: &str, transport: &str) -> Result<Vec<u8>, String> {
    let tls = transport.starts_with("smtps://")
        || (transport.starts_with("smtp://") && transport.contains("tls="));
    if !tls {
        return Err("set, but mail.transport does not use TLS (smtps:// or ?tls=required)".into());
    }
    let pem = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!("{file} holds no PEM certificate"));
    }
    lettre::transport::smtp::client::Certificate::from_pem(&pem)
        .map_err(|e| format!("{file}: {e}"))?;
    Ok(pem)
}

pub(super) fn describe(cfg: &Config, out: &mut Description) {
    out.line("mail.transport", format!("{:?}", cfg.mail.transport));
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use crate::config::tests::defaults;

    #[test]
    fn a_relay_ca_needs_tls_and_a_readable_pem_file() {
        let mut raw = defaults();
        raw.mail.transport = SecretString::from("smtp://relay.example.org:25");
        raw.mail.tls_ca_file = Some("/nonexistent/relay-ca.pem".into());
        let text = raw.validate().err().expect("invalid").to_string();
        assert!(text.contains("mail.tls_ca_file"), "{text}");
        assert!(text.contains("does not use TLS"), "{text}");

        let mut raw = defaults();
        raw.mail.transport = SecretString::from("smtps://relay.example.org:465");
        raw.mail.tls_ca_file = Some("/nonexistent/relay-ca.pem".into());
        let text = raw.validate().err().expect("invalid").to_string();
        assert!(text.contains("mail.tls_ca_file: cannot read"), "{text}");

        let dir = tempfile::tempdir().expect("tempdir");
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "not a certificate").expect("write");
        let mut raw = defaults();
        raw.mail.transport = SecretString::from("smtp://relay.example.org:587?tls=required");
        raw.mail.tls_ca_file = Some(not_pem.display().to_string());
        let text = raw.validate().err().expect("invalid").to_string();
        assert!(text.contains("holds no PEM certificate"), "{text}");
    }
}
