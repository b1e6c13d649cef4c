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
    /// Nothing was sent: the link the mail carries expired, or would have within
    /// [`expiry_margin`], before the relay could take it (an outage outlasted it).
    Expired,
}

/// A link mail is not sent when its link has less than this left: the person could not use it
/// in time. Two minutes, or a quarter of the link's lifetime when that is shorter (a one-minute
/// link must still go out at once).
pub fn expiry_margin(lifetime: std::time::Duration) -> i64 {
    i64::try_from(lifetime.as_secs() / 4)
        .unwrap_or(120)
        .min(120)
}

#[derive(Debug, Clone)]
pub struct SendError {
    pub failure: Failure,
    /// The SMTP reply code, when the relay answered one (e.g. "550").
    pub code: Option<String>,
    /// The whole error, kept on the outbox row. It may quote the relay's reply, which may name
    /// the recipient: logs carry `code` and `failure` only.
    pub detail: String,
    /// With [`Failure::Expired`]: the id of the link that was not sent (for its status card).
    pub expired_link: Option<String>,
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
            expired_link: None,
        }
    }

    /// For failures before anything reached the relay (the message could not be built).
    pub fn local(detail: impl Into<String>) -> Self {
        SendError {
            failure: Failure::Transient,
            code: None,
            detail: detail.into(),
            expired_link: None,
        }
    }

    /// A link mail held back: its link `token_id` expired (or nearly) before it could be sent.
    pub fn expired(token_id: Option<String>) -> Self {
        SendError {
            failure: Failure::Expired,
            code: None,
            detail: "not sent: the link expired before the relay could take the mail".into(),
            expired_link: token_id,
        }
    }

    /// A link mail held back because its link was replaced, cancelled or used meanwhile (a
    /// newer request during an outage): nothing to tell the requester, their card already says.
    pub fn link_gone() -> Self {
        SendError {
            failure: Failure::Expired,
            code: None,
            detail: "not sent: its link was replaced, cancelled or used before the relay could \
                     take the mail"
                .into(),
            expired_link: None,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::expiry_margin;

    #[test]
    fn the_margin_is_two_minutes_or_a_quarter_of_a_short_link_s_life() {
        assert_eq!(expiry_margin(Duration::from_secs(30 * 60)), 120);
        assert_eq!(expiry_margin(Duration::from_secs(60)), 15);
        assert_eq!(expiry_margin(Duration::from_secs(8 * 60)), 120);
    }
}
