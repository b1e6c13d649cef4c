//! A local Bot Connector: records what the bot posts, answers member look-ups, and can be told
//! to answer 429 (with Retry-After) a number of times first.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

impl Recorded {
    /// The Adaptive Card carried, if any.
    pub fn card(&self) -> Option<&Value> {
        self.body.pointer("/attachments/0/content")
    }

    pub fn text(&self) -> String {
        serde_json::to_string(&self.body).unwrap()
    }
}

#[derive(Default)]
struct ConnectorState {
    posted: Mutex<Vec<Recorded>>,
    members: Mutex<HashMap<String, Value>>,
    throttle: AtomicU32,
    next_id: AtomicUsize,
    /// Milliseconds each write waits before it is recorded and answered (a slow connector).
    delay_ms: AtomicU64,
}

#[derive(Clone)]
pub struct Connector {
    /// The serviceUrl activities carry (with its trailing slash, as Teams sends it).
    pub service_url: String,
    state: Arc<ConnectorState>,
}

impl Connector {
    pub async fn start() -> Connector {
        let state = Arc::new(ConnectorState::default());
        let app = Router::new()
            .route("/amer/v3/conversations", post(create_conversation))
            .route("/amer/v3/conversations/{conv}/activities", post(record))
            .route(
                "/amer/v3/conversations/{conv}/activities/{id}",
                post(record).put(record),
            )
            .route("/amer/v3/conversations/{conv}/members/{user}", get(member))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Connector {
            service_url: format!("http://{addr}/amer/"),
            state,
        }
    }

    /// Answer 429 (Retry-After: 1) to the next `n` writes.
    pub fn throttle(&self, n: u32) {
        self.state.throttle.store(n, Ordering::SeqCst);
    }

    /// Every later write waits `d` before it is recorded and answered.
    pub fn slow_down(&self, d: Duration) {
        self.state
            .delay_ms
            .store(u64::try_from(d.as_millis()).unwrap(), Ordering::SeqCst);
    }

    pub fn add_member(&self, user_id: &str, member: Value) {
        self.state
            .members
            .lock()
            .unwrap()
            .insert(user_id.to_string(), member);
    }

    pub fn posted(&self) -> Vec<Recorded> {
        self.state.posted.lock().unwrap().clone()
    }

    /// Waits until `n` writes were recorded.
    pub async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.posted();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} connector call(s), got {}: {:#?}",
                got.len(),
                got.iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn throttled(s: &ConnectorState) -> bool {
    s.throttle
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

async fn record(
    State(s): State<Arc<ConnectorState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Json<Value>,
) -> impl IntoResponse {
    let delay = s.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if throttled(&s) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            "slow down",
        )
            .into_response();
    }
    let id = format!("msg-{}", s.next_id.fetch_add(1, Ordering::SeqCst) + 1);
    s.posted.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.0,
    });
    Json(json!({ "id": id })).into_response()
}

async fn create_conversation(
    State(s): State<Arc<ConnectorState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Json<Value>,
) -> impl IntoResponse {
    let user = body
        .pointer("/members/0/id")
        .and_then(Value::as_str)
        .unwrap_or("someone")
        .to_string();
    s.posted.lock().unwrap().push(Recorded {
        method: "POST".into(),
        path: uri.path().to_string(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.0,
    });
    Json(json!({ "id": format!("a:personal-{user}") }))
}

async fn member(
    State(s): State<Arc<ConnectorState>>,
    Path((_conv, user)): Path<(String, String)>,
) -> impl IntoResponse {
    match s.members.lock().unwrap().get(&user) {
        Some(m) => Json(m.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "MemberNotFoundInConversation"}})),
        )
            .into_response(),
    }
}
