//! `serve`: the service itself, until SIGTERM or Ctrl-C.

use anyhow::Context;

use crate::{app::Application, clock::SystemClock, config::Config};

pub(super) async fn serve(cfg: Config) -> anyhow::Result<()> {
    let base = cfg.http.public_base_url.clone();
    let mail = format!("{:?}", cfg.mail.transport);
    let db = crate::config::redact_url(secrecy::ExposeSecret::expose_secret(&cfg.database.url));
    let local_dev = matches!(cfg.bot.mode, crate::config::BotMode::LocalDev);
    if local_dev {
        tracing::warn!(
            "LOCAL DEVELOPMENT MODE: bot.app_id is empty, so POST /api/messages accepts unauthenticated \
             activities (Agents Playground, Bot Framework Emulator). Loopback only. Never expose this."
        );
    }
    for w in cfg.warnings() {
        tracing::warn!("{w}");
    }
    let seeds_demo = cfg.demo_seed;
    // The address answers from the start: while the database is waited for, /healthz says the
    // process lives and everything else 503 (so a load balancer or orchestrator sees "not ready",
    // not "connection refused").
    let listener = std::net::TcpListener::bind(cfg.http.listen)
        .with_context(|| format!("cannot listen on {}", cfg.http.listen))?;
    listener.set_nonblocking(true)?;
    let (stop, starting) =
        starting_answers(tokio::net::TcpListener::from_std(listener.try_clone()?)?);
    let clock: crate::clock::SharedClock = std::sync::Arc::new(SystemClock);
    let built = Application::build_on(
        cfg,
        clock,
        Some(tokio::net::TcpListener::from_std(listener)?),
    )
    .await;
    let _ = stop.send(());
    let _ = starting.await;
    let app = built?;
    let addr = app.local_addr()?;
    tracing::info!(%addr, public_base_url = %base, "listening (http.listen / OCTOPUS__HTTP__LISTEN)");
    tracing::info!(database = %db, "database (database.url / OCTOPUS__DATABASE__URL)");
    tracing::info!(mail = %mail, "mail (mail.transport / OCTOPUS__MAIL__TRANSPORT)");
    if seeds_demo {
        tracing::info!(
            "open {base}login — or {base}enroll to set the demo account's (trej) first password"
        );
    } else {
        tracing::info!("open {base}login — accounts come from `users import` (none is seeded)");
    }
    if local_dev {
        tracing::info!(
            "the bot in Microsoft's local Teams client: APPLICATION_INSIGHTS_NO_STATSBEAT=true npx \
             @microsoft/m365agentsplayground@0.2.28 start -e http://{addr}/api/messages -c msteams --dt"
        );
    }
    app.run_until(shutdown_signal()).await
}

/// Serves the not-yet-ready answers on `listener` until told to stop.
fn starting_answers(
    listener: tokio::net::TcpListener,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    use axum::{http::StatusCode, routing::get};
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "starting: waiting for the database",
            )
        });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    (stop, task)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
