//! How mail leaves: SMTP (plain for a local relay, STARTTLS, implicit TLS; with credentials) or a
//! folder of `.eml` files for development. Built once from the configuration.

use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{MailTransport, redact_url};

#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// The folder (0700) and its transport; each `.eml` is made 0600 once written.
    Folder(std::path::PathBuf, AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    pub fn build(cfg: &MailTransport, timeout: std::time::Duration) -> anyhow::Result<Self> {
        Ok(match cfg {
            MailTransport::Folder(dir) => {
                crate::at_rest::private_dir(dir).map_err(|e| {
                    anyhow::anyhow!("cannot create the mail folder {}: {e}", dir.display())
                })?;
                Transport::Folder(dir.clone(), AsyncFileTransport::new(dir))
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
            Transport::Folder(dir, t) => {
                let id = t.send(message).await.map_err(|e| e.to_string())?;
                // The mail carries a live link: readable by the service's account only.
                crate::at_rest::private_file(&dir.join(format!("{id}.eml")))
                    .map_err(|e| format!("cannot make {id}.eml private: {e}"))
            }
        }
    }
}
