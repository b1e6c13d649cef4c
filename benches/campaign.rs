//! An enrolment campaign at Teams' pace: `octopus-teams campaign enroll` (the release binary)
//! writes to PEOPLE never-enrolled people found in a team's roster (a 1:1 chat created, then the
//! card posted: two requests each) through a Bot Connector stand-in that enforces Teams' limits
//! and answers 429 past them:
//!
//! - per app per tenant: RATE requests in any 1 s window (Microsoft's page: about 30);
//! - per conversation: 7 in 1 s, 8 in 2 s, 60 in 30 s, 1,800 in an hour;
//! - every answer after LATENCY_MS (Teams' connector answers in about a tenth of a second).
//!
//! Prints the run's duration against the time the limits imply (requests ÷ RATE), the rate it
//! used as a share of RATE, and the 429s it got. Figures only: nothing here asserts on time.
//!
//!     cargo bench --bench campaign [-- PEOPLE RATE LATENCY_MS]     (10000 30 100)

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark prints its figures"
)]

use std::{
    collections::{HashMap, VecDeque},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use sqlx::{Connection, SqliteConnection};
use tokio::io::AsyncBufReadExt;

/// The binary and its clean command, shared with the integration tests.
#[path = "../tests/it/harness/process.rs"]
#[allow(dead_code, reason = "only the command is used")]
mod process;

const TENANT: &str = "6a1e0f3c-0000-4000-8000-00000000c0de";
const TEAM: &str = "19:bench-team@thread.tacv2";
const BOT: &str = "28:bench-bot";

/// Requests in sliding windows: refused (429) when one more would exceed a window's allowance.
#[derive(Default)]
struct Windows {
    seen: VecDeque<Instant>,
}

impl Windows {
    /// Counts the request unless one of `limits` (count, window) is reached; false: refused.
    fn admit(&mut self, now: Instant, limits: &[(usize, Duration)]) -> bool {
        let longest = limits.iter().map(|l| l.1).max().unwrap_or_default();
        while self
            .seen
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            self.seen.pop_front();
        }
        for &(count, window) in limits {
            let within = self
                .seen
                .iter()
                .rev()
                .take_while(|t| now.duration_since(**t) < window)
                .count();
            if within >= count {
                return false;
            }
        }
        self.seen.push_back(now);
        true
    }
}

#[derive(Clone)]
struct Stand {
    rate: usize,
    latency: Duration,
    people: usize,
    tenant: Arc<Mutex<Windows>>,
    conversations: Arc<Mutex<HashMap<String, Windows>>>,
    requests: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    posted: Arc<AtomicUsize>,
    first: Arc<Mutex<Option<Instant>>>,
    last: Arc<Mutex<Option<Instant>>>,
}

/// Teams' documented allowance per bot per conversation.
const PER_CONVERSATION: [(usize, Duration); 4] = [
    (7, Duration::from_secs(1)),
    (8, Duration::from_secs(2)),
    (60, Duration::from_secs(30)),
    (1800, Duration::from_secs(3600)),
];

impl Stand {
    /// The tenant's (and the conversation's) allowance, then the answer after the latency.
    async fn gate(&self, conversation: Option<&str>) -> Option<Response> {
        tokio::time::sleep(self.latency).await;
        let now = Instant::now();
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.first.lock().unwrap().get_or_insert(now);
        *self.last.lock().unwrap() = Some(now);
        let tenant_ok = self
            .tenant
            .lock()
            .unwrap()
            .admit(now, &[(self.rate, Duration::from_secs(1))]);
        let conversation_ok = conversation.is_none_or(|c| {
            self.conversations
                .lock()
                .unwrap()
                .entry(c.to_string())
                .or_default()
                .admit(now, &PER_CONVERSATION)
        });
        if tenant_ok && conversation_ok {
            return None;
        }
        self.refused.fetch_add(1, Ordering::SeqCst);
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "1".parse().unwrap());
        Some((StatusCode::TOO_MANY_REQUESTS, headers).into_response())
    }
}

async fn roster(
    State(s): State<Stand>,
    Path(_team): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = s.gate(None).await {
        return refused;
    }
    let size: usize = q
        .get("pageSize")
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let from: usize = q
        .get("continuationToken")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let to = (from + size).min(s.people);
    let members: Vec<Value> = (from..to)
        .map(|i| {
            json!({"id": format!("29:p{i}"), "objectId": object_id(i),
                   "userPrincipalName": format!("p{i}@bench.example"), "name": format!("P{i}"),
                   "tenantId": TENANT, "userRole": "user"})
        })
        .collect();
    let next = (to < s.people).then(|| to.to_string());
    Json(json!({"members": members, "continuationToken": next})).into_response()
}

async fn create(State(s): State<Stand>, Json(body): Json<Value>) -> Response {
    if let Some(refused) = s.gate(None).await {
        return refused;
    }
    let user = body["members"][0]["id"].as_str().unwrap_or_default();
    Json(json!({"id": format!("a:personal-{user}")})).into_response()
}

