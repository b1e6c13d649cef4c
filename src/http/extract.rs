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
    config::{Config, PageLanguage},
    i18n::Locale,
};

/// The client's address: the TCP peer, unless the peer is one of the configured trusted proxies;
/// then the rightmost X-Forwarded-For entry that is not a trusted proxy (entries to its left are
/// whatever the client sent).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

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
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        Ok(ClientIp(client_address(
            peer,
            forwarded,
            &config.trusted_proxies,
        )))
    }
}

/// Walks the X-Forwarded-For chain from the right, through trusted proxies only.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    let mut client = peer.to_canonical();
    if !is_trusted(client) {
        return client;
    }
    let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // A trusted proxy would not write this: keep the last address we can vouch for.
            return client;
        };
        client = ip.to_canonical();
        if !is_trusted(client) {
            return client;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let from =
            |peer: &str, xff: &[&str]| client_address(ip(peer), xff.iter().copied(), &proxies);
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
        assert_eq!(from("10.0.0.1", &["junk, 10.2.2.2"]), ip("10.2.2.2"));
        assert_eq!(from("::ffff:10.0.0.1", &["203.0.113.7"]), ip("203.0.113.7"));
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
