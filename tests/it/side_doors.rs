//! What the service tells through its side doors: the metrics, the demo data, the logs. None of
//! them may tell whether a username or an address is an account, seed made-up people into a real
//! organisation, or let a value from outside forge a log line.

use std::{collections::BTreeMap, process::Stdio, time::Duration};

use serde_json::{Value, json};

use crate::{
    harness::{Activity, METRICS_TOKEN, TestApp, TestDb, card_action, process},
    username_reminder::remind,
};

const WAIT: Duration = Duration::from_secs(10);

/// Every sample of the exposition that counts something (counters, gauges, histogram counts),
/// keyed by name and labels; histogram buckets and sums (durations) are left out.
fn counted(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(key, _)| {
            let name = key.split('{').next().unwrap_or_default();
            !name.ends_with("_bucket") && !name.ends_with("_sum")
        })
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The bot's request form submitted by Julie for `username` (not necessarily hers).
fn bot_form(app: &TestApp, username: &str) -> Value {
    card_action(
        &app.connector.service_url,
        "submit",
        json!({"purpose": "reset", "username": username}),
    )
}

/// One person's whole journey through every surface that takes a username or an address:
/// « mot de passe oublié », « M'inscrire », « Nom d'utilisateur oublié ? », the bot's form and the
/// tab's form.
async fn journey(app: &TestApp, username: &str, email: &str) {
    assert_eq!(app.request_link("reset", username).await.status(), 200);
    assert_eq!(app.request_link("enroll", username).await.status(), 200);
    assert_eq!(remind(app, email, "fr-CA").await.status(), 200);
    assert_eq!(app.bot(&bot_form(app, username)).await.status(), 200);
    let tab = app
        .client
        .post(app.url("/api/tab/request"))
        .header("x-octopus-tab", "1")
        .json(&json!({"purpose": "reset", "username": username, "org": "demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(tab.status(), 200);
}

/// Publication boundaries follow the clock, which starts from the wall clock: an interval of
/// ten years keeps the next one out of any test's way (a test crosses it by advancing the clock).
const TEN_YEARS: u64 = 10 * 365 * 86_400;

async fn spawn_for_metrics() -> TestApp {
    TestApp::builder()
        .config(|c| {
            c.limits.requests_per_account = 100;
            c.metrics.publish_interval_secs = TEN_YEARS;
        })
        .spawn()
        .await
}

#[tokio::test]
async fn metrics_do_not_tell_a_known_username_or_address_from_an_unknown_one() {
    let (known, unknown) = tokio::join!(spawn_for_metrics(), spawn_for_metrics());
    journey(&known, "gagm", "marc.gagnon@cegepsi.ca").await;
    journey(&unknown, "nobody", "nobody@cegepsi.ca").await;
    // The known one's mails (reset, enrolment, reminder, bot, tab) have all left.
    assert_eq!(known.smtp.wait_for(5, WAIT).await.len(), 5);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(unknown.smtp.received().is_empty());

    let (k, u) = (known.metrics().await, unknown.metrics().await);
    let (k, u) = (counted(&k), counted(&u));
    assert!(
        k.keys().any(|n| n.starts_with("octopus_events_total")),
        "events are counted: {k:#?}"
    );
    assert!(k.keys().any(|n| n.starts_with("octopus_mail_sent_total")));
    let differ: Vec<_> = k
        .keys()
        .chain(u.keys())
        .filter(|n| k.get(*n) != u.get(*n))
        .map(|n| format!("{n}: known {:?}, unknown {:?}", k.get(n), u.get(n)))
        .collect();
    assert!(
        differ.is_empty(),
        "series that tell the two apart:\n{}",
        differ.join("\n")
    );

    // Without the token, the public listener says nothing.
    for app in [&known, &unknown] {
        let (status, body) = app.get("/metrics").await;
        assert_eq!(status, 401);
        assert!(!body.contains("octopus_"), "{body}");
        let wrong = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth(format!("{METRICS_TOKEN}x"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
    }
}

#[tokio::test]
async fn an_address_shared_by_two_accounts_counts_as_one_request() {
    let (one, two) = tokio::join!(spawn_for_metrics(), spawn_for_metrics());
    two.import(
        "username,email,display_name,entra_object_id,upn,locale\n\
         gagm2,marc.gagnon@cegepsi.ca,Marc Gagnon,,,\n",
    )
    .await;
    for app in [&one, &two] {
        let res = remind(app, "marc.gagnon@cegepsi.ca", "fr-CA").await;
        assert_eq!(res.status(), 200);
    }
    // The same series with the same values, in whatever order they are listed.
    let events = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|l| l.starts_with("octopus_events_total"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(events(&one.metrics().await), events(&two.metrics().await));
}

#[tokio::test]
async fn mail_figures_are_published_at_the_interval_s_boundary_summed() {
    let app = spawn_for_metrics().await;
    let before = counted(&app.metrics().await);
    assert_eq!(
        before.get("octopus_mail_sent_total").map(String::as_str),
        Some("0"),
        "the series exists from the start (an alert on it can fire)"
    );
    app.link_mail("reset", "trej", 1).await;
    app.link_mail("enroll", "gagm", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = counted(&app.metrics().await);
    assert_eq!(
        now.get("octopus_mail_sent_total"),
        before.get("octopus_mail_sent_total"),
        "not within the interval the requests were made in"
    );
    app.clock.advance(Duration::from_secs(TEN_YEARS));
    let later = counted(&app.metrics().await);
    assert_eq!(
        later.get("octopus_mail_sent_total").map(String::as_str),
        Some("2")
    );
}

/// Runs the binary with `args` and the configuration file `toml`; returns its output.
async fn octopus(dir: &std::path::Path, toml: &str, args: &[&str]) -> String {
    let config = dir.join("octopus.toml");
    std::fs::write(&config, toml).unwrap();
    let (code, text) = process::run_with_config(&config, args, "info").await;
    assert_eq!(code, 0, "{text}");
    text
}

/// An organisation's own production configuration: its tenant, a bot app id, no `[demo]`.
fn production(db: &str, seed: Option<bool>) -> String {
    let demo = seed.map_or(String::new(), |s| format!("[demo]\nseed = {s}\n"));
    format!(
        r#"
[http]
public_base_url = "https://octopus-teams.cisss-lanaudiere.example"
[database]
url = "{db}"
[security]
secret_key = "{key}"
[bot]
app_id = "6f1c1a2e-0000-4000-8000-000000000b07"
app_password = "a-bot-secret-for-this-test"
app_tenant_id = "5d2e6b0c-3a1f-4e8b-9c7d-2f4a6b8c0d1e"
token_authority = "http://127.0.0.1:9"
openid_metadata_url = "http://127.0.0.1:9/openid"
{demo}
[[organisations]]
tenant_id = "5d2e6b0c-3a1f-4e8b-9c7d-2f4a6b8c0d1e"
slug = "cisss"
name = "CISSS de Lanaudière"
portal_url = "https://cissslanaudiere.octopus-itsm.com/Web/Login.aspx"
sender = "Centre de services <csti@cisss-lanaudiere.example>"
time_zone = "America/Toronto"
default_locale = "fr-CA"
token_lifetime_minutes = 30
"#,
        key = octopus_teams::service_key::ServiceKey::generate().to_base64(),
    )
}

#[tokio::test]
async fn a_production_configuration_seeds_no_demo_account() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = production(&db.url, None);
    octopus(dir.path(), &toml, &["migrate"]).await;
    let listed = octopus(dir.path(), &toml, &["users", "list"]).await;
    assert!(!listed.contains("trej"), "{listed}");

    let mut cmd = process::command();
    cmd.arg("--config").arg(dir.path().join("octopus.toml"));
    let (server, _) = process::serve(cmd).await;
    drop(server);
    let listed = octopus(dir.path(), &toml, &["users", "list"]).await;
    assert!(
        !listed.contains("trej"),
        "no demo account after start: {listed}"
    );
    assert!(!listed.contains("example.org"), "{listed}");

    let checked = octopus(dir.path(), &toml, &["check-config"]).await;
    assert!(!checked.contains("demo.seed"), "{checked}");
    let opted_in = production(&db.url, Some(true));
    let checked = octopus(dir.path(), &opted_in, &["check-config"]).await;
    assert!(
        checked.contains("warning: demo.seed = true with real organisations"),
        "{checked}"
    );
}

#[tokio::test]
async fn a_value_from_outside_cannot_forge_a_log_line() {
    // Local-development mode (the embedded defaults): activities need no token, and one from a
    // tenant no organisation serves is logged with its tenant id and team name.
    let dir = tempfile::tempdir().unwrap();
    let addr = process::free_addr();
    let mut child = tokio::process::Command::from({
        let mut cmd = process::command();
        cmd.current_dir(dir.path())
            .arg("serve")
            .env("OCTOPUS__HTTP__LISTEN", addr.to_string())
            .env("OCTOPUS__HTTP__PUBLIC_BASE_URL", format!("http://{addr}"))
            .env("OCTOPUS__METRICS__LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        cmd
    })
    .kill_on_drop(true)
    .spawn()
    .unwrap();
    let base = format!("http://{addr}");
    process::ready(&base, Duration::from_secs(30)).await;

    let forged = "FORGED 2026-12-05T00:00:00Z  INFO password changed";
    let mut a = Activity::message("aide")
        .to("http://127.0.0.1:9")
        .in_conversation("a:x", "channel")
        .json();
    a["channelData"] = json!({
        "tenant": {"id": format!("evil\n{forged}\u{1b}[2J")},
        "team": {"id": "19:t@thread.tacv2", "name": format!("Équipe\r\n{forged}\u{1b}[31m")},
    });
    let res = reqwest::Client::new()
        .post(format!("{base}/api/messages"))
        .json(&a)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());

    let stdout = child.stdout.take().unwrap();
    let read = async move {
        use tokio::io::AsyncBufReadExt;
        let mut reader = tokio::io::BufReader::new(stdout).lines();
        let mut lines = Vec::new();
        while let Ok(Some(line)) = reader.next_line().await {
            let done = line.contains("bot activity refused");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    };
    let lines = tokio::time::timeout(WAIT, read)
        .await
        .expect("the refusal is logged");
    child.kill().await.unwrap();
    let refused = lines.last().unwrap();
    assert!(refused.contains("bot activity refused"), "{lines:#?}");
    assert!(
        refused.contains(forged),
        "the values are kept, on the one line"
    );
    assert!(
        refused.contains("\\u{a}") && refused.contains("\\u{1b}"),
        "{refused}"
    );
    for line in &lines {
        assert!(
            !line.contains('\u{1b}'),
            "no escape sequence reaches the log: {line:?}"
        );
        assert!(
            !line.starts_with("FORGED"),
            "no line of the caller's making: {lines:#?}"
        );
    }
}
