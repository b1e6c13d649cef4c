//! How mail leaves: SMTP (plain for a local relay, STARTTLS, implicit TLS; with credentials) or a
//! folder of `.eml` files for development. Built once from the configuration.

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{MailTransport, redact_url};

#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// The folder (0700); each message is written to it as a new 0600 `.eml` file.
    Folder(std::path::PathBuf),
}

impl Transport {
    pub fn build(cfg: &MailTransport, timeout: std::time::Duration) -> anyhow::Result<Self> {
        Ok(match cfg {
            MailTransport::Folder(dir) => {
                crate::at_rest::private_dir(dir).map_err(|e| {
                    anyhow::anyhow!("cannot create the mail folder {}: {e}", dir.display())
                })?;
                Transport::Folder(dir.clone())
            }
            MailTransport::Smtp(url) => {
                let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|e| {
                    anyhow::anyhow!("mail.transport {}: {e}", redact_url(url.expose_secret()))
                })?;
                Transport::Smtp(builder.timeout(Some(timeout)).build())
            }
        })
    }

    pub async fn send(&self, message: Message) -> Result<(), String> {
        match self {
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
            Transport::Folder(dir) => {
                // Written by us rather than lettre's file transport, so that the file is 0600
                // from its creation: the mail carries a live link.
                let path = dir.join(format!("{}.eml", uuid::Uuid::new_v4()));
                let mut options = tokio::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                options.mode(0o600);
                let mut file = options
                    .open(&path)
                    .await
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                tokio::io::AsyncWriteExt::write_all(&mut file, &message.formatted())
                    .await
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                tokio::io::AsyncWriteExt::flush(&mut file)
                    .await
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))
            }
        }
    }
}
