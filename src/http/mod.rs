//! What every surface shares: extractors, CSRF, security headers, tracing, JSON errors.

pub mod csrf;
pub mod error;
pub mod extract;
pub mod middleware;

use axum::http::HeaderValue;

/// A `Set-Cookie` value: always `Path=/`, `SameSite`, `HttpOnly` unless said otherwise,
/// `Secure` behind https. `max_age` None = until the browser closes; Some(0) = delete.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age: Option<i64>,
    http_only: bool,
    secure: bool,
) -> Option<HeaderValue> {
    let mut c = format!("{name}={value}; Path=/; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).ok()
}
