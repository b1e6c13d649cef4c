//! Extractors shared by the pages and APIs.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{header, request::Parts},
};
use ipnet::IpNet;

use super::cookies::Cookies;
use crate::{
    config::{Config, ForwardedHeader, PageLanguage},
    i18n::Locale,
    model::ClientAddr,
};

/// The client's address: the TCP peer, unless the peer is one of the configured trusted proxies;
/// then the rightmost entry of the forwarding header (`http.forwarded_header`: X-Forwarded-For or
/// RFC 7239 Forwarded) that is not a trusted proxy (entries to its left are whatever the client
/// sent). An entry that names no address is a client of its own ([`ClientAddr::Opaque`]).
#[derive(Debug, Clone)]
pub struct ClientIp(pub ClientAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    Arc<Config>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let config = Arc::<Config>::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let header = config.http.forwarded_header;
        // Bytes that are no text still make entries (unreadable ones): dropping the header line
        // would leave the proxy as the client.
        let values: Vec<std::borrow::Cow<'_, str>> = parts
            .headers
            .get_all(header.name())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
            .collect();
        let values = values.iter().map(|v| v.as_ref());
        let hops: Vec<&str> = match header {
            ForwardedHeader::XForwardedFor => values.flat_map(|v| v.split(',')).collect(),
            ForwardedHeader::Forwarded => values.flat_map(forwarded_for).collect(),
        };
        Ok(ClientIp(client_address(
            peer,
            &hops,
            &config.http.trusted_proxies,
        )))
    }
}

/// The `for=` value of each element of one RFC 7239 `Forwarded` header value, in order
/// (`for=192.0.2.60;proto=http, for="[2001:db8::1]:443"`). An element without `for=` counts as
/// an entry that names no address.
fn forwarded_for(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(|element| {
        element
            .split(';')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
            .map_or("", |(_, v)| v)
    })
}

/// Walks the forwarding chain (`hops`, leftmost first) from the right, through trusted proxies
/// only.
pub fn client_address(peer: IpAddr, hops: &[&str], trusted: &[IpNet]) -> ClientAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    let mut client = peer.to_canonical();
    if !is_trusted(client) {
        return ClientAddr::Ip(client);
    }
    for hop in hops.iter().rev() {
        match node(hop) {
            Node::Ip(ip) => {
                client = ip.to_canonical();
                if !is_trusted(client) {
                    return ClientAddr::Ip(client);
                }
            }
            Node::Named(name) => return ClientAddr::Opaque(name),
            Node::Unreadable(fingerprint) => {
                unreadable_seen(hop);
                return ClientAddr::Opaque(format!("unreadable-{fingerprint}"));
            }
        }
    }
    ClientAddr::Ip(client)
}

/// One entry of a forwarding header, as proxies write them.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    Ip(IpAddr),
    /// RFC 7239's `unknown` or an obfuscated `_name`: a client the proxy chose not to reveal.
    Named(String),
    /// Nothing a proxy should write: a short fingerprint of it (its own bucket, nothing of the
    /// text kept).
    Unreadable(String),
}

/// Reads `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`, quoted or not, with spaces around; `unknown` and `_obfuscated`.
fn node(raw: &str) -> Node {
    let text = raw.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
        .trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Node::Ip(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (inner, after) = rest.split_once(']').unwrap_or((rest, "?"));
        if (after.is_empty() || port(after.strip_prefix(':')))
            && let Ok(ip) = inner.parse::<std::net::Ipv6Addr>()
        {
            return Node::Ip(IpAddr::V6(ip));
        }
    } else if let Some((host, p)) = text.split_once(':')
        && port(Some(p))
        && let Ok(ip) = host.parse::<std::net::Ipv4Addr>()
    {
        return Node::Ip(IpAddr::V4(ip));
    }
    if text.eq_ignore_ascii_case("unknown") {
        return Node::Named("unknown".into());
    }
    let obfuscated = text.len() > 1
        && text.len() <= 64
        && text.starts_with('_')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if obfuscated {
        return Node::Named(text.to_string());
    }
    use sha2::{Digest, Sha256};
    Node::Unreadable(hex::encode(&Sha256::digest(raw.as_bytes())[..6]))
}

