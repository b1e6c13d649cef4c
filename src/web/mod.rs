//! The browser pages (login, forgot, enrol, reset) and the credential API.

pub mod api;
pub mod form;
pub mod legal;
pub mod login;
pub mod pages;
pub mod request;
pub mod reset;
pub mod username;

use std::sync::Arc;

use axum::{
    Router,
    extract::{FromRef, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect},
    routing::{get, post},
};

use crate::{
    clock::SharedClock,
    config::Config,
    org::Organisations,
    reset::{ResetService, SignInService},
    store::Store,
};
use pages::Pages;

/// What the pages and the credential API use: the state of [`router`], taken from the
/// application's state (`FromRef`) once, when the router is built. Handlers that need one
/// piece ask for it alone (`State<Store>`).
#[derive(Clone, FromRef)]
pub struct WebState {
    pub config: Arc<Config>,
    pub pages: Pages,
    pub orgs: Organisations,
    pub reset: ResetService,
    pub signin: SignInService,
    pub clock: SharedClock,
    /// For `/readyz` only.
    pub store: Store,
    /// What `/readyz` answered last (`true`: ready), so that a change is logged once.
    pub ready: Arc<std::sync::atomic::AtomicBool>,
    /// Told when the database stops answering and when it is back (the desk's channel).
    pub desk: Arc<dyn crate::model::events::DeskObserver>,
}

pub fn router() -> Router<WebState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/login") }))
        .route("/login", get(login::show).post(login::submit))
        .route("/account", get(login::account))
        .route("/logout", post(login::logout))
        .route(
            "/forgot",
            get(request::show_forgot).post(request::submit_forgot),
        )
        .route(
            "/forgot-username",
            get(username::show).post(username::submit),
        )
        .route(
            "/enroll",
            get(request::show_enroll).post(request::submit_enroll),
        )
        .route("/reset", get(reset::show_truncated))
        .route("/reset/", get(reset::show_truncated))
        .route("/reset/{token}", get(reset::show).post(reset::submit))
        .route(
            "/reset/{token}/cancel",
            get(reset::show_cancel).post(reset::submit_cancel),
        )
        .route("/api/v1/credentials/verify", post(api::verify))
        .route("/privacy", get(legal::privacy))
        .route("/terms", get(legal::terms))
        .route("/static/app.css", get(stylesheet))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
}

/// Ready when the database answers. A change is logged once (a probe every few seconds during an
/// outage says nothing new): WARN when it stops answering, INFO when it is back; the service
/// desk's channel is told of both.
async fn ready(State(state): State<WebState>) -> impl IntoResponse {
    use std::sync::atomic::Ordering;

    use crate::model::events::DeskEvent;
    let answer = state.store.ping().await;
    let was = state.ready.swap(answer.is_ok(), Ordering::SeqCst);
    match answer {
        Ok(()) => {
            if !was {
                tracing::info!("ready again: the database answers");
                state.desk.desk_event(None, DeskEvent::DatabaseUp);
            }
            (StatusCode::OK, "ready")
        }
        Err(e) => {
            if was {
                tracing::warn!(error = %e, "not ready: the database does not answer");
                state.desk.desk_event(None, DeskEvent::DatabaseDown);
            }
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
