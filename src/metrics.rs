//! Prometheus metrics, per application rather than per process.
//!
//! Code records figures with the `metrics` macros (`metrics::counter!(…)`). They land in the
//! recorder of the [`Metrics`] whose scope the code runs in: every request, the mail worker,
//! housekeeping and the bot turns run inside [`Metrics::scope`], which sets the app's recorder
//! as the thread's local recorder for each poll. No global recorder is installed, so several
//! applications in one process (the test harness) each count only their own work, and a figure
//! recorded outside any scope is dropped. Work that outlives its request goes through
//! [`spawn`], which keeps the scope it was spawned from.
//!
//! Labels never carry a username, token, address or display name: route templates (not paths),
//! statuses, kinds and outcomes from closed sets, and tenant ids.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::{clock::SharedClock, store::Store};

/// Seconds: HTTP latency and argon2 hash time.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        let builder = builder
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        Self {
            recorder: Arc::new(recorder),
            handle,
        }
    }

    /// Runs `fut` with this application's recorder as the local recorder at every poll.
    pub fn scope<F: Future>(&self, fut: F) -> Scoped<F> {
        Scoped {
            recorder: self.recorder.clone(),
            inner: Box::pin(fut),
        }
    }

    /// Runs a synchronous closure with this application's recorder.
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(self.recorder.as_ref(), f)
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// A future polled with an application's recorder in place (see [`Metrics::scope`]).
pub struct Scoped<F> {
    recorder: Arc<PrometheusRecorder>,
    inner: Pin<Box<F>>,
}

thread_local! {
    /// The recorder of the scope being polled on this thread, for [`spawn`].
    static CURRENT: std::cell::RefCell<Option<Arc<PrometheusRecorder>>> =
        const { std::cell::RefCell::new(None) };
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let recorder = this.recorder.clone();
        /// Puts the outer scope back, also when the poll panics.
        struct Restore(Option<Arc<PrometheusRecorder>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let outer = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = outer);
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(Some(recorder.clone()))));
        metrics::with_local_recorder(recorder.as_ref(), || this.inner.as_mut().poll(cx))
    }
}

/// `tokio::spawn`, keeping the metrics scope of the caller: what a request hands to a task of
/// its own (a sign-in settled after the answer, a status card updated) counts in its application.
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match CURRENT.with(|c| c.borrow().clone()) {
        Some(recorder) => tokio::spawn(Scoped {
            recorder,
            inner: Box::pin(fut),
        }),
        None => tokio::spawn(fut),
    }
}

/// Counts every request and its latency by method, route template and status, and runs the
/// request in the application's metrics scope.
pub async fn track(State(m): State<Metrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", MatchedPath::as_str)
        .to_string();
    let res = m.scope(next.run(req)).await;
    let status = res.status().as_u16().to_string();
    m.with(|| {
        let labels = [
            ("method", method.to_string()),
            ("route", route),
            ("status", status),
        ];
        metrics::counter!("octopus_http_requests_total", &labels).increment(1);
        metrics::histogram!("octopus_http_request_duration_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
    });
    res
}

/// Methods from a closed set: anything else is "other" (a label must not take arbitrary input).
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /metrics`: the outbox gauges are read from the database at scrape time (so every
/// instance reports the shared outbox), then everything is rendered.
pub async fn scrape(
    State(store): State<Store>,
    State(clock): State<SharedClock>,
    State(figures): State<Metrics>,
) -> Response {
    let now = clock.unix();
    match store.conn().await {
        Ok(mut conn) => match crate::store::outbox::pending_stats(&mut conn, now).await {
            Ok(s) => figures.with(|| {
                metrics::gauge!("octopus_outbox_pending").set(s.pending as f64);
                metrics::gauge!("octopus_outbox_oldest_pending_age_seconds")
                    .set(s.oldest_age_secs as f64);
                metrics::gauge!("octopus_up").set(1.0);
            }),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot read the outbox");
                figures.with(|| metrics::gauge!("octopus_up").set(0.0));
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "metrics: database unavailable");
            figures.with(|| metrics::gauge!("octopus_up").set(0.0));
        }
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        figures.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_applications_count_apart() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.scope(async { metrics::counter!("octopus_test_total").increment(2) })
            .await;
        b.scope(async { metrics::counter!("octopus_test_total").increment(5) })
            .await;
        assert!(
            a.render().contains("octopus_test_total 2"),
            "{}",
            a.render()
        );
        assert!(
            b.render().contains("octopus_test_total 5"),
            "{}",
            b.render()
        );
    }
}
