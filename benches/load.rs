//! The load benchmark, in one command (`benches/load.sh`): the release service pinned to
//! core 0 (`taskset -c 0`), this driver and its stand-ins on core 1, and the same activities sent
//! to botbuilder-js 4.23.3 (benches/botbuilder-baseline) pinned the same way.
//!
//! Scenarios: start to ready; `invoke` adaptiveCard/action (no outbound call); channel `message`
//! answered with the help card through the connector; 128 connections (timeouts counted);
//! reset request → mail accepted by a local SMTP server (latency at 50 concurrent, then mails/s);
//! `/healthz` and `invoke` while 100 password changes hash. Every activity carries a real channel
//! token (RS256, key from the local issuer's JWKS), reused as the channel service does.
//!
//! Prints req/s, p50/p90/p99/max and the process's peak RSS for each scenario (the peak is reset
//! before each one through /proc/PID/clear_refs). Figures only: nothing asserts on time.
//!
//!     benches/load.sh [SECONDS_PER_SCENARIO]
//!
//! Profiling: `LOAD_ONLY=bot` runs only our bot scenarios (no start-up, mail, password changes
//! or botbuilder-js), `LOAD_ONLY=mail` only our mail and password-change ones, `LOAD_ONLY=ours`
//! all of ours; `LOAD_PERF=DIR` records each bot scenario and the sustained
//! mail one (`mail-2000`) with `perf record -g` attached
//! to the service (DIR/<scenario>.data; read it with
//! `perf report -i DIR/octopus-teams-invoke-32.data --no-children --percent-limit 1 --stdio`);
//! `LOAD_ONLY=scale` compares one instance on SQLite with instances on PostgreSQL
//! (`DATABASE_URL`, load/scale.rs);
//! `LOAD_SERVER=PATH` runs another build of the service (to compare two builds, alternating).

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark prints its figures"
)]

#[path = "load/scale.rs"]
mod scale;
#[path = "common/stand.rs"]
mod stand;

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use stand::{APP_ID, Stand, TENANT};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

const PASSWORD: &str = "Ornithorynque-Violet-4821";

// --- the processes under test -------------------------------------------------------------

