//! The service's log events as a test can read them: a `tracing` layer on the test binary's
//! subscriber keeps every warning (message and fields, as the formatter would print them).
//! Tests run concurrently in one process under `cargo test`, so a test picks its own events by
//! something only it uses (a tenant id, a team id).

use std::{
    fmt::Write,
    sync::{Mutex, OnceLock},
};

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{Layer, layer::Context};

static EVENTS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

fn events() -> &'static Mutex<Vec<String>> {
    EVENTS.get_or_init(Mutex::default)
}

/// Keeps each event as one line: `LEVEL message field=value …`.
pub struct Capture;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        events()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line.0);
    }
}

/// The warnings logged so far that contain `needle`.
pub fn warnings_with(needle: &str) -> Vec<String> {
    events()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|l| l.starts_with("WARN") && l.contains(needle))
        .cloned()
        .collect()
}
