//! Counts the SQL statements each request runs, from sqlx's own statement log (target
//! `sqlx::query`, one event per statement executed, on both SQLite and PostgreSQL). Each count is
//! attributed to the request span it ran under, and kept per test thread: every test runs its
//! server on its own current-thread runtime, so other tests' requests never mix in.

use std::{collections::HashMap, sync::Mutex, thread::ThreadId, time::Duration};

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id},
};
use tracing_subscriber::{Layer, layer::Context, registry::LookupSpan};

/// A finished request: (method, route, statements).
type Finished = (String, String, usize);

/// Finished requests per test thread.
static DONE: Mutex<Option<HashMap<ThreadId, Vec<Finished>>>> = Mutex::new(None);

pub struct SqlCounter;

struct Counted {
    thread: ThreadId,
    method: String,
    route: String,
    statements: usize,
}

#[derive(Default)]
struct Fields {
    method: String,
    route: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let v = format!("{value:?}").trim_matches('"').to_string();
        match field.name() {
            "method" => self.method = v,
            "route" => self.route = v,
            _ => {}
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for SqlCounter {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // The HTTP request span (src/http/middleware.rs), not a domain fn that is also named so.
        let meta = attrs.metadata();
        if meta.name() != "request" || meta.fields().field("route").is_none() {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Counted {
                thread: std::thread::current().id(),
                method: fields.method,
                route: fields.route,
                statements: 0,
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        // Connection set-up (SQLite's PRAGMAs on a connection the pool opens) is not the
        // request's work: counting it made the count depend on how warm the pool was.
        struct Text(String);
        impl Visit for Text {
            fn record_debug(&mut self, _: &Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{value:?} "));
            }
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        if text.0.to_ascii_lowercase().contains("pragma ") {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else {
            return;
        };
        for span in scope {
            if let Some(c) = span.extensions_mut().get_mut::<Counted>() {
                c.statements += 1;
                return;
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        if let Some(c) = span.extensions_mut().remove::<Counted>() {
            let mut done = DONE.lock().unwrap();
            done.get_or_insert_with(HashMap::new)
                .entry(c.thread)
                .or_default()
                .push((c.method, c.route, c.statements));
        }
    }
}

/// The statement counts of the requests `method route` this test's server finished since the
/// last call, once there are `n` of them (waits for the spans to close, with a deadline).
pub async fn statements_of(method: &str, route: &str, n: usize) -> Vec<usize> {
    let me = std::thread::current().id();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        {
            let mut done = DONE.lock().unwrap();
            let mine = done.get_or_insert_with(HashMap::new).entry(me).or_default();
            let matching: Vec<usize> = mine
                .iter()
                .filter(|(m, r, _)| m == method && r == route)
                .map(|(_, _, c)| *c)
                .collect();
            if matching.len() >= n {
                mine.retain(|(m, r, _)| !(m == method && r == route));
                return matching;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} finished {method} {route} request(s) expected on this test's thread"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
