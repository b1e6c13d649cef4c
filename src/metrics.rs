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

use crate::model::UnixTime;
use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::store::Store;

/// Seconds: HTTP latency and argon2 hash time.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The two recorders of one application: `live` figures are rendered as they are; `held` ones
/// (what follows a person's request without being its answer: mail sent or failed, the outbox)
/// are rendered from a snapshot taken at fixed boundaries of `metrics.publish_interval_secs`.
struct Recorders {
    live: PrometheusRecorder,
    held: PrometheusRecorder,
}

#[derive(Clone)]
pub struct Metrics {
    recorders: Arc<Recorders>,
    live: PrometheusHandle,
    held: PrometheusHandle,
    published: Arc<tokio::sync::Mutex<Published>>,
    interval_secs: i64,
}

/// The held figures as last published, and the interval they were published in.
#[derive(Default)]
struct Published {
    period: Option<i64>,
    text: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(std::time::Duration::from_secs(300))
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn recorder() -> PrometheusRecorder {
    let builder = PrometheusBuilder::new();
    builder
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .unwrap_or_else(|_| PrometheusBuilder::new())
        .build_recorder()
}

impl Metrics {
    /// `publish_every`: how often the held figures change ([`held`]).
    pub fn new(publish_every: std::time::Duration) -> Self {
        let (live, held) = (recorder(), recorder());
        let (live_handle, held_handle) = (live.handle(), held.handle());
        let this = Self {
            recorders: Arc::new(Recorders { live, held }),
            live: live_handle,
            held: held_handle,
            published: Arc::default(),
            interval_secs: i64::try_from(publish_every.as_secs()).unwrap_or(300).max(1),
        };
        // Every series an alert rule (deploy/prometheus/rules.yml) reads exists from the start,
        // at zero: `rate` of an absent series is nothing, and the rule stays silent.
        this.with(|| {
            for name in [
                "octopus_bot_token_rejections_total",
                "octopus_bot_activities_total",
                "octopus_link_refusals_total",
                "octopus_signing_key_refreshes_total",
            ] {
                metrics::counter!(name).absolute(0);
            }
        });
        this.with_held(|| {
            for name in [
                "octopus_mail_sent_total",
                "octopus_mail_failures_total",
                "octopus_mail_dead_letters_total",
                "octopus_mail_expired_total",
            ] {
                metrics::counter!(name).absolute(0);
            }
        });
        this
    }

    /// Every organisation's event series that dashboards and alerts read, at zero from the
    /// start (a family that appears only after its first event cannot be alerted on).
    pub fn start_at_zero(&self, tenants: impl IntoIterator<Item = String>) {
        const EVENTS: [&str; 9] = [
            "link_requested",
            "password_changed",
            "enrolled",
            "signin_ok",
            "signin_failed",
            "signin_locked",
            "signin_rate_limited",
            "request_rate_limited",
            "account_unlocked",
        ];
        self.with(|| {
            for tenant in tenants {
                for event in EVENTS {
                    metrics::counter!("octopus_events_total", "event" => event, "tenant" => tenant.clone())
                        .absolute(0);
                }
            }
            metrics::counter!("octopus_connector_retries_total").absolute(0);
        });
    }

    /// Runs `fut` with this application's recorders in place at every poll.
    pub fn scope<F: Future>(&self, fut: F) -> Scoped<F> {
        Scoped {
            recorders: self.recorders.clone(),
            inner: Box::pin(fut),
        }
    }

    /// Runs a synchronous closure with this application's live recorder.
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorders.live, f)
    }

    fn with_held<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorders.held, f)
    }

    /// Publishes the held figures when `now` has entered a new interval since the last time
    /// (reading the outbox gauges from the database first); else keeps what was published.
    pub async fn publish(&self, store: &Store, now: UnixTime) {
        let period = now.secs().div_euclid(self.interval_secs);
        let mut published = self.published.lock().await;
        if published.period == Some(period) {
            return;
        }
        let stats = match store.conn().await {
            Ok(mut conn) => crate::store::outbox::pending_stats(&mut conn, now)
                .await
                .map_err(|e| tracing::warn!(error = %e, "metrics: cannot read the outbox"))
                .ok(),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: database unavailable");
                None
            }
        };
        if let Some(s) = stats {
            self.with_held(|| {
                metrics::gauge!("octopus_outbox_pending").set(s.pending as f64);
                metrics::gauge!("octopus_outbox_oldest_pending_age_seconds")
                    .set(s.oldest_age_secs as f64);
            });
        }
        self.held.run_upkeep();
        published.text = self.held.render();
        published.period = Some(period);
    }

    /// The Prometheus text exposition: the live figures, then the held ones as last published.
    pub async fn render(&self) -> String {
        self.live.run_upkeep();
        let mut text = self.live.render();
        text.push_str(&self.published.lock().await.text);
        text
    }
}

/// Records with the held recorder of the application whose scope is being polled: figures that
/// must not be tied to the request that caused them (a mail sent after « mot de passe oublié »
/// tells that the username exists). They appear at the next publication boundary, summed with
/// everything else of the interval. Outside any scope the figure is dropped.
pub fn held(f: impl FnOnce()) {
    if let Some(recorders) = CURRENT.with(|c| c.borrow().clone()) {
        metrics::with_local_recorder(&recorders.held, f);
    }
}

/// A future polled with an application's recorders in place (see [`Metrics::scope`]).
pub struct Scoped<F> {
    recorders: Arc<Recorders>,
    inner: Pin<Box<F>>,
}

thread_local! {
    /// The recorders of the scope being polled on this thread, for [`spawn`] and [`held`].
    static CURRENT: std::cell::RefCell<Option<Arc<Recorders>>> =
        const { std::cell::RefCell::new(None) };
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let recorders = this.recorders.clone();
        /// Puts the outer scope back, also when the poll panics.
        struct Restore(Option<Arc<Recorders>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let outer = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = outer);
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(Some(recorders.clone()))));
        metrics::with_local_recorder(&recorders.live, || this.inner.as_mut().poll(cx))
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
        Some(recorders) => tokio::spawn(Scoped {
            recorders,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_applications_count_apart() {
        let (a, b) = (Metrics::default(), Metrics::default());
        a.scope(async { metrics::counter!("octopus_test_total").increment(2) })
            .await;
        b.scope(async { metrics::counter!("octopus_test_total").increment(5) })
            .await;
        let (a, b) = (a.render().await, b.render().await);
        assert!(a.contains("octopus_test_total 2"), "{a}");
        assert!(b.contains("octopus_test_total 5"), "{b}");
    }
}
