//! The bot endpoint against the official Bot Framework SDK (botbuilder-js, in
//! benches/botbuilder-baseline), doing the same work: authenticate the channel token (keys from
//! the OpenID metadata), answer « aide » with the welcome Adaptive Card, reply through the Bot
//! Connector with an app token. Both run as their own process behind the same local stand-ins
//! (issuer, token endpoint, connector), on loopback, with the same activities.
//!
//! Prints, per bot: HTTP answer latency, time until the connector received every reply, CPU
//! seconds used by the bot's process, and its peak resident memory. Figures only; nothing here
//! asserts on time.
//!
//!     npm ci --prefix benches/botbuilder-baseline
//!     cargo bench --bench bot_endpoint [-- REQUESTS CONCURRENCY]

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark prints its figures"
)]

#[path = "common/stand.rs"]
mod stand;

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use stand::{APP_ID, ISSUER, Stand, TENANT, free_port, usage};

struct Bot {
    name: &'static str,
    child: Child,
    url: String,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ours(stand: &Stand, dir: &std::path::Path) -> Bot {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_octopus-teams"));
    stand.service_env(&mut cmd, dir, port, &format!("file:{}/mail", dir.display()));
    let child = cmd.spawn().expect("start octopus-teams");
    Bot {
        name: "octopus-teams (Rust)",
        child,
        url: format!("http://127.0.0.1:{port}/api/messages"),
    }
}

fn sdk(stand: &Stand) -> Option<Bot> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/botbuilder-baseline");
    if !root.join("node_modules").is_dir() {
        println!(
            "(botbuilder baseline skipped: run `npm ci --prefix benches/botbuilder-baseline`)"
        );
        return None;
    }
    let port = free_port();
    let child = Command::new("node")
        .arg(root.join("bot.mjs"))
        .env("PORT", port.to_string())
        .env("MICROSOFT_APP_ID", APP_ID)
        .env("MICROSOFT_APP_PASSWORD", "bench-secret")
        .env("MICROSOFT_APP_TENANT_ID", TENANT)
        .env(
            "OPENID_METADATA_URL",
            format!("{}/v1/.well-known/openidconfiguration", stand.base),
        )
        .env("TOKEN_ISSUER", ISSUER)
        .env(
            "TOKEN_URL",
            format!("{}/{TENANT}/oauth2/v2.0/token", stand.base),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node");
    Some(Bot {
        name: "botbuilder-js 4.23.3 (Node)",
        child,
        url: format!("http://127.0.0.1:{port}/api/messages"),
    })
}

fn activity(stand: &Stand, n: usize) -> Value {
    json!({
        "type": "message", "id": format!("bench-{n}"), "channelId": "msteams",
        "serviceUrl": format!("{}/amer/", stand.base), "text": "aide", "locale": "fr-CA",
        "from": {"id": format!("29:user{}", n % 50), "aadObjectId": "11111111-1111-1111-1111-111111111111"},
        "recipient": {"id": format!("28:{APP_ID}")},
        "conversation": {"id": format!("a:user{}", n % 50), "conversationType": "personal", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}}
    })
}

async fn run(
    bot: &Bot,
    stand: &Stand,
    token: &str,
    requests: usize,
    concurrency: usize,
    first_id: usize,
) -> String {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    // Ready, and warmed up (keys and app token fetched).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = client
            .post(&bot.url)
            .bearer_auth(token)
            .json(&activity(stand, first_id))
            .send()
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "{} did not come up", bot.name);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for i in 1..=50 {
        client
            .post(&bot.url)
            .bearer_auth(token)
            .json(&activity(stand, first_id + i))
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let pid = bot.child.id();
    let (cpu0, _, _) = usage(pid);
    let before = stand.replies.load(Ordering::SeqCst);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, url, token, next, stand) = (
            client.clone(),
            bot.url.clone(),
            token.to_string(),
            next.clone(),
            stand.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= requests {
                    break lat;
                }
                let body = activity(&stand, first_id + 100 + i);
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert!(res.status().is_success(), "{}", res.status());
                let _ = res.bytes().await;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for w in workers {
        lat.extend(w.await.unwrap());
    }
    let answered = start.elapsed();
    while stand.replies.load(Ordering::SeqCst) < before + requests {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "replies missing"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let replied = start.elapsed();
    let (cpu1, peak, rss) = usage(pid);
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| ms(lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)]);
    format!(
        "{:<28} {:>8.0} {:>7.2} {:>7.2} {:>7.2} {:>10.2} {:>9.0} {:>9.3} {:>8.1} {:>8.1}",
        bot.name,
        requests as f64 / replied.as_secs_f64(),
        p(0.5),
        p(0.99),
        lat.iter().map(|d| ms(*d)).sum::<f64>() / lat.len() as f64,
        replied.as_secs_f64(),
        requests as f64 / answered.as_secs_f64(),
        (cpu1 - cpu0) / requests as f64 * 1000.0,
        peak,
        rss
    )
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let requests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let stand = stand::stand_ins().await;
    let token = stand.channel_token();
    let dir = tempfile::tempdir().unwrap();

    println!(
        "{requests} authenticated « aide » activities, {concurrency} at a time, each answered with the welcome card through the connector"
    );
    println!(
        "{:<28} {:>8} {:>7} {:>7} {:>7} {:>10} {:>9} {:>9} {:>8} {:>8}",
        "bot",
        "turns/s",
        "p50 ms",
        "p99 ms",
        "avg ms",
        "all done s",
        "acks/s",
        "cpu ms/turn",
        "peak MiB",
        "rss MiB"
    );
    let rust = ours(&stand, dir.path());
    println!(
        "{}",
        run(&rust, &stand, &token, requests, concurrency, 0).await
    );
    drop(rust);
    if let Some(node) = sdk(&stand) {
        println!(
            "{}",
            run(&node, &stand, &token, requests, concurrency, 1_000_000).await
        );
    }
    println!(
        "turns/s: complete turns (reply received by the connector) per second; p50/p99/avg: HTTP answer latency;"
    );
    println!(
        "cpu ms/turn: user+system CPU of the bot's process per turn; peak/rss: the bot process's VmHWM / VmRSS after the run."
    );
}
