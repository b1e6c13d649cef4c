//! The Octopus tab in Teams: `/tab` (personal and channel), `/tab/config` (channel tab set-up),
//! and its JSON API, authenticated by the Teams single sign-on token when there is one.

mod answers;
mod desk;
pub mod handlers;
pub mod sso;
pub mod unlock;

use std::sync::Arc;

use axum::{
    Router,
    extract::{FromRef, Request, State},
    http::{HeaderValue, header},
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
};

use crate::{
    clock::SharedClock, config::Config, i18n::Strings, org::Organisations, reset::ResetService,
    web::pages::Pages,
};

/// What the tab's pages and API use: the part of the application's state they are given.
#[derive(Clone, FromRef)]
pub struct Tab {
    pub config: Arc<Config>,
    pub pages: Pages,
    pub strings: Strings,
    pub orgs: Organisations,
    pub reset: ResetService,
    pub clock: SharedClock,
    pub tab: Arc<TabState>,
}

pub struct TabState {
    pub sso: sso::SsoValidator,
    /// The tab pages' Content-Security-Policy: framed by Teams and Microsoft 365 only.
    pub csp: String,
}

/// The origin TeamsJS fetches its list of trusted hosts from when it starts
/// (`https://res.cdn.office.net/teams-js/validDomains/json/validDomains.json`, fixed in the SDK):
/// without it, Microsoft hosts newer than the SDK are not trusted.
pub const TEAMS_JS_VALID_DOMAINS_ORIGIN: &str = "https://res.cdn.office.net";

impl TabState {
    /// Scripts: our own and the one TeamsJS file (its exact URL; the page also pins its
    /// integrity hash), not everything its CDN serves.
    pub fn csp(teams_js: &url::Url, frame_ancestors: &[String]) -> String {
        let script = script_source(teams_js);
        format!(
            "default-src 'none'; script-src 'self' {script}; style-src 'self'; img-src 'self' data:; \
             connect-src 'self' {TEAMS_JS_VALID_DOMAINS_ORIGIN}; form-action 'self'; base-uri 'none'; frame-ancestors {}",
            if frame_ancestors.is_empty() {
                "'none'".to_string()
            } else {
                frame_ancestors.join(" ")
            }
        )
    }
}

/// A CSP source expression for exactly `url` (scheme, host, port, path; no query): a path that
/// a source expression cannot carry (`;`, `,`, spaces) falls back to the origin.
fn script_source(url: &url::Url) -> String {
    let origin = url.origin().ascii_serialization();
    let path = url.path();
    if path.len() > 1 && !path.contains([';', ',', ' ', '\'', '"']) {
        format!("{origin}{path}")
    } else {
        origin
    }
}

/// The tab's routes, with its state. Its two pages carry the tab's own Content-Security-Policy
/// (framed by Teams and Microsoft 365 hosts, loading TeamsJS) and the `FramedByTeams` mark, by
/// which the service-wide security headers leave them as they are.
pub fn router<S>(state: Tab) -> Router<S> {
    let csp = HeaderValue::from_str(&state.tab.csp).ok();
    let pages = Router::new()
        .route("/tab", get(handlers::page))
        .route("/tab/config", get(handlers::config_page))
        .route_layer(middleware::from_fn_with_state(csp, framed_by_teams));
    Router::new()
        .merge(pages)
        .route("/static/tab.js", get(handlers::script))
        .route("/static/tab.css", get(handlers::stylesheet))
        .route("/api/tab/me", get(handlers::me))
        .route("/api/tab/request", post(handlers::request))
        .route("/api/tab/unlock", post(unlock::unlock))
        .route("/api/tab/desk-request", post(desk::desk_request))
        .with_state(state)
}

async fn framed_by_teams(
    State(csp): State<Option<HeaderValue>>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    // Without its policy (an unusable value), the page is refused framing like any other.
    if let Some(csp) = csp {
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
        res.extensions_mut()
            .insert(crate::http::middleware::FramedByTeams);
    }
    res
}
