//! Security headers and request tracing. Request spans name the route template, never the path:
//! reset links carry their token in the path.

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// Pages refuse framing and load nothing from elsewhere; no page is cached and no Referer
/// leaves (token pages carry their token in the URL).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    );
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    if !is_static {
        set(header::CACHE_CONTROL, "no-store");
    }
    res
}

/// The tracing span of a request: method and route template only.
pub fn request_span(req: &Request) -> tracing::Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", MatchedPath::as_str);
    tracing::info_span!("request", method = %req.method(), route = route, status = tracing::field::Empty)
}

pub async fn record_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    tracing::Span::current().record("status", res.status().as_u16());
    if res.status().is_server_error() {
        tracing::warn!(status = res.status().as_u16(), "request failed");
    } else {
        tracing::debug!(status = res.status().as_u16(), "request done");
    }
    res
}
