//! Two instances of the release binary on one PostgreSQL database, each account asking for a
//! reset link once through `/forgot` (spread over both), an SMTP sink in this process taking the
//! mail. Prints reset requests per second to mail accepted, and the request → mail latency
//! (p50, p99, max). Figures only; nothing here asserts on time.
//!
//!     DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!         cargo bench --bench two_instances [-- ACCOUNTS CONCURRENCY]
//!
//! A database `octo_bench_<uuid>` is created on that server and dropped afterwards.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark prints its figures"
)]

use std::{
    collections::HashMap,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sqlx::{Connection, PgConnection};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

/// The binary and its clean command, shared with the integration tests.
#[path = "../tests/it/harness/process.rs"]
#[allow(
    dead_code,
    reason = "the bench starts its instances itself, with their output shown"
)]
mod process;

/// « Mot de passe oublié » as a browser sends it, shared with the integration tests.
#[path = "../tests/it/harness/forms.rs"]
mod forms;

/// When each recipient's mail was accepted (the relay's 250 after DATA).
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

/// A minimal SMTP relay: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, every answer positive.
async fn smtp_sink() -> (String, Arrivals) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let arrivals: Arrivals = Arc::default();
    let seen = arrivals.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 bench ESMTP\r\n").await;
                let mut rcpts = Vec::new();
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            let now = Instant::now();
                            {
                                let mut seen = seen.lock().unwrap();
                                for r in rcpts.drain(..) {
                                    seen.insert(r, now);
                                }
                            }
                            let _ = write.write_all(b"250 2.0.0 queued\r\n").await;
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let answer: &[u8] = if upper.starts_with("EHLO") {
                        b"250-bench\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        let to = line[8..].trim().trim_matches(['<', '>']).to_string();
                        rcpts.push(to.to_ascii_lowercase());
                        b"250 2.1.5 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        if upper.starts_with("RSET") {
                            rcpts.clear();
                        }
                        b"250 ok\r\n"
                    };
                    if write.write_all(answer).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (format!("smtp://{addr}"), arrivals)
}

fn octopus(db: &str, dir: &Path) -> Command {
    let mut cmd = process::command();
    cmd.current_dir(dir)
        .env("OCTOPUS__DATABASE__URL", db)
        .env("OCTOPUS__DEMO__SEED", "false")
        .env("OCTOPUS__METRICS__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn");
    cmd
}

fn serve(db: &str, dir: &Path, smtp: &str, key: &str) -> (Child, String) {
    let addr = process::free_addr();
    let child = octopus(db, dir)
        .arg("serve")
        .env("OCTOPUS__HTTP__LISTEN", addr.to_string())
        .env("OCTOPUS__HTTP__PUBLIC_BASE_URL", format!("http://{addr}"))
        .env("OCTOPUS__MAIL__TRANSPORT", smtp)
        .env("OCTOPUS__MAIL__POLL_INTERVAL_SECS", "1")
        .env("OCTOPUS__SECURITY__SECRET_KEY", key)
        .env("OCTOPUS__LIMITS__REQUESTS_PER_IP", "100000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the binary");
    (child, format!("http://{addr}"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let accounts = args.first().copied().unwrap_or(1000);
    let concurrency = args.get(1).copied().unwrap_or(32);
    let admin = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("octo_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("DATABASE_URL: a PostgreSQL server");
    sqlx::raw_sql(&format!("create database {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut db = url::Url::parse(&admin).unwrap();
    db.set_path(&format!("/{name}"));
    let db = db.to_string();

    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("accounts.csv");
    let mut rows = String::from("username,email,display_name,entra_object_id,upn,locale\n");
    for i in 0..accounts {
        rows.push_str(&format!("b{i:05},b{i:05}@bench.example,User {i},,,\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    for args in [
        vec!["migrate"],
        vec!["users", "import", csv.to_str().unwrap()],
    ] {
        let out = octopus(&db, dir.path()).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let (smtp, arrivals) = smtp_sink().await;
    let key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    };
    let (mut a, base_a) = serve(&db, dir.path(), &smtp, &key);
    let (mut b, base_b) = serve(&db, dir.path(), &smtp, &key);
    process::ready(&base_a, Duration::from_secs(60)).await;
    process::ready(&base_b, Duration::from_secs(60)).await;

    // Requests spread over both instances, `concurrency` in flight at a time.
    let started = Instant::now();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..accounts {
        let base = if i % 2 == 0 { &base_a } else { &base_b }.clone();
        let permit = semaphore.clone().acquire_owned().await.unwrap();
        tasks.spawn(async move {
            let user = format!("b{i:05}");
            let at = forms::forgot(&base, &user).await;
            drop(permit);
            (format!("{user}@bench.example"), at)
        });
    }
    let mut asked = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        let (to, at) = done.unwrap();
        asked.insert(to, at);
    }
    let requests_done = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(300);
    while arrivals.lock().unwrap().len() < accounts {
        assert!(
            Instant::now() < deadline,
            "only {} of {accounts} mails after 300 s",
            arrivals.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrived = arrivals.lock().unwrap().clone();
    let last_mail = arrived.values().max().copied().unwrap();
    let total = last_mail - started;
    let mut latencies: Vec<Duration> = asked
        .iter()
        .map(|(to, at)| arrived[to].saturating_duration_since(*at))
        .collect();
    latencies.sort();

    let _ = a.kill();
    let _ = b.kill();
    let _ = a.wait();
    let _ = b.wait();
    let _ = sqlx::raw_sql(&format!("drop database if exists {name} with (force)"))
        .execute(&mut conn)
        .await;

    println!(
        "two instances on one PostgreSQL: {accounts} accounts, {concurrency} requests in flight"
    );
    println!(
        "  requests answered in {:.2} s ({:.0} requests/s)",
        requests_done.as_secs_f64(),
        accounts as f64 / requests_done.as_secs_f64()
    );
    println!(
        "  last mail accepted after {:.2} s: {:.0} reset requests/s to mail accepted",
        total.as_secs_f64(),
        accounts as f64 / total.as_secs_f64()
    );
    println!(
        "  request → mail accepted: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0
    );
}
