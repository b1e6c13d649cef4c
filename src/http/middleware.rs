//! Security headers and request tracing. Request spans name the route template, never the path:
//! reset links carry their token in the path.

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};

/// Marks a response that Teams and Microsoft 365 may frame: set by the layer that gives the
/// tab's pages their own Content-Security-Policy (`teams::tab::router`), and by nothing else.
#[derive(Debug, Clone, Copy)]
pub struct FramedByTeams;

/// Pages refuse framing and load nothing from elsewhere; no page is cached and no Referer
/// leaves (token pages carry their token in the URL). Only a response marked [`FramedByTeams`]
/// keeps its own policy and may be framed; any other keeps a policy it set itself but is still
/// refused framing.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let framed = res.extensions().get::<FramedByTeams>().is_some();
    let h = res.headers_mut();
    if !framed {
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
    let id = req
        .extensions()
        .get::<RequestId>()
        .map_or("", |r| r.0.as_str());
    tracing::info_span!("request", method = %req.method(), route = route, request.id = id, status = tracing::field::Empty)
}

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id: in its span (so in every log line of the request) and in the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// An inbound id worth keeping: 1 to 64 characters among letters, digits and `-_.:`.
    /// Anything else (too long, control characters, spaces, quotes) is replaced.
    pub fn sane(raw: &str) -> bool {
        (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    }
}

/// Whose `X-Request-Id` is kept: with `http.trust_request_id`, that of a peer among
/// `http.trusted_proxies` (the proxy that sets it); nobody's otherwise.
#[derive(Clone)]
pub struct RequestIdTrust {
    pub proxies: std::sync::Arc<Vec<ipnet::IpNet>>,
}

impl RequestIdTrust {
    pub fn new(trust_request_id: bool, trusted_proxies: &[ipnet::IpNet]) -> Self {
        let proxies = if trust_request_id {
            trusted_proxies.to_vec()
        } else {
            Vec::new()
        };
        Self {
            proxies: std::sync::Arc::new(proxies),
        }
    }

    fn trusts(&self, req: &Request) -> bool {
        let peer = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_canonical());
        peer.is_some_and(|ip| self.proxies.iter().any(|net| net.contains(&ip)))
    }
}

/// Gives every request an id: the inbound `X-Request-Id` when it comes from a trusted proxy
/// (`RequestIdTrust`) and looks sane, else a new UUID. Runs outside the tracing layer, so the
/// span sees the id.
pub async fn request_id(
    State(trust): State<RequestIdTrust>,
    mut req: Request,
    next: Next,
) -> Response {
    let trusted = trust.trusts(&req);
    let inbound = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| trusted && RequestId::sane(v))
        .map(str::to_string);
    let id = inbound.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let value = HeaderValue::from_str(&id).ok();
    if let Some(v) = &value {
        req.headers_mut().insert(X_REQUEST_ID, v.clone());
    }
    req.extensions_mut().insert(RequestId(id));
    let mut res = next.run(req).await;
    if let Some(v) = value {
        res.headers_mut().insert(X_REQUEST_ID, v);
    }
    res
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

#[cfg(test)]
mod tests {
    use axum::{Router, middleware::from_fn, routing::get};

    use super::*;

    const OWN: &str = "default-src 'self'";

    /// A page with a policy of its own, and one marked as the tab's.
    async fn serve() -> String {
        let own = || async { ([(header::CONTENT_SECURITY_POLICY, OWN)], "own") };
        let framed = || async {
            let mut res = Response::new(axum::body::Body::from("tab"));
            (res.headers_mut()).insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(OWN),
            );
            res.extensions_mut().insert(FramedByTeams);
            res
        };
        let app = Router::new()
            .route("/own", get(own))
            .route("/framed", get(framed))
            .layer(from_fn(security_headers));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn only_the_tab_s_mark_lets_a_page_be_framed_whatever_policy_it_sets() {
        let base = serve().await;
        let get = |path: &'static str| {
            let url = format!("{base}{path}");
            async move { reqwest::get(url).await.expect("answer") }
        };
        let own = get("/own").await;
        assert_eq!(own.headers()[header::CONTENT_SECURITY_POLICY], OWN);
        assert_eq!(own.headers()[header::X_FRAME_OPTIONS], "DENY");
        let framed = get("/framed").await;
        assert_eq!(framed.headers()[header::CONTENT_SECURITY_POLICY], OWN);
        assert!(framed.headers().get(header::X_FRAME_OPTIONS).is_none());
        assert_eq!(framed.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}
