//! A local Bot Connector: records what the bot posts, answers member look-ups, and misbehaves
//! like the real one on cue. Writes (posts, card updates, new conversations) take their answers
//! from a queue of scripted ones ([`Answer`]) and answer normally when it is empty; every write
//! that arrives, whatever it was answered, is kept in [`Connector::attempts`].

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
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

/// How the connector answers one write.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// The status; a 2xx answer records the write in `posted` as a normal one would.
    pub status: u16,
    pub retry_after_secs: Option<u64>,
    /// Wait this long before answering (past the product's timeout: a slow connector).
    pub delay: Option<Duration>,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Answer {
            status,
            retry_after_secs: None,
            delay: None,
        }
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// The normal answer, given late.
    pub fn slow(delay: Duration) -> Self {
        Answer {
            delay: Some(delay),
            ..Answer::status(200)
        }
    }
}

/// A write as it arrived, with the status it was answered (`finished` once the answer left).
#[derive(Debug, Clone)]
pub struct Attempt {
    /// When the write arrived (to check that a retry waited for Retry-After).
    pub at: std::time::Instant,
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
    pub status: u16,
    pub finished: bool,
    /// The client hung up before the answer (it gave up waiting).
    pub abandoned: bool,
}

#[derive(Default)]
struct ConnectorState {
    posted: Mutex<Vec<Recorded>>,
    attempts: Mutex<Vec<Attempt>>,
    members: Mutex<HashMap<String, Value>>,
    /// The team roster `GET …/pagedmembers` lists, and how many members a page holds.
    roster: Mutex<Vec<Value>>,
    roster_page_size: AtomicUsize,
    roster_reads: AtomicUsize,
    script: Mutex<VecDeque<Answer>>,
    next_id: AtomicUsize,
    member_lookups: AtomicUsize,
    /// Milliseconds each write waits before it is recorded and answered (a slow connector).
    delay_ms: AtomicU64,
    /// The test that started this connector, and which of its connectors, for naming dumped cards.
    test: String,
    dumped: AtomicUsize,
}

static NEXT_CONNECTOR: AtomicUsize = AtomicUsize::new(1);

#[derive(Clone)]
pub struct Connector {
    /// The serviceUrl activities carry (with its trailing slash, as Teams sends it).
    pub service_url: String,
    state: Arc<ConnectorState>,
}

impl Connector {
    pub async fn start() -> Connector {
        let state = Arc::new(ConnectorState {
            test: format!(
                "{}.{}",
                std::thread::current()
                    .name()
                    .unwrap_or("unnamed")
                    .replace("::", "."),
                NEXT_CONNECTOR.fetch_add(1, Ordering::SeqCst)
            ),
            ..ConnectorState::default()
        });
        let app = Router::new()
            .route("/amer/v3/conversations", post(create_conversation))
            .route("/amer/v3/conversations/{conv}/activities", post(record))
            .route(
                "/amer/v3/conversations/{conv}/activities/{id}",
                post(record).put(record),
            )
            .route("/amer/v3/conversations/{conv}/members/{user}", get(member))
            .route(
                "/amer/v3/conversations/{conv}/pagedmembers",
                get(paged_members),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Connector {
            service_url: format!("http://{addr}/amer/"),
            state,
        }
    }

    /// Queue the answer to a coming write (after those already queued).
    pub fn script(&self, answer: Answer) {
        self.state.script.lock().unwrap().push_back(answer);
    }

    /// Every write that arrived, in order, with how it was answered.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.state.attempts.lock().unwrap().clone()
    }

