//! Scaling out (`LOAD_ONLY=scale`): the same burst of reset requests against one instance on
//! SQLite and two instances on one PostgreSQL database, then the same bot invokes against one
//! instance of each, in one run with one client, then the ratios.
//!
//! The burst: each of `SCALE_ACCOUNTS` accounts (600) asks for a link once through `/forgot`,
//! `SCALE_CLIENTS` (32) in flight, spread over the instances; it is done when the SMTP stand-in
//! has accepted every mail. Mails/s is accounts ÷ (last mail accepted − first request sent).
//! The invoke: `adaptiveCard/action` « forgot » from 32 connections for the scenario's seconds.
//!
//! Each burst also prints the CPU time per reset request of the service instances and of the
//! PostgreSQL server (every process named `postgres` on this machine).
//!
//! The services run on every CPU (`taskset -c 0-N`), not pinned to one: two instances and the
//! database share the machine, as they would a host. `DATABASE_URL` names the PostgreSQL server
//! (an admin URL; a database `octo_bench_<uuid>` is created there and dropped afterwards).

use sqlx::{Connection, PgConnection};

use super::*;

/// A fresh PostgreSQL database for one setup, dropped with `drop_now`.
struct PgDb {
    admin: PgConnection,
    name: String,
    url: String,
}

impl PgDb {
    async fn create() -> Self {
        let admin_url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("DATABASE_URL: a PostgreSQL server");
        let name = format!("octo_bench_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(&format!("create database {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        Self {
            admin,
            name,
            url: url.to_string(),
        }
    }

    async fn drop_now(mut self) {
        let _ = sqlx::raw_sql(&format!(
            "drop database if exists {} with (force)",
            self.name
        ))
        .execute(&mut self.admin)
        .await;
    }
}

/// What one burst showed.
struct Burst {
    answered_per_s: f64,
    mails_per_s: f64,
    latency: Stats,
    /// CPU time per reset request: the service instances', the database server's.
    service_cpu: Duration,
    database_cpu: Duration,
}

/// CPU seconds used so far by every process named `postgres` (the server and its backends).
fn postgres_cpu() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| stand::usage(pid).0)
        .sum()
}

impl Burst {
    fn print(&mut self, label: &str) {
        let l = &mut self.latency;
        l.latencies.sort();
        let ms = |q: f64| {
            let n = l.latencies.len().max(1);
            l.latencies
                .get(((n as f64 * q).ceil() as usize).clamp(1, n) - 1)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "  {label:<34} {:>10.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>5} {:>9.0} {:>9.0}",
            self.answered_per_s,
            self.mails_per_s,
            ms(0.5),
            ms(0.99),
            ms(1.0),
            l.errors,
            self.service_cpu.as_secs_f64() * 1e6,
            self.database_cpu.as_secs_f64() * 1e6,
        );
    }

    fn p99(&mut self) -> f64 {
        self.latency.latencies.sort();
        let n = self.latency.latencies.len().max(1);
        self.latency
            .latencies
            .get(((n as f64 * 0.99).ceil() as usize).clamp(1, n) - 1)
            .map_or(0.0, Duration::as_secs_f64)
    }
}

async fn burst(instances: &[&Proc], accounts: usize, clients: usize, sink: &Sink) -> Burst {
    let bases: Vec<&str> = instances.iter().map(|p| p.base.as_str()).collect();
    let service_cpu = || -> f64 { instances.iter().map(|p| stand::usage(p.child.id()).0).sum() };
    let (service_before, database_before) = (service_cpu(), postgres_cpu());
    let start = Instant::now();
    let (http, sent) = forgot(&bases, 0, accounts, clients).await;
    wait_mails(sink, accounts).await;
    let last = {
        let arrived = sink.arrived.lock().unwrap();
        sent.keys()
            .filter_map(|k| arrived.get(k).map(|a| a.0))
            .max()
            .unwrap_or(start)
    };
    let per_request = |secs: f64| Duration::from_secs_f64(secs.max(0.0) / accounts.max(1) as f64);
    Burst {
        answered_per_s: http.latencies.len() as f64 / http.elapsed.as_secs_f64().max(1e-9),
        mails_per_s: accounts as f64 / last.duration_since(start).as_secs_f64().max(1e-9),
        latency: mail_latency(sink, &sent),
        service_cpu: per_request(service_cpu() - service_before),
        database_cpu: per_request(postgres_cpu() - database_before),
    }
}

