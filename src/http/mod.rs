//! What every surface shares: extractors, cookies, CSRF, security headers, tracing, JSON errors.

pub mod cookies;
pub mod csrf;
pub mod error;
pub mod extract;
pub mod middleware;