    /// Waits until `n` writes arrived and were answered.
    pub async fn wait_for_attempts(&self, n: usize) -> Vec<Attempt> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.attempts();
            if got.iter().filter(|a| a.finished).count() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} answered connector write(s), got: {:#?}",
                got.iter()
                    .map(|a| format!("{} {} → {} {}", a.method, a.path, a.status, a.finished))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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

    /// The members of the team roster (`GET …/pagedmembers`), `page_size` to a page.
    pub fn set_roster(&self, members: Vec<Value>, page_size: usize) {
        *self.state.roster.lock().unwrap() = members;
        self.state
            .roster_page_size
            .store(page_size.max(1), Ordering::SeqCst);
    }

    /// How many roster pages the bot read.
    pub fn roster_reads(&self) -> usize {
        self.state.roster_reads.load(Ordering::SeqCst)
    }

    /// How many member look-ups (GET …/members/{user}) the bot made.
    pub fn member_lookups(&self) -> usize {
        self.state.member_lookups.load(Ordering::SeqCst)
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

/// Takes the next scripted answer (None: the normal one) and logs the attempt; returns its index.
fn take(
    s: &ConnectorState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Value,
) -> (usize, Option<Answer>) {
    let answer = s.script.lock().unwrap().pop_front();
    let mut attempts = s.attempts.lock().unwrap();
    attempts.push(Attempt {
        at: std::time::Instant::now(),
        method: method.to_string(),
        path: uri.path().to_string(),
        authorization: authorization(headers),
        body: body.clone(),
        status: answer.map_or(200, |a| a.status),
        finished: false,
        abandoned: false,
    });
    (attempts.len() - 1, answer)
}

/// Waits out a slow answer, then marks the attempt answered. The wait runs in its own task, so
/// it completes even when the client gives up and the connection (and this handler, which then
/// marks the attempt abandoned) goes away.
async fn answer_after(s: &Arc<ConnectorState>, index: usize, answer: Option<Answer>) {
    struct HungUp(Option<(Arc<ConnectorState>, usize)>);
    impl Drop for HungUp {
        fn drop(&mut self) {
            if let Some((s, index)) = self.0.take() {
                s.attempts.lock().unwrap()[index].abandoned = true;
            }
        }
    }
    let mut hung_up = HungUp(Some((s.clone(), index)));
    let s = s.clone();
    let delay = answer.and_then(|a| a.delay);
    let _ = tokio::spawn(async move {
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        s.attempts.lock().unwrap()[index].finished = true;
    })
    .await;
    hung_up.0 = None;
}

/// The scripted refusal, if the answer is not a success.
fn refusal(answer: Option<Answer>) -> Option<Response> {
    let answer = answer.filter(|a| !(200..300).contains(&a.status))?;
    let mut res = (
        StatusCode::from_u16(answer.status).unwrap(),
        Json(json!({"error": {"code": "Scripted", "message": "scripted answer"}})),
    )
        .into_response();
    if let Some(secs) = answer.retry_after_secs {
        res.headers_mut()
            .insert("retry-after", secs.to_string().parse().unwrap());
    }
    Some(res)
}

fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn record(
    State(s): State<Arc<ConnectorState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Json<Value>,
) -> Response {
    let delay = s.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let (index, answer) = take(&s, &method, &uri, &headers, &body.0);
    if let Some(res) = refusal(answer) {
        answer_after(&s, index, answer).await;
        return res;
    }
    // Taken (even when the answer comes too late for the client): it is in the conversation.
    let id = format!("msg-{}", s.next_id.fetch_add(1, Ordering::SeqCst) + 1);
    dump_cards(&s, &body.0);
    s.posted.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        authorization: authorization(&headers),
        body: body.0,
    });
    answer_after(&s, index, answer).await;
    Json(json!({ "id": id })).into_response()
}

async fn create_conversation(
    State(s): State<Arc<ConnectorState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Json<Value>,
) -> Response {
    let (index, answer) = take(&s, &method, &uri, &headers, &body.0);
    if let Some(res) = refusal(answer) {
        answer_after(&s, index, answer).await;
        return res;
    }
    let user = body
        .pointer("/members/0/id")
        .and_then(Value::as_str)
        .unwrap_or("someone")
        .to_string();
    s.posted.lock().unwrap().push(Recorded {
        method: "POST".into(),
        path: uri.path().to_string(),
        authorization: authorization(&headers),
        body: body.0,
    });
    answer_after(&s, index, answer).await;
    Json(json!({ "id": format!("a:personal-{user}") })).into_response()
}

async fn member(
    State(s): State<Arc<ConnectorState>>,
    Path((_conv, user)): Path<(String, String)>,
) -> impl IntoResponse {
    s.member_lookups.fetch_add(1, Ordering::SeqCst);
    match s.members.lock().unwrap().get(&user) {
        Some(m) => Json(m.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "MemberNotFoundInConversation"}})),
        )
            .into_response(),
    }
}

/// A page of the roster; the continuation token is the index of the page's first member.
async fn paged_members(
    State(s): State<Arc<ConnectorState>>,
    Path(_team): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> impl IntoResponse {
    s.roster_reads.fetch_add(1, Ordering::SeqCst);
    let roster = s.roster.lock().unwrap().clone();
    let size = s.roster_page_size.load(Ordering::SeqCst).max(1);
    let start: usize = match q.get("continuationToken") {
        Some(t) => match t.parse() {
            Ok(n) => n,
            Err(_) => return (StatusCode::BAD_REQUEST, "bad continuationToken").into_response(),
        },
        None => 0,
    };
    let end = (start + size).min(roster.len());
    let page: Vec<Value> = roster.get(start..end).unwrap_or_default().to_vec();
    let mut body = json!({ "members": page });
    if end < roster.len() {
        body["continuationToken"] = json!(end.to_string());
    }
    Json(body).into_response()
}

/// With `OCTOPUS_TEST_CARDS_DIR` set, every card the bot posts is also written there as
/// `<test>.<connector>.<n>.json`; scripts/test then checks them all with tools/cards/validate.mjs.
fn dump_cards(s: &ConnectorState, body: &Value) {
    let Some(dir) = std::env::var_os("OCTOPUS_TEST_CARDS_DIR") else {
        return;
    };
    let cards = body["attachments"].as_array().into_iter().flatten();
    let adaptive = |a: &&Value| a["contentType"] == "application/vnd.microsoft.card.adaptive";
    for card in cards.filter(adaptive).filter_map(|a| a.get("content")) {
        let n = s.dumped.fetch_add(1, Ordering::SeqCst) + 1;
        let file = std::path::Path::new(&dir).join(format!("{}.{n}.json", s.test));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(file, serde_json::to_vec_pretty(card).unwrap()).unwrap();
    }
}