/// Invokes from 32 connections for `secs`: (req/s, p99 s, the service's CPU µs per request).
async fn invokes(p: &Proc, stand: &Stand, token: &str, secs: f64, first: usize) -> (f64, f64) {
    let url = format!("{}/api/messages", p.base);
    let warm = {
        let stand = stand.clone();
        Arc::new(move |i: usize| Some(activity(&stand, "invoke", first + i).to_string()))
    };
    drive(&url, Some(token), 8, secs.min(2.0), warm).await;
    let body = {
        let stand = stand.clone();
        Arc::new(move |i: usize| {
            Some(activity(&stand, "invoke", first + 1_000_000 + i).to_string())
        })
    };
    let pid = p.child.id();
    let cpu_before = stand::usage(pid).0;
    let perf = record(pid, &format!("scale-invoke-{}", first / 10_000_000));
    let mut stats = drive(&url, Some(token), 32, secs, body).await;
    stop_recording(perf);
    let cpu = stand::usage(pid).0 - cpu_before;
    let rate = stats.latencies.len() as f64 / stats.elapsed.as_secs_f64().max(1e-9);
    let line = stats.line(&format!("  invoke, 32 conns: {}", p.name), 0.0, 0.0);
    println!(
        "{line}  cpu {:.0} µs/req",
        cpu * 1e6 / stats.latencies.len().max(1) as f64
    );
    stats.latencies.sort();
    let n = stats.latencies.len().max(1);
    let p99 = stats
        .latencies
        .get(((n as f64 * 0.99) as usize).min(n - 1))
        .map_or(0.0, Duration::as_secs_f64);
    (rate, p99)
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub async fn scale_out(stand: &Stand, token: &str, secs: f64) {
    let accounts = setting("SCALE_ACCOUNTS", 600);
    let clients = setting("SCALE_CLIENTS", 32);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cores = format!("0-{}", cpus.max(2) - 1);
    println!(
        "scale-out: burst of {accounts} reset requests, {clients} in flight; services on CPUs {cores}"
    );
    println!(
        "  {:<34} {:>10} {:>8} {:>8} {:>8} {:>8} {:>5} {:>9} {:>9}",
        "setup",
        "answered/s",
        "mails/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "lost",
        "svc µs/r",
        "db µs/r"
    );

    // One instance on SQLite.
    let sink = Sink::default();
    let smtp = sink.start().await;
    let dir = tempfile::tempdir().unwrap();
    import_accounts(stand, dir.path(), smtp, accounts, None);
    let mut one = ours_on(stand, dir.path(), smtp, None, &cores);
    one.name = "one instance, SQLite";
    wait_ready(&format!("{}/readyz", one.base), Duration::from_secs(30)).await;
    let mut sqlite = burst(&[&one], accounts, clients, &sink).await;
    sqlite.print("one instance, SQLite");

    // Two instances on one PostgreSQL database.
    let pg = PgDb::create().await;
    let sink = Sink::default();
    let smtp = sink.start().await;
    let dir_pg = tempfile::tempdir().unwrap();
    import_accounts(stand, dir_pg.path(), smtp, accounts, Some(&pg.url));
    let mut a = ours_on(stand, dir_pg.path(), smtp, Some(&pg.url), &cores);
    a.name = "one instance, PostgreSQL";
    let b = ours_on(stand, dir_pg.path(), smtp, Some(&pg.url), &cores);
    wait_ready(&format!("{}/readyz", a.base), Duration::from_secs(30)).await;
    wait_ready(&format!("{}/readyz", b.base), Duration::from_secs(30)).await;
    let mut two = burst(&[&a, &b], accounts, clients, &sink).await;
    two.print("two instances, one PostgreSQL");
    drop(b);

    println!(
        "  two instances on PostgreSQL ÷ one on SQLite: mails/s {:.2}× (target ≥ 1.0×), \
         request → mail p99 {:.2}× (target ≤ 1.5×)",
        two.mails_per_s / sqlite.mails_per_s,
        two.p99() / sqlite.p99().max(1e-9)
    );

    // The bot's invoke path, one instance each.
    let (lite_rate, lite_p99) = invokes(&one, stand, token, secs, 10_000_000).await;
    drop(one);
    let (pg_rate, pg_p99) = invokes(&a, stand, token, secs, 20_000_000).await;
    drop(a);
    println!(
        "  one instance on PostgreSQL ÷ on SQLite, invoke: req/s {:.2}× (target ≥ 0.77×), \
         p99 {:.2}× (target ≤ 1.3×)",
        pg_rate / lite_rate,
        pg_p99 / lite_p99.max(1e-9)
    );
    pg.drop_now().await;
}
