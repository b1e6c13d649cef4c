//! `GET /metrics`: the application's figures, for Prometheus.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{clock::SharedClock, config::Config, metrics::Metrics, store::Store};

/// `GET /metrics`, for a scraper that presents `metrics.token` when one is set (else 401, and
/// nothing else said). Database reachability is live; the held figures are published first
/// when a new interval has begun.
pub async fn scrape(
    State(store): State<Store>,
    State(clock): State<SharedClock>,
    State(figures): State<Metrics>,
    State(config): State<Arc<Config>>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !config.metrics.admits(authorization) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a valid metrics token is required (Authorization: Bearer …)\n",
        )
            .into_response();
    }
    let up = store.ping().await.is_ok();
    figures.with(|| metrics::gauge!("octopus_up").set(if up { 1.0 } else { 0.0 }));
    figures.publish(&store, clock.unix()).await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        figures.render().await,
    )
        .into_response()
}
