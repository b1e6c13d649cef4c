//! How mail leaves: SMTP (plain for a local relay, STARTTLS, implicit TLS; with credentials) or a
//! folder of `.eml` files for development. Built once from the configuration. A relay whose
//! certificate comes from a private CA is trusted through `mail.tls_ca_file`, added to the public
//! roots; the host name is still checked.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    transport::smtp::{
        AsyncSmtpTransportBuilder, PoolConfig,
        client::{Certificate, Tls, TlsParameters},
    },
};
use secrecy::ExposeSecret;

use super::{direct::DirectRelay, failure::SendError};
use crate::config::{MailConfig, MailTransport, redact_url};

#[derive(Clone)]
pub enum Transport {
    Smtp(Arc<Relay>),
    /// The folder (0700); each message is written to it as a new 0600 `.eml` file.
    Folder(std::path::PathBuf),
}

impl Transport {
    /// `connections`: at most this many pooled relay connections (one per send in flight).
    pub fn build(cfg: &MailConfig) -> anyhow::Result<Self> {
        let (timeout, connections) = (cfg.timeout, cfg.concurrency);
        Ok(match &cfg.transport {
            MailTransport::Folder(dir) => {
                crate::at_rest::private_dir(dir).map_err(|e| {
                    anyhow::anyhow!("cannot create the mail folder {}: {e}", dir.display())
                })?;
                Transport::Folder(dir.clone())
            }
            MailTransport::Smtp(url) => {
                let url = url.expose_secret();
                let refused = |e: &dyn std::fmt::Display| {
                    anyhow::anyhow!("mail.transport {}: {e}", redact_url(url))
                };
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| refused(&e))?;
                let tls = cfg
                    .tls_ca
                    .as_deref()
                    .map(|pem| with_ca(url, pem))
                    .transpose()
                    .map_err(|e| refused(&e))?;
                if let Some(tls) = tls.clone() {
                    builder = builder.tls(tls);
                }
                let direct =
                    DirectRelay::from_url(url, tls, connections).map_err(|e| refused(&e))?;
                let max_size = u32::try_from(connections.max(1)).unwrap_or(16);
                let builder = builder
                    .timeout(Some(timeout))
                    .pool_config(PoolConfig::new().max_size(max_size));
                Transport::Smtp(Arc::new(Relay {
                    direct,
                    pool: Mutex::new(builder.clone().build()),
                    builder,
                    timeout,
                }))
            }
        })
    }

    /// Connects to the relay as a send would (TLS and AUTH as configured), says EHLO and leaves:
    /// nothing is sent. For a folder: whether a file can be written in it.
    pub async fn check(&self) -> Result<String, String> {
        match self {
            Transport::Smtp(relay) => {
                let probe: AsyncSmtpTransport<Tokio1Executor> = relay.builder.clone().build();
                match tokio::time::timeout(relay.timeout, probe.test_connection()).await {
                    Ok(Ok(true)) => {
                        Ok("the relay accepts a connection (TLS and AUTH as configured)".into())
                    }
                    Ok(Ok(false)) => Err("the relay did not answer NOOP".into()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {} s", relay.timeout.as_secs())),
                }
            }
            Transport::Folder(dir) => {
                let probe = dir.join(".write-check");
                std::fs::write(&probe, b"")
                    .and_then(|()| std::fs::remove_file(&probe))
                    .map(|()| format!("mail is written to {}", dir.display()))
                    .map_err(|e| format!("{}: {e}", dir.display()))
            }
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Transport::Smtp(relay) => relay.send(message).await,
            Transport::Folder(dir) => write_eml(dir, &message).await.map_err(SendError::local),
        }
    }
}

/// Written by us rather than lettre's file transport, so that the file is 0600 from its
/// creation (the mail carries a live link), and under a temporary name renamed once complete, so
/// whoever watches the folder never opens a half-written mail.
async fn write_eml(dir: &std::path::Path, message: &Message) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let name = uuid::Uuid::new_v4();
    let partial = dir.join(format!(".{name}.eml.partial"));
    let path = dir.join(format!("{name}.eml"));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(&partial)
        .await
        .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    file.write_all(&message.formatted())
        .await
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    file.flush()
        .await
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    drop(file);
    tokio::fs::rename(&partial, &path).await.map_err(|e| {
        format!(
            "cannot rename {} to {}: {e}",
            partial.display(),
            path.display()
        )
    })
}

/// An SMTP relay and its pooled connections.
pub struct Relay {
    /// `smtp://`: our own pool of no-delay connections (see `mail::direct`); `smtps://` uses
    /// lettre's pool.
    direct: Option<DirectRelay>,
    builder: AsyncSmtpTransportBuilder,
    pool: Mutex<AsyncSmtpTransport<Tokio1Executor>>,
    /// How long one whole send may take. lettre's own timeout covers only connecting, so a relay
    /// that stalls (after DATA, say) would otherwise hold the worker indefinitely.
    timeout: Duration,
}

impl Relay {
    async fn send(&self, message: Message) -> Result<(), SendError> {
        if let Some(direct) = &self.direct {
            // A send cut short here drops its connection: nothing half-done goes back to the pool.
            return tokio::time::timeout(self.timeout, direct.send(&message))
                .await
                .unwrap_or_else(|_| Err(self.no_answer()));
        }
        let pool = self.pool.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match tokio::time::timeout(self.timeout, pool.send(message)).await {
            Ok(sent) => sent.map(|_| ()).map_err(SendError::smtp),
            Err(_) => {
                // The abandoned connection is mid-transaction, yet lettre would put it back in
                // the pool as healthy and the next mail would read this one's late answers. A
                // fresh pool is swapped in; the old one closes its connections when dropped.
                *self.pool.lock().unwrap_or_else(|p| p.into_inner()) = self.builder.clone().build();
                // The relay may still take the message: the retry can deliver a duplicate.
                Err(self.no_answer())
            }
        }
    }

    fn no_answer(&self) -> SendError {
        SendError::local(format!(
            "no answer from the relay within {} s",
            self.timeout.as_secs()
        ))
    }
}

/// The same TLS mode as the URL asks for (lettre's `from_url`), trusting `pem` as well.
fn with_ca(url: &str, pem: &[u8]) -> Result<Tls, String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = parsed.host_str().ok_or("no host")?.to_string();
    let parameters = TlsParameters::builder(host)
        .add_root_certificate(Certificate::from_pem(pem).map_err(|e| e.to_string())?)
        .build()
        .map_err(|e| e.to_string())?;
    let mode = parsed
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.to_string());
    match (parsed.scheme(), mode.as_deref()) {
        ("smtps", _) => Ok(Tls::Wrapper(parameters)),
        ("smtp", Some("required")) => Ok(Tls::Required(parameters)),
        ("smtp", Some("opportunistic")) => Ok(Tls::Opportunistic(parameters)),
        _ => Err("mail.tls_ca_file needs smtps:// or ?tls=required".into()),
    }
}