struct Proc {
    name: &'static str,
    child: Child,
    base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ours(stand: &Stand, dir: &std::path::Path, smtp: u16) -> Proc {
    ours_on(stand, dir, smtp, None, "0")
}

/// The service on the CPUs `cores` (a `taskset -c` list), its data in `db` (a database URL) or,
/// without one, in a SQLite file in `dir`.
fn ours_on(stand: &Stand, dir: &std::path::Path, smtp: u16, db: Option<&str>, cores: &str) -> Proc {
    let port = stand::free_port();
    // LOAD_SERVER: another build of the service, to compare two builds in alternating runs.
    let bin = std::env::var("LOAD_SERVER")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_octopus-teams").to_string());
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", cores, &bin]);
    stand.service_env(&mut cmd, dir, port, &format!("smtp://127.0.0.1:{smtp}"));
    if let Some(db) = db {
        cmd.env("OCTOPUS__DATABASE__URL", db);
    }
    Proc {
        name: "octopus-teams",
        child: cmd.spawn().expect("start octopus-teams"),
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// The Entra object id of the person every bot activity comes from.
const OBJECT_ID: &str = "11111111-1111-1111-1111-111111111111";

/// `users import` of `n` accounts user0…user{n-1} before the service starts, and the account
/// linked to the Teams identity the bot scenarios' activities come from (`OBJECT_ID`): the
/// `forgot` invoke then finds it by its object id, as for a linked member of staff, with no
/// member look-up through the connector.
fn import_accounts(stand: &Stand, dir: &std::path::Path, smtp: u16, n: usize, db: Option<&str>) {
    let csv = dir.join("accounts.csv");
    let mut text = String::from("username,email,display_name,entra_object_id\n");
    for i in 0..n {
        text.push_str(&format!("user{i},user{i}@example.org,Usager {i},\n"));
    }
    text.push_str(&format!(
        "linked,linked@example.org,Julie Tremblay,{OBJECT_ID}\n"
    ));
    std::fs::write(&csv, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_octopus-teams"));
    stand.service_env(&mut cmd, dir, 0, &format!("smtp://127.0.0.1:{smtp}"));
    if let Some(db) = db {
        cmd.env("OCTOPUS__DATABASE__URL", db);
    }
    let status = cmd
        .args(["users", "import", "--org", "demo"])
        .arg(&csv)
        .status()
        .unwrap();
    assert!(status.success(), "users import failed");
}

fn sdk(stand: &Stand) -> Option<Proc> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/botbuilder-baseline");
    if !root.join("node_modules").is_dir() {
        println!("(botbuilder-js skipped: run `npm ci --prefix benches/botbuilder-baseline`)");
        return None;
    }
    let port = stand::free_port();
    let child = Command::new("taskset")
        .args(["-c", "0", "node"])
        .arg(root.join("bot.mjs"))
        .env("PORT", port.to_string())
        .env("MICROSOFT_APP_ID", APP_ID)
        .env("MICROSOFT_APP_PASSWORD", "bench-secret")
        .env("MICROSOFT_APP_TENANT_ID", TENANT)
        .env(
            "OPENID_METADATA_URL",
            format!("{}/v1/.well-known/openidconfiguration", stand.base),
        )
        .env("TOKEN_ISSUER", stand::ISSUER)
        .env(
            "TOKEN_URL",
            format!("{}/{TENANT}/oauth2/v2.0/token", stand.base),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node");
    Some(Proc {
        name: "botbuilder-js",
        child,
        base: format!("http://127.0.0.1:{port}"),
    })
}

/// (peak RSS, current RSS) in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let (_, peak, rss) = stand::usage(pid);
    (peak, rss)
}

/// Resets the process's peak RSS (VmHWM) to its current RSS.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

// --- activities ---------------------------------------------------------------------------

fn activity(stand: &Stand, kind: &str, n: usize) -> Value {
    let mut a = json!({
        "type": kind, "id": format!("load-{n}"), "channelId": "msteams",
        "serviceUrl": format!("{}/amer/", stand.base), "locale": "fr-CA",
        "from": {"id": format!("29:user{}", n % 50), "aadObjectId": OBJECT_ID},
        "recipient": {"id": format!("28:{APP_ID}")},
        "conversation": {"id": format!("a:user{}", n % 50), "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}}
    });
    if kind == "invoke" {
        a["name"] = json!("adaptiveCard/action");
        a["value"] = json!({"action": {"type": "Action.Execute", "verb": "forgot", "data": {}}, "trigger": "manual"});
    } else {
        a["text"] = json!("aide");
    }
    a
}

// --- the load driver ----------------------------------------------------------------------

#[derive(Default)]
struct Stats {
    latencies: Vec<Duration>,
    statuses: HashMap<u16, usize>,
    errors: usize,
    timeouts: usize,
    elapsed: Duration,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.latencies.extend(other.latencies);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.errors += other.errors;
        self.timeouts += other.timeouts;
    }

    fn line(&mut self, label: &str, peak: f64, rss: f64) -> String {
        self.latencies.sort();
        let n = self.latencies.len().max(1);
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p = |q: f64| {
            self.latencies
                .get(((n as f64 * q) as usize).min(n - 1))
                .map_or(0.0, |d| ms(*d))
        };
        let mut statuses: Vec<_> = self.statuses.iter().collect();
        statuses.sort();
        let statuses: Vec<String> = statuses.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        format!(
            "{label:<44} {:>9.0} {:>7.2} {:>7.2} {:>7.2} {:>8.2} {:>8.1} {:>7.1}  {} err {} timeouts {}",
            self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9),
            p(0.5),
            p(0.9),
            p(0.99),
            self.latencies.last().map_or(0.0, |d| ms(*d)),
            peak,
            rss,
            statuses.join(" "),
            self.errors,
            self.timeouts,
        )
    }
}

fn header() {
    println!(
        "{:<44} {:>9} {:>7} {:>7} {:>7} {:>8} {:>8} {:>7}  statuses",
        "scenario", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "peak MiB", "rss MiB"
    );
}

fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// `connections` clients, each one request at a time, for `secs`; `body(i)` is the i-th body.
async fn drive(
    url: &str,
    token: Option<&str>,
    connections: usize,
    secs: f64,
    body: Arc<dyn Fn(usize) -> Option<String> + Send + Sync>,
) -> Stats {
    let http = client(connections);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (http, url, token, next, body) = (
            http.clone(),
            url.to_string(),
            token.map(str::to_string),
            next.clone(),
            body.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let mut req = match body(i) {
                    Some(b) => http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(b),
                    None => http.get(&url),
                };
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let t = Instant::now();
                match req.send().await {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let _ = res.bytes().await;
                        stats.latencies.push(t.elapsed());
                        *stats.statuses.entry(status).or_default() += 1;
                    }
                    Err(e) if e.is_timeout() => stats.timeouts += 1,
                    Err(_) => stats.errors += 1,
                }
            }
            stats
        }));
    }
    let mut all = Stats::default();
    for w in workers {
        all.merge(w.await.unwrap());
    }
    all.elapsed = start.elapsed();
    all
}