async fn activity(State(s): State<Stand>, Path(conversation): Path<String>) -> Response {
    if let Some(refused) = s.gate(Some(&conversation)).await {
        return refused;
    }
    s.posted.fetch_add(1, Ordering::SeqCst);
    Json(json!({"id": "posted"})).into_response()
}

fn object_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let people = usize::try_from(arg(0, 10_000)).unwrap();
    let rate = usize::try_from(arg(1, 30)).unwrap();
    let latency = Duration::from_millis(arg(2, 100));

    let stand = Stand {
        rate,
        latency,
        people,
        tenant: Arc::default(),
        conversations: Arc::default(),
        requests: Arc::default(),
        refused: Arc::default(),
        posted: Arc::default(),
        first: Arc::default(),
        last: Arc::default(),
    };
    let app = Router::new()
        .route("/v3/conversations/{team}/pagedmembers", get(roster))
        .route("/v3/conversations", post(create))
        .route("/v3/conversations/{conv}/activities", post(activity))
        .with_state(stand.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service_url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });

    // The organisation, its accounts (never enrolled) and the bot's one conversation in the
    // tenant (where its serviceUrl comes from).
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/campaign.db?mode=rwc", dir.path().display());
    let config = dir.path().join("octopus.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[database]
url = "{db}"
[security]
secret_key = "{key}"
[demo]
seed = false
[[organisations]]
tenant_id = "{TENANT}"
slug = "bench"
name = "Bench"
portal_url = "https://bench.octopus-itsm.com/Web/Login.aspx"
sender = "Soutien TI <support@bench.example>"
time_zone = "America/Toronto"
default_locale = "fr-CA"
token_lifetime_minutes = 30
team_ids = ["{TEAM}"]
teams_requests_per_second = {rate}
"#,
            key = octopus_teams::service_key::ServiceKey::generate().to_base64(),
        ),
    )
    .unwrap();
    let mut csv = String::from("username,email,display_name,entra_object_id,upn,locale\n");
    for i in 0..people {
        csv.push_str(&format!(
            "p{i},p{i}@bench.example,P{i},{},p{i}@bench.example,\n",
            object_id(i)
        ));
    }
    let accounts = dir.path().join("accounts.csv");
    std::fs::write(&accounts, csv).unwrap();
    for args in [
        vec!["migrate"],
        vec![
            "users",
            "import",
            "--org",
            "bench",
            accounts.to_str().unwrap(),
        ],
    ] {
        let out = process::command()
            .arg("--config")
            .arg(&config)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut conn = SqliteConnection::connect(&db).await.unwrap();
    sqlx::query(
        "insert into bot_conversation (conversation_id, tenant_id, service_url, bot_id, \
         conversation_type, updated_at) values ('19:general@thread.tacv2', $1, $2, $3, 'channel', 0)",
    )
    .bind(TENANT)
    .bind(&service_url)
    .bind(BOT)
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    println!(
        "campaign: {people} people from the roster, Teams allows {rate} requests/s per tenant, \
         answers in {} ms",
        latency.as_millis()
    );
    let started = Instant::now();
    let mut child = tokio::process::Command::from(process::command())
        .arg("--config")
        .arg(&config)
        .args(["campaign", "enroll", "--org", "bench"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Progress on stderr, read while the summary (a line per person) comes on stdout.
    let mut progress = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let progress = tokio::spawn(async move {
        let mut last = String::new();
        while let Ok(Some(line)) = progress.next_line().await {
            if line.starts_with("campaign ") {
                println!("  | {line}");
                last = line;
            }
        }
        last
    });
    let out = child.wait_with_output().await.unwrap();
    let took = started.elapsed();
    let last_progress = progress.await.unwrap_or_default();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{summary}\n{last_progress}");

    let requests = stand.requests.load(Ordering::SeqCst);
    let refused = stand.refused.load(Ordering::SeqCst);
    let posted = stand.posted.load(Ordering::SeqCst);
    let window = match (*stand.first.lock().unwrap(), *stand.last.lock().unwrap()) {
        (Some(a), Some(b)) => b.duration_since(a),
        _ => Duration::ZERO,
    };
    let implied = requests.saturating_sub(1) as f64 / rate as f64;
    let used = requests.saturating_sub(1) as f64 / window.as_secs_f64().max(1e-9);
    for l in summary
        .lines()
        .filter(|l| !l.starts_with("  ") && !l.is_empty())
    {
        println!("  {l}");
    }
    println!(
        "  cards posted: {posted} of {people}; requests to the connector: {requests} \
         ({refused} answered 429)"
    );
    println!(
        "  first to last request: {:.1} s; the limits imply {implied:.1} s for {requests} requests \
         ({:.2}×); the whole command took {:.1} s",
        window.as_secs_f64(),
        window.as_secs_f64() / implied.max(1e-9),
        took.as_secs_f64()
    );
    println!(
        "  rate used: {used:.1} requests/s, {:.0}% of the {rate} allowed",
        used * 100.0 / rate as f64
    );
}
