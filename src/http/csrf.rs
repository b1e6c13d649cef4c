//! CSRF protection for every form: a random value in an HttpOnly, SameSite=Strict cookie
//! (`__Host-` behind https), and in the form its HMAC under a key derived from the service key.
//! A cross-site page can neither read the cookie nor make the browser send it; and whoever
//! manages to plant a cookie of their choosing still cannot compute the form value that goes
//! with it.

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, Request, State},
    http::request::Parts,
    middleware::Next,
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::SameSite;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::{RngCore, rngs::OsRng};
use sha2::Sha256;

use super::cookies::Cookies;
use crate::service_key::ServiceKey;

pub const COOKIE: &str = "octo_csrf";

/// The key that binds form values to cookies.
#[derive(Clone)]
pub struct CsrfKey(Arc<[u8; 32]>);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey([redacted])")
    }
}

impl CsrfKey {
    pub fn derive(key: &ServiceKey) -> Self {
        Self(Arc::new(key.derive("octopus-teams/csrf/v1")))
    }

    /// The form value that goes with a cookie value.
    fn bind(&self, cookie: &str) -> String {
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(cookie.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// The CSRF value of this browser, to put in forms and to compare with a submitted one.
#[derive(Clone)]
pub struct CsrfToken(String);

impl CsrfToken {
    pub fn value(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with the submitted field.
    pub fn matches(&self, submitted: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), submitted.as_bytes());
        !a.is_empty()
            && a.len() == b.len()
            && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Gives every request a CSRF value, setting the cookie when the browser has none.
pub async fn ensure_cookie(
    State(key): State<CsrfKey>,
    cookies: Cookies,
    mut req: Request,
    next: Next,
) -> Response {
    let existing = cookies
        .get(COOKIE)
        .map(str::to_string)
        .filter(|v| v.len() == 43);
    let (cookie, fresh) = match existing {
        Some(v) => (v, false),
        None => {
            let mut bytes = [0u8; 32];
            OsRng.fill_bytes(&mut bytes);
            (URL_SAFE_NO_PAD.encode(bytes), true)
        }
    };
    req.extensions_mut().insert(CsrfToken(key.bind(&cookie)));
    let res = next.run(req).await;
    // Only a page can carry a form: probes, scripts and JSON answers set no cookie.
    let page = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if fresh && page {
        let mut strict = cookies.build(COOKIE, cookie);
        strict.set_same_site(SameSite::Strict);
        (cookies.put(strict), res).into_response()
    } else {
        res
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // The middleware runs on every route; an empty value never matches a form.
        Ok(parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .unwrap_or(CsrfToken(String::new())))
    }
}