async fn wait_ready(url: &str, limit: Duration) -> Duration {
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{url} not ready");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// invoke, message (+ connector replies), and 128 connections, against one bot.
async fn bot_scenarios(bot: &Proc, stand: &Stand, token: &str, secs: f64, first: usize) {
    let url = format!("{}/api/messages", bot.base);
    let pid = bot.child.id();
    // Warm-up: keys, app token, JIT for Node.
    let warm = {
        let stand = stand.clone();
        Arc::new(move |i: usize| {
            let kind = if i.is_multiple_of(2) {
                "invoke"
            } else {
                "message"
            };
            Some(activity(&stand, kind, first + 10_000_000 + i).to_string())
        })
    };
    drive(&url, Some(token), 8, secs.min(3.0), warm).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    for (label, kind, connections) in [
        ("invoke adaptiveCard/action, 32 conns", "invoke", 32),
        ("message « aide » + card reply, 32 conns", "message", 32),
        ("invoke, 128 conns", "invoke", 128),
    ] {
        reset_peak(pid);
        let replies_before = stand.replies.load(Ordering::SeqCst);
        let stand2 = stand.clone();
        let offset = first + connections * 1_000_000 + if kind == "invoke" { 0 } else { 500_000 };
        let body = Arc::new(move |i: usize| Some(activity(&stand2, kind, offset + i).to_string()));
        let cpu_before = stand::usage(pid).0;
        let perf = record(pid, &format!("{}-{kind}-{connections}", bot.name));
        let mut stats = drive(&url, Some(token), connections, secs, body).await;
        stop_recording(perf);
        if kind == "message" {
            // A turn is complete when the connector has its reply.
            let answered = stats.latencies.len();
            let start = Instant::now();
            while stand.replies.load(Ordering::SeqCst) < replies_before + answered
                && start.elapsed() < Duration::from_secs(30)
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            stats.elapsed += start.elapsed();
        }
        let (peak, rss) = memory(pid);
        // The service's CPU time per request: unlike req/s, hardly moved by other work on
        // the machine (a busy machine takes the core away, it does not make a request cost more).
        let cpu = stand::usage(pid).0 - cpu_before;
        println!(
            "{}  cpu {:.0} µs/req",
            stats.line(&format!("{} {label}", bot.name), peak, rss),
            cpu * 1e6 / stats.latencies.len().max(1) as f64
        );
    }
}

/// `perf record -g` attached to `pid` when LOAD_PERF names a directory.
fn record(pid: u32, name: &str) -> Option<Child> {
    let dir = std::env::var("LOAD_PERF").ok()?;
    std::fs::create_dir_all(&dir).ok()?;
    Command::new("perf")
        .args([
            "record",
            "-q",
            "-F",
            "2999",
            "-g",
            "-p",
            &pid.to_string(),
            "-o",
        ])
        .arg(format!("{dir}/{name}.data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// Ends a `record` (SIGINT, so perf writes its file) and waits for it.
fn stop_recording(perf: Option<Child>) {
    if let Some(mut perf) = perf {
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
    }
}

/// `LOAD_ONLY`: `bot` (our bot scenarios), `mail` (our mail scenarios), `ours` (all of ours, no
/// botbuilder-js), or unset (everything).
fn only(part: &str) -> bool {
    std::env::var("LOAD_ONLY").is_ok_and(|v| v == part)
}

fn only_bot() -> bool {
    only("bot")
}

// --- mail ---------------------------------------------------------------------------------

/// A local SMTP server that accepts everything at once and notes when each recipient's mail
/// was accepted (the reply to the final `.`), with the message.
#[derive(Clone, Default)]
struct Sink {
    arrived: Arc<Mutex<HashMap<String, (Instant, String)>>>,
}

impl Sink {
    async fn start(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = self.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let _ = socket.set_nodelay(true);
                let sink = sink.clone();
                tokio::spawn(async move { sink.session(socket).await });
            }
        });
        port
    }

    async fn session(&self, socket: tokio::net::TcpStream) -> Option<()> {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink ESMTP\r\n").await.ok()?;
        let mut rcpt = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            } else if upper.starts_with("RCPT TO:") {
                rcpt = line[8..].trim().trim_matches(['<', '>']).to_string();
                b"250 ok\r\n"
            } else if upper.starts_with("DATA") {
                write.write_all(b"354 go\r\n").await.ok()?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.ok()? == 0 {
                        return None;
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    data.push_str(&line);
                }
                self.arrived
                    .lock()
                    .unwrap()
                    .insert(rcpt.clone(), (Instant::now(), data));
                b"250 queued\r\n"
            } else if upper.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await.ok()?;
                return Some(());
            } else {
                b"250 ok\r\n"
            };
            write.write_all(reply).await.ok()?;
        }
    }

    fn count(&self) -> usize {
        self.arrived.lock().unwrap().len()
    }
}

