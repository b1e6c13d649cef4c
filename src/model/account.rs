//! Domain values, parsed at the edge and trusted inside.

use std::fmt;

use super::UnixTime;

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

/// A portal username ("compte unifié"): trimmed, NFKC-normalised and case-folded, so that
/// look-alike spellings (full-width letters, ligatures, composed or decomposed accents, ß/SS)
/// are one and the same account at import and at sign-in.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

/// NFKC, then Unicode case folding (lower case, with the folds it lacks: ß → ss, final ς → σ),
/// then NFKC again since folding can leave a string unnormalised.
pub fn fold_identifier(raw: &str) -> String {
    let folded: String = raw
        .nfkc()
        .flat_map(char::to_lowercase)
        .flat_map(|c| match c {
            'ß' => ['s', 's'].into_iter().take(2),
            'ς' => ['σ', ' '].into_iter().take(1),
            _ => [c, ' '].into_iter().take(1),
        })
        .collect();
    folded.nfkc().collect()
}

impl Username {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let s = fold_identifier(raw.trim());
        let s = s.trim().to_string();
        if s.is_empty() {
            return Err(InvalidInput::Empty);
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(InvalidInput::TooLong);
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            return Err(InvalidInput::Characters);
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("empty")]
    Empty,
    #[error("too long")]
    TooLong,
    #[error("characters not allowed")]
    Characters,
    #[error("not an email address")]
    Email,
}

/// An email address; `Display` masks it (`j***@c***.ca`), the full value needs `.full()`.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let s = raw.trim();
        s.parse::<lettre::Address>()
            .map_err(|_| InvalidInput::Email)?;
        Ok(Self(s.to_string()))
    }

    pub fn full(&self) -> &str {
        &self.0
    }

    /// `julie.tremblay@cegepsi.ca` → `j***@c***.ca`.
    pub fn masked(&self) -> String {
        let (user, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
        let (host, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
        let tld = if tld.is_empty() {
            String::new()
        } else {
            format!(".{tld}")
        };
        format!("{}***@{}***{}", first(user), first(host), tld)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.masked())
    }
}

/// Primary key of an account (a UUID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountId(pub String);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password as typed: secret, never logged.
#[derive(Clone)]
pub struct NewPassword(SecretString);

impl NewPassword {
    pub fn new(raw: String) -> Self {
        Self(SecretString::from(raw))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

/// A name that is not one of the enum's (the text is not kept: it came from outside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a known name")]
pub struct UnknownName;

/// Why a link is being sent: the same mechanism serves both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Reset,
    Enroll,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Reset => "reset",
            Purpose::Enroll => "enroll",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reset" => Some(Purpose::Reset),
            "enroll" => Some(Purpose::Enroll),
            _ => None,
        }
    }
}

impl std::str::FromStr for Purpose {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or(UnknownName)
    }
}

/// Who is asking: rate limits and the audit key on it. No Teams or HTTP types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    Browser {
        ip: ClientAddr,
    },
    Teams {
        tenant_id: String,
        user_id: String,
    },
    Tab {
        tenant_id: String,
        object_id: String,
    },
    /// A service-desk agent acting for an account (the helpdesk card), by Entra object id.
    Agent {
        tenant_id: String,
        object_id: String,
    },
}

impl Requester {
    /// The rate-limit bucket and audit `client` value.
    pub fn key(&self) -> String {
        match self {
            Requester::Browser { ip } => format!("ip:{}", ip.bucket()),
            Requester::Teams { tenant_id, user_id } => format!("teams:{tenant_id}:{user_id}"),
            Requester::Tab {
                tenant_id,
                object_id,
            } => format!("tab:{tenant_id}:{object_id}"),
            Requester::Agent {
                tenant_id,
                object_id,
            } => format!("agent:{tenant_id}:{object_id}"),
        }
    }
}

