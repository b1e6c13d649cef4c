//! Security headers and request tracing. Request spans name the route template, never the path:
//! reset links carry their token in the path.

use std::sync::Arc;

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// Pages refuse framing and load nothing from elsewhere; no page is cached and no Referer
/// leaves (token pages carry their token in the URL). The tab pages alone may be framed, by
/// Teams and Microsoft 365 hosts, and load the Teams SDK.
pub async fn security_headers(
    State(tab): State<Arc<crate::tab::TabState>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let is_static = path.starts_with("/static/");
    let is_tab = path == "/tab" || path.starts_with("/tab/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if is_tab {
        if let Ok(v) = HeaderValue::from_str(&tab.csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    } else {
        h.entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
            ));
        h.entry(header::X_FRAME_OPTIONS)
            .or_insert(HeaderValue::from_static("DENY"));
    }
    let mut set = |name: HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    if !is_static {
        set(header::CACHE_CONTROL, "no-store");
    }
    res
}

/// Behind https, browsers are told to use nothing else for a year (HSTS). Not on plain http,
/// where the header means nothing and would pin a development host.
pub async fn hsts(State(https): State<bool>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if https {
        res.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
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