/// A port as RFC 7239 allows it: digits, or an obfuscated `_name`.
fn port(p: Option<&str>) -> bool {
    p.is_some_and(|p| {
        (!p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
            || (p.len() > 1 && p.starts_with('_'))
    })
}

/// Logs a forwarding entry that names no address, at most once a minute (a misconfigured proxy
/// writes one on every request). The entry itself is not logged: it may be anything.
fn unreadable_seen(raw: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(
            length = raw.len(),
            "a trusted proxy forwarded a client entry that is no address: that client is \
             counted on its own (check the proxy's X-Forwarded-For / Forwarded format and \
             http.forwarded_header); logged at most once a minute"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> ClientAddr {
        ClientAddr::Ip(s.parse().expect("address"))
    }

    fn from(peer: &str, xff: &[&str]) -> ClientAddr {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let hops: Vec<&str> = xff.iter().flat_map(|v| v.split(',')).collect();
        client_address(peer.parse().expect("peer"), &hops, &proxies)
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        assert_eq!(
            from("10.0.0.1", &["1.1.1.1, 203.0.113.7"]),
            ip("203.0.113.7")
        );
        assert_eq!(
            from("10.0.0.1", &["1.1.1.1, 203.0.113.7, 10.9.9.9"]),
            ip("203.0.113.7"),
            "a second proxy of ours is skipped"
        );
        assert_eq!(
            from("10.0.0.1", &["1.1.1.1", "203.0.113.7"]),
            ip("203.0.113.7")
        );
        assert_eq!(
            from("192.0.2.1", &["203.0.113.7"]),
            ip("192.0.2.1"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(from("10.0.0.1", &[]), ip("10.0.0.1"));
        assert_eq!(from("::ffff:10.0.0.1", &["203.0.113.7"]), ip("203.0.113.7"));
    }

    #[test]
    fn entries_are_read_as_proxies_write_them() {
        assert_eq!(
            from("10.0.0.1", &["198.51.100.66:40001"]),
            ip("198.51.100.66")
        );
        assert_eq!(
            from("10.0.0.1", &["[2001:db8:1::1]:443"]),
            ip("2001:db8:1::1")
        );
        assert_eq!(from("10.0.0.1", &["[2001:db8:1::1]"]), ip("2001:db8:1::1"));
        assert_eq!(
            from("10.0.0.1", &["  203.0.113.7  ,10.1.1.1 "]),
            ip("203.0.113.7")
        );
        assert_eq!(
            from("10.0.0.1", &["203.0.113.7, 10.1.1.1:8080"]),
            ip("203.0.113.7"),
            "a trusted hop with a port is still trusted"
        );
    }

    #[test]
    fn an_entry_that_names_no_address_is_a_client_of_its_own_never_the_proxy() {
        let junk = from("10.0.0.1", &["1.1.1.1, junk"]);
        assert!(matches!(&junk, ClientAddr::Opaque(n) if n.starts_with("unreadable-")));
        assert_ne!(junk, ip("10.0.0.1"));
        assert_ne!(from("10.0.0.1", &["other junk"]), junk, "each its own");
        assert_eq!(
            from("10.0.0.1", &["198.51.100.66:99999"]).bucket(),
            from("10.0.0.1", &["198.51.100.66:99999"]).bucket(),
            "the same entry is the same client"
        );
        assert!(matches!(
            from("10.0.0.1", &["1.2.3.4:"]),
            ClientAddr::Opaque(_)
        ));
        assert!(matches!(from("10.0.0.1", &["[::1"]), ClientAddr::Opaque(_)));
        assert!(matches!(from("10.0.0.1", &[""]), ClientAddr::Opaque(_)));
    }

    #[test]
    fn forwarded_elements_are_read_by_their_for() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let read = |v: &str| {
            let hops: Vec<&str> = forwarded_for(v).collect();
            client_address("10.0.0.1".parse().expect("peer"), &hops, &proxies)
        };
        assert_eq!(read(r#"for="[2001:db8::1]:443""#), ip("2001:db8::1"));
        assert_eq!(
            read("for=192.0.2.60;proto=http;by=203.0.113.43"),
            ip("192.0.2.60")
        );
        assert_eq!(
            read("For=198.51.100.17, for=10.2.2.2;proto=https"),
            ip("198.51.100.17")
        );
        assert_eq!(read("for=_hidden"), ClientAddr::Opaque("_hidden".into()));
        assert_eq!(read("for=unknown"), ClientAddr::Opaque("unknown".into()));
        assert_eq!(
            read(r#"for="_gazonk""#),
            ClientAddr::Opaque("_gazonk".into())
        );
        assert!(matches!(read("proto=https"), ClientAddr::Opaque(_)));
    }
}

pub const LANG_COOKIE: &str = "octo_lang";

/// The language the person asked for: `?lang=` (remembered in a cookie), the cookie, then the
/// organisation's default — or, with `pages.language = "browser"`, the browser's Accept-Language
/// before the organisation's default.
#[derive(Debug, Clone, Copy)]
pub struct LangPref {
    pub from_query: Option<Locale>,
    pub from_cookie: Option<Locale>,
    /// Accept-Language, kept only when `pages.language = "browser"`.
    pub from_header: Option<Locale>,
}

impl LangPref {
    pub fn resolve(&self, org_default: Locale) -> Locale {
        self.from_query
            .or(self.from_cookie)
            .or(self.from_header)
            .unwrap_or(org_default)
    }
}

impl<S> FromRequestParts<S> for LangPref
where
    Arc<Config>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let browser_first = Arc::<Config>::from_ref(state).pages.language == PageLanguage::Browser;
        let from_query = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| Locale::from_tag(&v))
        });
        let cookies = Cookies::from_request_parts(parts, state).await?;
        let from_cookie = cookies.get(LANG_COOKIE).and_then(Locale::from_tag);
        let from_header = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .filter(|_| browser_first)
            .and_then(|v| v.to_str().ok())
            .and_then(Locale::from_accept_language);
        Ok(LangPref {
            from_query,
            from_cookie,
            from_header,
        })
    }
}
