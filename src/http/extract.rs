//! Extractors shared by the pages and APIs.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{header, request::Parts},
};
use axum_extra::extract::CookieJar;

use crate::{app::AppState, config::PageLanguage, i18n::Locale};

/// The client's address: the TCP peer, or the first X-Forwarded-For hop when the configuration
/// says a trusted proxy sits in front.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        if state.config.trust_forwarded_for
            && let Some(ip) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok())
        {
            return Ok(ClientIp(ip));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Ok(ClientIp(peer))
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
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let browser_first =
            AppState::from_ref(state).config.pages.language == PageLanguage::Browser;
        let from_query = parts.uri.query().and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| Locale::from_tag(&v))
        });
        let jar = CookieJar::from_request_parts(parts, state)
            .await
            .unwrap_or_default();
        let from_cookie = jar
            .get(LANG_COOKIE)
            .and_then(|c| Locale::from_tag(c.value()));
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
