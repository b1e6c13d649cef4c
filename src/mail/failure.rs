//! How a send failed, as the outbox worker needs to know it: refused for good, our credentials,
//! or worth retrying. Both ways to the relay (`transport`, `direct`) answer in these terms.

/// What a failed send means for the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A 5xx refusal of this message (at MAIL, RCPT or after DATA): the relay will never take
    /// it, so the mail is dead-lettered at once.
    Refused,
    /// The relay refused our credentials (5.3.x: 530, 535…): a configuration error that every
    /// mail shares. Retried with backoff (it may be fixed, or the relay's directory may recover)
    /// and logged as an error.
    Credentials,
    /// 4xx, a dropped connection, a TLS failure, a timeout: retried with backoff.
    Transient,
}

#[derive(Debug, Clone)]
pub struct SendError {
    pub failure: Failure,
    /// The SMTP reply code, when the relay answered one (e.g. "550").
    pub code: Option<String>,
    /// The whole error, kept on the outbox row. It may quote the relay's reply, which may name
    /// the recipient: logs carry `code` and `failure` only.
    pub detail: String,
}

impl SendError {
    pub(super) fn smtp(e: lettre::transport::smtp::Error) -> Self {
        use lettre::transport::smtp::response::Category;
        let status = e.status();
        let failure = match status {
            Some(code) if e.is_permanent() && code.category == Category::Unspecified3 => {
                Failure::Credentials
            }
            Some(_) if e.is_permanent() => Failure::Refused,
            _ => Failure::Transient,
        };
        SendError {
            failure,
            code: status.map(|c| c.to_string()),
            detail: e.to_string(),
        }
    }

    /// For failures before anything reached the relay (the message could not be built).
    pub fn local(detail: impl Into<String>) -> Self {
        SendError {
            failure: Failure::Transient,
            code: None,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}