/// `/forgot` for user{from}…user{to-1}, `concurrency` at a time, spread over `bases` (instances
/// sharing one key, so the form's CSRF cookie is good on each). Returns the HTTP stats and,
/// per username, when its request was sent.
async fn forgot(
    bases: &[&str],
    from: usize,
    to: usize,
    concurrency: usize,
) -> (Stats, HashMap<String, Instant>) {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let page = http
        .get(format!("{}/forgot", bases[0]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = stand::csrf_of(&page);
    let next = Arc::new(AtomicUsize::new(from));
    let sent = Arc::new(Mutex::new(HashMap::new()));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, next, sent, csrf) = (http.clone(), next.clone(), sent.clone(), csrf.clone());
        let urls: Vec<String> = bases.iter().map(|b| format!("{b}/forgot")).collect();
        workers.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= to {
                    break stats;
                }
                let user = format!("user{i}");
                let t = Instant::now();
                sent.lock()
                    .unwrap()
                    .insert(format!("{user}@example.org"), t);
                let res = http
                    .post(&urls[i % urls.len()])
                    .form(&[
                        ("csrf", csrf.as_str()),
                        ("org", "demo"),
                        ("username", &user),
                    ])
                    .send()
                    .await;
                match res {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let _ = r.bytes().await;
                        stats.latencies.push(t.elapsed());
                        *stats.statuses.entry(status).or_default() += 1;
                    }
                    Err(_) => stats.errors += 1,
                }
            }
        }));
    }
    let mut all = Stats::default();
    for w in workers {
        all.merge(w.await.unwrap());
    }
    all.elapsed = start.elapsed();
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    (all, sent)
}

