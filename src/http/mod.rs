//! What every surface shares: extractors, CSRF, security headers, tracing, JSON errors.

pub mod csrf;
pub mod error;
pub mod extract;
pub mod middleware;

use axum::http::HeaderValue;
use axum_extra::extract::cookie::{Cookie, SameSite};

/// Behind https every cookie of ours is named `__Host-…`: browsers then accept it only with
/// `Secure`, `Path=/` and no `Domain`, so a sibling sub-domain or a plain-http page cannot plant
/// or overwrite it.
pub fn cookie_name(name: &str, https: bool) -> String {
    if https {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// A `Set-Cookie` value: always `Path=/`, `SameSite=Lax`, `HttpOnly` unless said otherwise,
/// `Secure` and a `__Host-` name behind https. `max_age` None = until the browser closes;
/// Some(0) = delete.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age: Option<i64>,
    http_only: bool,
    secure: bool,
) -> Option<HeaderValue> {
    build_cookie(name, value, max_age, http_only, secure, SameSite::Lax)
}

pub fn build_cookie(
    name: &str,
    value: &str,
    max_age: Option<i64>,
    http_only: bool,
    secure: bool,
    same_site: SameSite,
) -> Option<HeaderValue> {
    let mut c = Cookie::build((cookie_name(name, secure), value.to_string()))
        .path("/")
        .same_site(same_site)
        .http_only(http_only)
        .secure(secure);
    if let Some(age) = max_age {
        c = c.max_age(time::Duration::seconds(age));
    }
    HeaderValue::from_str(&c.build().encoded().to_string()).ok()
}
