//! `[http]`: where the service listens, the address it is reached at, the proxies in front.

use std::{net::SocketAddr, time::Duration};

use serde::Deserialize;
use url::Url;

use super::{Config, Description, urls::http_url};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub listen: String,
    pub public_base_url: String,
    /// CIDR ranges of the reverse proxies in front: only their X-Forwarded-For is read.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Which header the trusted proxies write the client into.
    #[serde(default)]
    pub forwarded_header: ForwardedHeader,
    /// Replaced by `trusted_proxies`; kept only to refuse it with a message that says so.
    #[serde(default)]
    pub trust_forwarded_for: Option<serde::de::IgnoredAny>,
    /// Keep a sane inbound X-Request-Id (set by your proxy) instead of making a new one.
    #[serde(default)]
    pub trust_request_id: bool,
    /// On SIGTERM, how long to wait for the bot turns in flight.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_secs: u64,
}

/// The header a trusted proxy writes the client's address into. Only that one is read: a proxy
/// that appends to X-Forwarded-For passes a client's own `Forwarded` header on untouched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1` (nginx, HAProxy, Azure Application Gateway, IIS ARR).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1`.
    Forwarded,
}

impl ForwardedHeader {
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }
}

fn default_shutdown_grace() -> u64 {
    20
}

/// The section checked on its own: a key that did not parse is `None` (its problem is named).
pub(super) struct Http {
    pub listen: Option<SocketAddr>,
    pub public_base_url: Option<Url>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub forwarded_header: ForwardedHeader,
    pub trust_request_id: bool,
    pub shutdown_grace: Duration,
}

impl RawHttp {
    pub(super) fn validate(&self, errs: &mut Vec<String>) -> Http {
        let listen = self
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| {
                errs.push(format!(
                    "http.listen: {e} (expected host:port, e.g. 127.0.0.1:3978)"
                ))
            })
            .ok();
        let public_base_url = http_url("http.public_base_url", &self.public_base_url, errs);
        if self.trust_forwarded_for.is_some() {
            errs.push(
                "http.trust_forwarded_for: no longer supported; list your reverse proxies instead, \
                 e.g. http.trusted_proxies = [\"10.0.0.0/8\"] (X-Forwarded-For is then read only \
                 from them, and the client is the rightmost address that is not one of them)"
                    .into(),
            );
        }
        let mut trusted_proxies = Vec::new();
        for raw in &self.trusted_proxies {
            let raw = raw.trim();
            // A bare address means just that address.
            let parsed = raw.parse::<ipnet::IpNet>().or_else(|_| {
                raw.parse::<std::net::IpAddr>()
                    .map(|ip| ipnet::IpNet::from(ip.to_canonical()))
            });
            match parsed {
                Ok(net) => trusted_proxies.push(net.trunc()),
                Err(_) => errs.push(format!(
                    "http.trusted_proxies: {raw:?} is not a CIDR range (e.g. 10.0.0.0/8, fd00::/8) \
                     or an address"
                )),
            }
        }
        Http {
            listen,
            public_base_url,
            trusted_proxies,
            forwarded_header: self.forwarded_header,
            trust_request_id: self.trust_request_id,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        }
    }
}

/// `[http]`: where the service listens, the address it is known by, and the proxies before it.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub public_base_url: Url,
    /// The reverse proxies whose X-Forwarded-For is believed (empty: the TCP peer is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header those proxies write the client into (`http.forwarded_header`).
    pub forwarded_header: ForwardedHeader,
    pub trust_request_id: bool,
    pub shutdown_grace: Duration,
}

impl Http {
    /// The section, when every key of it parsed.
    pub(super) fn whole(self) -> Option<HttpConfig> {
        Some(HttpConfig {
            listen: self.listen?,
            public_base_url: self.public_base_url?,
            trusted_proxies: self.trusted_proxies,
            forwarded_header: self.forwarded_header,
            trust_request_id: self.trust_request_id,
            shutdown_grace: self.shutdown_grace,
        })
    }

    /// The rules that depend on the bot's mode: local-development mode (no authentication)
    /// serves loopback only, with no proxy in front; a request id is kept only from a proxy.
    pub(super) fn check_with_bot(&self, local_dev: bool, errs: &mut Vec<String>) {
        if local_dev {
            let loopback = self
                .public_base_url
                .as_ref()
                .is_none_or(|u| match u.host() {
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                    None => false,
                });
            if !loopback {
                errs.push(
                    "http.public_base_url: local-development mode (bot.app_id empty) serves \
                     loopback only; set bot.app_id, or use http://127.0.0.1:PORT"
                        .into(),
                );
            }
            if !self.trusted_proxies.is_empty() {
                errs.push(
                    "http.trusted_proxies: local-development mode (bot.app_id empty) accepts no \
                     proxy in front; set bot.app_id, or leave trusted_proxies empty"
                        .into(),
                );
            }
        }
        if self.trust_request_id && self.trusted_proxies.is_empty() {
            errs.push(
                "http.trust_request_id: an inbound X-Request-Id is kept only from a trusted proxy; \
                 list yours in http.trusted_proxies (e.g. [\"10.0.0.0/8\"]), or set \
                 trust_request_id = false"
                    .into(),
            );
        }
    }
}

pub(super) fn describe(cfg: &Config, out: &mut Description) {
    let http = &cfg.http;
    out.line("http.listen", http.listen.to_string());
    out.line("http.public_base_url", http.public_base_url.to_string());
    out.line(
        "http.trusted_proxies",
        format!("{:?}", http.trusted_proxies),
    );
    out.line("http.forwarded_header", http.forwarded_header.name());
}