async fn wait_mails(sink: &Sink, n: usize) {
    let start = Instant::now();
    while sink.count() < n && start.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Request → mail accepted, per recipient in `sent`.
fn mail_latency(sink: &Sink, sent: &HashMap<String, Instant>) -> Stats {
    let arrived = sink.arrived.lock().unwrap();
    let mut stats = Stats::default();
    for (to, t0) in sent {
        match arrived.get(to) {
            Some((t1, _)) => stats.latencies.push(t1.saturating_duration_since(*t0)),
            None => stats.errors += 1,
        }
    }
    stats
}

/// The reset link in a mail (quoted-printable text part).
fn reset_link(data: &str, base: &str) -> Option<String> {
    let parsed = mailparse::parse_mail(data.as_bytes()).ok()?;
    let text = parsed
        .subparts
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")?
        .get_body()
        .ok()?;
    let prefix = format!("{base}/reset/");
    let start = text.find(&prefix)?;
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    Some(link.trim_end_matches("/cancel").to_string())
}

/// One password change through its reset link (its own cookie jar: GET the form, POST it).
async fn change_password(link: String) -> u16 {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let Ok(page) = http.get(&link).send().await else {
        return 0;
    };
    let page = page.text().await.unwrap_or_default();
    if !page.contains("name=\"csrf\"") {
        return 1;
    }
    let csrf = stand::csrf_of(&page);
    http.post(&link)
        .form(&[
            ("csrf", csrf.as_str()),
            ("password", PASSWORD),
            ("confirmation", PASSWORD),
        ])
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

async fn service_scenarios(stand: &Stand, token: &str, secs: f64) {
    let sink = Sink::default();
    let smtp = sink.start().await;

    // Start to ready: a fresh SQLite file each time (migrations applied at start).
    let mut starts = Vec::new();
    for _ in 0..if only_bot() || only("mail") { 0 } else { 5 } {
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let p = ours(stand, dir.path(), smtp);
        wait_ready(&format!("{}/readyz", p.base), Duration::from_secs(30)).await;
        starts.push(t.elapsed());
        drop(p);
    }
    let mut s = Stats {
        latencies: starts,
        elapsed: Duration::from_secs(1),
        ..Stats::default()
    };
    println!(
        "{}",
        s.line("octopus-teams start → /readyz 200 (5 fresh DBs)", 0.0, 0.0)
    );

    let dir = tempfile::tempdir().unwrap();
    let accounts = 2400;
    import_accounts(stand, dir.path(), smtp, accounts, None);
    let p = ours(stand, dir.path(), smtp);
    wait_ready(&format!("{}/readyz", p.base), Duration::from_secs(30)).await;
    let pid = p.child.id();
    if !only("mail") {
        bot_scenarios(&p, stand, token, secs, 0).await;
    }
    if only_bot() {
        return;
    }

    // Reset request → mail accepted at 50 concurrent.
    reset_peak(pid);
    let (mut http, sent) = forgot(&[&p.base], 0, 200, 50).await;
    let (peak, rss) = memory(pid);
    println!(
        "{}",
        http.line("/forgot answered, 200 × 50 concurrent", peak, rss)
    );
    wait_mails(&sink, 200).await;
    let mut mail = mail_latency(&sink, &sent);
    mail.elapsed = http.elapsed;
    println!(
        "{}",
        mail.line("/forgot → mail accepted by SMTP (latency)", peak, rss)
    );

    // Sustained: 2,000 requests at 50 concurrent, mails per second at the SMTP server.
    reset_peak(pid);
    let perf = record(pid, "mail-2000");
    let (mut http, sent) = forgot(&[&p.base], 200, 2200, 50).await;
    wait_mails(&sink, 2200).await;
    stop_recording(perf);
    let mut mail = mail_latency(&sink, &sent);
    let (first, last) = {
        let arrived = sink.arrived.lock().unwrap();
        let times: Vec<Instant> = sent
            .keys()
            .filter_map(|k| arrived.get(k))
            .map(|a| a.0)
            .collect();
        (times.iter().min().copied(), times.iter().max().copied())
    };
    let (peak, rss) = memory(pid);
    println!(
        "{}",
        http.line("/forgot answered, 2000 × 50 concurrent", peak, rss)
    );
    let window = match (first, last) {
        (Some(a), Some(b)) => b.duration_since(a),
        _ => Duration::from_secs(1),
    };
    mail.elapsed = window;
    println!(
        "{}",
        mail.line("mails accepted by SMTP (req/s = mails/s)", peak, rss)
    );

    // /healthz and invoke while 100 password changes hash.
    let links: Vec<String> = {
        let arrived = sink.arrived.lock().unwrap();
        (0..100)
            .filter_map(|i| arrived.get(&format!("user{i}@example.org")))
            .filter_map(|(_, data)| reset_link(data, &p.base))
            .collect()
    };
    reset_peak(pid);
    let changes_start = Instant::now();
    let changes = tokio::spawn(async move {
        let mut set = tokio::task::JoinSet::new();
        for link in links {
            set.spawn(change_password(link));
        }
        let mut statuses: HashMap<u16, usize> = HashMap::new();
        while let Some(s) = set.join_next().await {
            *statuses.entry(s.unwrap_or(0)).or_default() += 1;
        }
        (statuses, changes_start.elapsed())
    });
    // Measured while the changes run (they take longer than this window on one core).
    let window = 2.0_f64.min(secs);
    let health_url = format!("{}/healthz", p.base);
    let api = format!("{}/api/messages", p.base);
    let stand2 = stand.clone();
    let invoke_body =
        Arc::new(move |i: usize| Some(activity(&stand2, "invoke", 90_000_000 + i).to_string()));
    let (mut health, mut invoke) = tokio::join!(
        drive(&health_url, None, 2, window, Arc::new(|_| None)),
        drive(&api, Some(token), 2, window, invoke_body),
    );
    let (statuses, took) = changes.await.unwrap();
    let (peak, rss) = memory(pid);
    println!(
        "{}",
        health.line("/healthz while 100 password changes hash", peak, rss)
    );
    println!(
        "{}",
        invoke.line("invoke while 100 password changes hash", peak, rss)
    );
    println!(
        "  (100 password changes: {:.2} s, answers {:?})",
        took.as_secs_f64(),
        statuses
    );
    drop(p);
}

#[tokio::main]
async fn main() {
    let secs: f64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(10.0);
    let stand = stand::stand_ins().await;
    let token = stand.channel_token();
    println!(
        "load benchmark: server on core 0, this driver on core {}, {secs} s per scenario",
        std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("Cpus_allowed_list"))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
            .unwrap_or_else(|| "?".into())
    );
    if only("scale") {
        scale::scale_out(&stand, &token, secs).await;
        return;
    }
    header();
    service_scenarios(&stand, &token, secs).await;
    if only_bot() || only("mail") || only("ours") {
        return;
    }
    if let Some(node) = sdk(&stand) {
        wait_ready_post(&node, &stand, &token).await;
        bot_scenarios(&node, &stand, &token, secs, 500_000_000).await;
    }
}

/// botbuilder-js has no health route: it is ready when it answers an activity.
async fn wait_ready_post(bot: &Proc, stand: &Stand, token: &str) {
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let ok = http
            .post(format!("{}/api/messages", bot.base))
            .bearer_auth(token)
            .json(&activity(stand, "message", 999_999_999))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "node did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
