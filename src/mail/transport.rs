//! How mail leaves: SMTP (plain for a local relay, STARTTLS, implicit TLS; with credentials) or a
//! folder of `.eml` files for development. Built once from the configuration.

use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{MailTransport, redact_url};

#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    pub fn build(cfg: &MailTransport, timeout: std::time::Duration) -> anyhow::Result<Self> {
        Ok(match cfg {
            MailTransport::Folder(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!("cannot create the mail folder {}: {e}", dir.display())
                })?;
                Transport::Folder(AsyncFileTransport::new(dir))
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
            Transport::Folder(t) => t.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
        }
    }
}
