#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]
//! Does `/forgot` answer as fast for an unknown username as for a real one? Prints the two
//! latency distributions (the real server on loopback, SQLite in a temp dir, mail to a folder).
//! Figures only: nothing here asserts on time.
//!
//!     cargo bench --bench request_timing [-- ROUNDS]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use octopus_teams::{app::Application, clock::SystemClock, config::Config};
use secrecy::SecretString;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut raw: octopus_teams::config::RawConfig = Config::figment(None).extract()?;
    raw.http.public_base_url = format!("http://{addr}");
    raw.database.url = SecretString::from(format!(
        "sqlite://{}/bench.db?mode=rwc",
        dir.path().display()
    ));
    raw.mail.transport = SecretString::from(format!("file:{}/mail", dir.path().display()));
    raw.security.secret_key = Some(SecretString::from(
        octopus_teams::service_key::ServiceKey::generate().to_base64(),
    ));
    raw.limits.requests_per_ip = u32::MAX;
    raw.metrics.listen = "127.0.0.1:0".into();
    raw.limits.requests_per_account = u32::MAX;
    let config = raw.validate()?;
    let app = Application::build_on(config, Arc::new(SystemClock), Some(listener)).await?;
    tokio::spawn(app.run_until(std::future::pending()));

    let client = reqwest::Client::builder().cookie_store(true).build()?;
    let base = format!("http://{addr}");
    let page = client
        .get(format!("{base}/forgot"))
        .send()
        .await?
        .text()
        .await?;
    let marker = "name=\"csrf\" value=\"";
    let start = page
        .find(marker)
        .map(|i| i + marker.len())
        .ok_or_else(|| anyhow::anyhow!("no csrf"))?;
    let csrf = page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string();

    let mut known = Vec::with_capacity(rounds);
    let mut unknown = Vec::with_capacity(rounds);
    for i in 0..rounds * 2 + 20 {
        let name = if i % 2 == 0 {
            "trej".to_string()
        } else {
            format!("nobody{i}")
        };
        let t = Instant::now();
        let res = client
            .post(format!("{base}/forgot"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("org", "demo"),
                ("username", name.as_str()),
            ])
            .send()
            .await?;
        let body = res.text().await?;
        let took = t.elapsed();
        anyhow::ensure!(body.contains("id=\"sent\""), "unexpected answer");
        if i < 20 {
            continue; // warm-up
        }
        if i % 2 == 0 {
            known.push(took)
        } else {
            unknown.push(took)
        }
    }
    report("existing account", &mut known);
    report("unknown username", &mut unknown);
    Ok(())
}

fn report(label: &str, v: &mut [Duration]) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |p: f64| ms(v[((v.len() as f64 * p) as usize).min(v.len() - 1)]);
    let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
    println!(
        "{label:<18} n={:<4} mean {mean:6.2} ms   p50 {:6.2}   p90 {:6.2}   p99 {:6.2}   max {:6.2}",
        v.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        ms(v[v.len() - 1])
    );
}