/// Who a browser request came from, as the rate limits and the audit know them: an address, or
/// the opaque name a trusted proxy gave a client it would not (or could not) reveal (RFC 7239
/// `for=_hidden`, `for=unknown`, or an entry it wrote that is no address). Each opaque name is a
/// client of its own: never the proxy, never another client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientAddr {
    Ip(std::net::IpAddr),
    Opaque(String),
}

impl ClientAddr {
    /// The rate-limit bucket: [`address_bucket`] for an address; the name for an opaque client.
    pub fn bucket(&self) -> String {
        match self {
            ClientAddr::Ip(ip) => address_bucket(*ip),
            ClientAddr::Opaque(name) => format!("opaque:{name}"),
        }
    }
}

impl From<std::net::IpAddr> for ClientAddr {
    fn from(ip: std::net::IpAddr) -> Self {
        ClientAddr::Ip(ip.to_canonical())
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAddr::Ip(ip) => ip.fmt(f),
            ClientAddr::Opaque(name) => write!(f, "opaque:{name}"),
        }
    }
}

/// The part of a client address that rate limits count: the address itself for IPv4, the /64
/// network for IPv6 (one subscriber gets a whole /64, and picks any address in it).
pub fn address_bucket(ip: std::net::IpAddr) -> String {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

/// An account as the domain sees it.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: AccountId,
    pub tenant_id: String,
    pub username: Username,
    pub email: EmailAddress,
    pub display_name: String,
    pub entra_object_id: Option<String>,
    pub upn: Option<String>,
    pub locale: Option<crate::i18n::Locale>,
    pub password_hash: Option<String>,
    pub failed_logins: u32,
    pub locked_until: Option<UnixTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("address");
        assert_eq!(
            address_bucket(ip("2001:db8:1:2:aaaa::1")),
            address_bucket(ip("2001:db8:1:2:ffff:1:2:3"))
        );
        assert_eq!(address_bucket(ip("2001:db8:1:2::9")), "2001:db8:1:2::/64");
        assert_ne!(
            address_bucket(ip("2001:db8:1:2::1")),
            address_bucket(ip("2001:db8:1:3::1"))
        );
        assert_eq!(address_bucket(ip("::ffff:192.0.2.7")), "192.0.2.7");
        assert_ne!(
            address_bucket(ip("192.0.2.7")),
            address_bucket(ip("192.0.2.8"))
        );
    }

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(Username::parse("  TreJ ").map(|u| u.0), Ok("trej".into()));
        assert_eq!(Username::parse("   "), Err(InvalidInput::Empty));
        assert_eq!(Username::parse("a b"), Err(InvalidInput::Characters));
        assert_eq!(Username::parse("<script>"), Err(InvalidInput::Characters));
        assert!(Username::parse(&"x".repeat(65)).is_err());
        assert!(Username::parse("hélène.côté").is_ok());
        // One account whatever the spelling: full-width, decomposed accents, ß, ligatures.
        let same = |a: &str, b: &str| {
            assert_eq!(
                Username::parse(a).map(|u| u.0),
                Username::parse(b).map(|u| u.0),
                "{a} vs {b}"
            )
        };
        same("ＴｒｅＪ", "trej");
        same("he\u{301}le\u{300}ne", "hélène");
        same("STRASSE", "straße");
        same("ＳＴＲＡẞＥ", "strasse");
        same("ﬁlion", "filion");
        same("ΟΔΥΣΣΕΥΣ", "οδυσσευς");
    }

    #[test]
    fn email_is_masked_when_displayed() {
        let e = EmailAddress::parse("julie.tremblay@cegepsi.ca").expect("valid");
        assert_eq!(e.to_string(), "j***@c***.ca");
        assert_eq!(format!("{e:?}"), "EmailAddress(j***@c***.ca)");
        assert!(EmailAddress::parse("nope").is_err());
    }

    #[test]
    fn a_password_never_shows_in_debug() {
        let p = NewPassword::new("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
