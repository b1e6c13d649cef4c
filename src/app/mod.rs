//! The application: its state, the router, and the running server with its mail worker.
//! `build.rs` makes it from the configuration; `key.rs` keeps the service key.

mod build;
mod key;
mod scrape;

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::{Router, extract::FromRef, middleware, routing::get};
use tokio::net::TcpListener;
use tower_http::{limit::RequestBodyLimitLayer, trace::TraceLayer};
use tracing::{info, warn};

pub use build::reset_service_for_cli;
pub use key::KEY_FILE;

use crate::{
    clock::SharedClock,
    config::Config,
    http::{csrf, middleware as mw},
    i18n::Strings,
    mail::worker::MailWorker,
    metrics::Metrics,
    org::Organisations,
    reset::{ResetService, SignInService},
    scim::{self, ScimState},
    store::Store,
    teams::bot::{self, Bot},
    teams::tab::{self, Tab, TabState},
    templates::Templates,
    web::{self, WebState, pages::Pages},
};

#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    pub reset: ResetService,
    pub signin: SignInService,
    pub orgs: Organisations,
    pub templates: Templates,
    pub strings: Strings,
    pub store: Store,
    pub clock: SharedClock,
    pub bot: Bot,
    pub tab: Arc<TabState>,
    pub csrf: csrf::CsrfKey,
    pub metrics: Metrics,
}

/// The surfaces take the part of the state they use: none of them knows `AppState`.
impl FromRef<AppState> for Pages {
    fn from_ref(app: &AppState) -> Self {
        Pages {
            templates: app.templates.clone(),
            strings: app.strings.clone(),
            orgs: app.orgs.clone(),
            https: app.config.uses_https(),
        }
    }
}

impl FromRef<AppState> for Tab {
    fn from_ref(app: &AppState) -> Self {
        Tab {
            config: app.config.clone(),
            pages: Pages::from_ref(app),
            strings: app.strings.clone(),
            orgs: app.orgs.clone(),
            reset: app.reset.clone(),
            clock: app.clock.clone(),
            tab: app.tab.clone(),
        }
    }
}

impl FromRef<AppState> for WebState {
    fn from_ref(app: &AppState) -> Self {
        WebState {
            config: app.config.clone(),
            pages: Pages::from_ref(app),
            orgs: app.orgs.clone(),
            reset: app.reset.clone(),
            signin: app.signin.clone(),
            clock: app.clock.clone(),
            store: app.store.clone(),
            ready: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            desk: Arc::new(app.bot.core.clone()),
        }
    }
}

impl FromRef<AppState> for ScimState {
    fn from_ref(app: &AppState) -> Self {
        ScimState {
            config: app.config.clone(),
            store: app.store.clone(),
            orgs: app.orgs.clone(),
            clock: app.clock.clone(),
            failures: Default::default(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let metrics_here = state.config.metrics.listen.is_none();
    let main = Router::new()
        .merge(web::router().with_state(WebState::from_ref(&state)))
        .merge(tab::router(Tab::from_ref(&state)))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::ensure_cookie,
        ))
        .layer(middleware::from_fn(mw::security_headers))
        .merge(bot::router().with_state(Arc::new(state.bot.clone())))
        .merge(scim::router().with_state(ScimState::from_ref(&state)));
    // With metrics.listen set, /metrics is served only on that address.
    let main = if metrics_here {
        main.route("/metrics", get(scrape::scrape))
    } else {
        main
    };
    main.layer(RequestBodyLimitLayer::new(256 * 1024))
        .layer(middleware::from_fn_with_state(
            state.config.uses_https(),
            mw::hsts,
        ))
        .layer(middleware::from_fn(mw::record_status))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(mw::request_span))
        .layer(middleware::from_fn_with_state(
            mw::RequestIdTrust::new(
                state.config.http.trust_request_id,
                &state.config.http.trusted_proxies,
            ),
            mw::request_id,
        ))
        .with_state(state)
}

/// The router of the separate metrics address (`metrics.listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape::scrape))
        .with_state(state)
}

pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: AppState,
    worker: MailWorker,
}

impl Application {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The separate metrics address, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn mail_worker(&self) -> &MailWorker {
        &self.worker
    }

    /// Serves and runs the mail worker until `shutdown` completes. Then: stops accepting,
    /// finishes the requests in flight, waits (at most `http.shutdown_grace_secs`) for the bot
    /// turns already acknowledged, lets the mail worker finish what it is sending (and what
    /// those turns queued), and returns.
    // Long: the shutdown order (listener, requests, bot turns, mail) reads top to bottom.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let metrics = self.state.metrics.clone();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (worker_stop_tx, mut worker_stop) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(metrics.scope(self.worker.run_until(async move {
            let _ = worker_stop.wait_for(|s| *s).await;
        })));
        let store = self.state.store.clone();
        let turns = self.state.bot.turns.clone();
        let grace = self.state.config.http.shutdown_grace;
        let mut housekeeping_stop = stop_rx.clone();
        let chores = tokio::spawn(metrics.scope(crate::housekeeping::run_until(
            store.clone(),
            self.state.clock.clone(),
            self.state.orgs.clone(),
            async move {
                let _ = housekeeping_stop.wait_for(|s| *s).await;
            },
        )));
        let metrics_server = self.metrics_listener.map(|l| {
            let app = metrics_router(self.state.clone());
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                axum::serve(l, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await
            })
        });
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let mut server_stop = stop_rx;
        let served = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            let _ = server_stop.wait_for(|s| *s).await;
        });
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let result = served.await.context("server failed");
        // Every acknowledged turn was spawned before its response went out, so all are tracked.
        turns.close();
        if !turns.is_empty() {
            info!(
                turns = turns.len(),
                "shutdown: waiting for the bot turns in flight"
            );
        }
        if tokio::time::timeout(grace, turns.wait()).await.is_err() {
            warn!(
                turns = turns.len(),
                grace_secs = grace.as_secs(),
                "shutdown: bot turns still running after the grace period; abandoned"
            );
        }
        let _ = worker_stop_tx.send(true);
        let _ = worker.await;
        let _ = chores.await;
        if let Some(m) = metrics_server {
            let _ = m.await;
        }
        store.close().await;
        info!("stopped");
        result
    }
}
