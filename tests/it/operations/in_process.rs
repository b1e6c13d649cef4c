//! What operators rely on: metrics, request ids, clean shutdown, strict configuration.

use std::time::Duration;

use crate::harness::{METRICS_TOKEN, TestApp};

/// The value of the sample `name{…labels…}` whose labels contain every one of `having`.
fn sample(metrics: &str, name: &str, having: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.split(['{', ' ']).next().is_some_and(|n| n == name))
        .filter(|l| having.iter().all(|h| l.contains(h)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .reduce(|a, b| a + b)
}

async fn scrape(app: &TestApp) -> String {
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
    res.text().await.unwrap()
}

#[tokio::test]
async fn metrics_after_a_journey_show_requests_mail_and_sign_ins_without_personal_data() {
    // Arrange: a link requested, its mail sent, the password set, one good and one bad sign-in.
    let app = TestApp::spawn().await;
    let mail = app.link_mail("reset", "trej", 1).await;
    let link = app.reset_link(&mail);
    assert_eq!(
        app.set_password(&link, "ete2026", "ete2026").await.status(),
        303
    );
    assert_eq!(
        app.sign_in("trej", "ete2026", "nothing").await.status(),
        303
    );
    let failed = app.sign_in("trej", "wrong999", "nothing").await;
    assert_ne!(failed.status(), 303);
    // The confirmation mail of the change is sent too: wait for the outbox to drain.
    app.smtp.wait_for(2, Duration::from_secs(10)).await;

    // Act: the mail and outbox figures are published at the next interval (5 minutes).
    app.clock.advance(Duration::from_secs(300));
    let mut text = scrape(&app).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sample(&text, "octopus_outbox_pending", &[]) != Some(0.0)
        || sample(&text, "octopus_mail_sent_total", &[]) < Some(2.0)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox never drained:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        text = scrape(&app).await;
    }

    // Assert: requests by route template and status.
    let forgot = sample(
        &text,
        "octopus_http_requests_total",
        &["method=\"POST\"", "route=\"/forgot\"", "status=\"200\""],
    );
    assert_eq!(forgot, Some(1.0), "{text}");
    assert!(
        sample(
            &text,
            "octopus_http_requests_total",
            &["route=\"/reset/{token}\""]
        )
        .is_some(),
        "the reset page is counted under its template:\n{text}"
    );
    assert!(
        sample(
            &text,
            "octopus_http_request_duration_seconds_count",
            &["route=\"/login\""]
        )
        .is_some_and(|n| n >= 2.0),
        "{text}"
    );
    // Outbox and mail.
    assert_eq!(
        sample(&text, "octopus_outbox_pending", &[]),
        Some(0.0),
        "{text}"
    );
    assert!(sample(&text, "octopus_outbox_oldest_pending_age_seconds", &[]).is_some());
    assert_eq!(
        sample(&text, "octopus_mail_sent_total", &[]),
        Some(2.0),
        "{text}"
    );
    // Domain events: the link, the change, the sign-ins by outcome.
    let event = |e: &str| sample(&text, "octopus_events_total", &[&format!("event=\"{e}\"")]);
    assert_eq!(event("link_requested"), Some(1.0), "{text}");
    assert_eq!(event("password_changed"), Some(1.0), "{text}");
    assert_eq!(event("signin_ok"), Some(1.0), "{text}");
    assert_eq!(event("signin_failed"), Some(1.0), "{text}");
    // argon2: the change and two sign-ins were hashed.
    assert!(
        sample(&text, "octopus_argon2_hash_duration_seconds_count", &[]).is_some_and(|n| n >= 3.0),
        "{text}"
    );

    // No personal data anywhere in the output (labels included).
    let token = link.rsplit('/').next().unwrap().to_string();
    let host = app.base.trim_start_matches("http://").to_string();
    for secret in [
        "trej",
        "julie",
        "Julie",
        "Tremblay",
        "cegepsi",
        "@",
        "ete2026",
        "wrong999",
        token.as_str(),
        "127.0.0.1",
        host.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} appears in /metrics:\n{text}"
        );
    }
}

#[tokio::test]
async fn metrics_count_bot_activities_and_token_rejections_by_reason() {
    let app = TestApp::spawn().await;
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    app.connector.wait_for(1).await;
    let unsigned = app.bot_with(&app.personal("aide"), None).await;
    assert_eq!(unsigned.status(), 401);

    // Connector calls are published with the mail figures, at the interval's end.
    app.clock.advance(Duration::from_secs(300));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = scrape(&app).await;
        if sample(&text, "octopus_bot_activities_total", &[]).is_some() {
            break text;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        sample(
            &text,
            "octopus_bot_activities_total",
            &["type=\"message\"", "outcome=\"ok\""]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "octopus_bot_token_rejections_total",
            &["reason=\"missing_header\""]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "octopus_connector_calls_total",
            &["method=\"POST\"", "outcome=\"ok\""]
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "octopus_signing_key_refreshes_total",
            &["outcome=\"ok\""]
        )
        .is_some(),
        "{text}"
    );
    for secret in ["julie", "Julie", "29:", "a:julie", "127.0.0.1"] {
        assert!(
            !text.contains(secret),
            "{secret:?} appears in /metrics:\n{text}"
        );
    }
}

#[tokio::test]
async fn two_apps_in_one_process_count_only_their_own_requests() {
    let (a, b) = (TestApp::spawn().await, TestApp::spawn().await);
    for _ in 0..3 {
        a.get("/login").await;
    }
    b.get("/login").await;
    let route = ["route=\"/login\"", "method=\"GET\""];
    assert_eq!(
        sample(&scrape(&a).await, "octopus_http_requests_total", &route),
        Some(3.0)
    );
    assert_eq!(
        sample(&scrape(&b).await, "octopus_http_requests_total", &route),
        Some(1.0)
    );
}

#[tokio::test]
async fn with_a_metrics_address_metrics_are_served_only_there() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = TestApp::builder()
        .config(move |raw| raw.metrics.listen = format!("127.0.0.1:{port}"))
        .spawn()
        .await;
    let (status, _) = app.get("/metrics").await;
    assert_eq!(status, 404, "not on the public address");
    let res = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a token set is asked for everywhere");
    let res = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("octopus_http_requests_total")
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_an_inbound_one_is_ignored_by_default() {
    let app = TestApp::spawn().await;
    let res = app.client.get(app.url("/login")).send().await.unwrap();
    let first = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(!first.is_empty());
    let res = app.client.get(app.url("/login")).send().await.unwrap();
    assert_ne!(
        res.headers()["x-request-id"],
        first.as_str(),
        "one id per request"
    );

    let res = app
        .client
        .get(app.url("/nowhere"))
        .header("x-request-id", "lb-0123-abcd")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(
        id, "lb-0123-abcd",
        "not trusted unless http.trust_request_id"
    );
    assert!(!id.is_empty());
}

#[tokio::test]
async fn a_sane_inbound_request_id_is_kept_when_trusted_and_an_insane_one_is_replaced() {
    let app = TestApp::builder()
        .config(|raw| {
            raw.http.trust_request_id = true;
            raw.http.trusted_proxies = vec!["127.0.0.0/8".into()];
        })
        .spawn()
        .await;
    let echo = |id: &'static str| {
        let req = app.client.get(app.url("/login")).header("x-request-id", id);
        async move {
            let res = req.send().await.unwrap();
            res.headers()["x-request-id"].to_str().unwrap().to_string()
        }
    };
    assert_eq!(echo("lb-0123-abcd.ef:1_2").await, "lb-0123-abcd.ef:1_2");
    let long: &'static str = "x".repeat(65).leak();
    for insane in [long, "a b", "id\"quote", "a\tb", "<script>"] {
        let got = echo(insane).await;
        assert_ne!(got, insane);
        assert!(
            uuid_like(&got),
            "{insane:?} replaced by a fresh id, got {got:?}"
        );
    }
}

#[tokio::test]
async fn an_inbound_request_id_is_replaced_when_the_peer_is_not_a_trusted_proxy() {
    // The setting is on, but this client (127.0.0.1) is not among the proxies.
    let app = TestApp::builder()
        .config(|raw| {
            raw.http.trust_request_id = true;
            raw.http.trusted_proxies = vec!["10.0.0.0/8".into()];
        })
        .spawn()
        .await;
    let res = app
        .client
        .get(app.url("/login"))
        .header("x-request-id", "lb-0123-abcd")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, "lb-0123-abcd", "anyone could pick their id otherwise");
    assert!(uuid_like(id), "{id}");
}

#[test]
fn trusting_request_ids_without_trusted_proxies_refuses_the_start() {
    let (code, out, err) = octopus(
        &["check-config"],
        &[("OCTOPUS__HTTP__TRUST_REQUEST_ID", "true")],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("http.trust_request_id") && err.contains("http.trusted_proxies"),
        "{err}"
    );
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

#[tokio::test]
async fn shutdown_finishes_the_bot_turns_already_acknowledged() {
    // Arrange: a connector that takes its time with every reply, and a grace period long
    // enough for a slow machine (the test asserts on what arrived, never on time).
    let app = TestApp::builder()
        .config(|raw| raw.http.shutdown_grace_secs = 120)
        .spawn()
        .await;
    app.connector.slow_down(Duration::from_secs(2));
    // Act: a burst of messages, each acknowledged with 200 before its reply is posted…
    let mut accepted = 0;
    for _ in 0..5 {
        let res = app.bot(&app.personal("aide")).await;
        assert_eq!(res.status(), 200);
        accepted += 1;
    }
    // …then shutdown while the replies are still on their way.
    let connector = app.connector.clone();
    app.stop().await;
    // Assert: the service stopped only after every accepted turn's reply reached the connector.
    let posted = connector.posted();
    assert_eq!(
        posted.len(),
        accepted,
        "{:#?}",
        posted.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

/// Runs the real binary with `envs` (and no configuration file unless given) until it exits;
/// one still running after 20 s (a start that should have been refused) is killed and fails.
fn octopus(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let mut child = crate::harness::process::command()
        .args(args)
        .current_dir(dir.path())
        .env_remove("OCTOPUS_CONFIG")
        .env("OCTOPUS__HTTP__LISTEN", "127.0.0.1:0")
        .env("OCTOPUS__METRICS__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the binary");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("octopus-teams {args:?} still running after 20 s: it was not refused");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code().unwrap_or(-1), out, err)
}

#[test]
fn a_misspelled_key_refuses_the_start_and_names_it_and_the_known_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("octopus.toml");
    std::fs::write(&file, "[mail]\ntransprot = \"smtp://127.0.0.1:25\"\n").unwrap();
    let file = file.to_str().unwrap();
    for command in ["serve", "check-config"] {
        let (code, out, err) = octopus(&["--config", file, command], &[]);
        assert_eq!(code, 1, "{command}: {out}{err}");
        assert!(
            err.contains("unknown key mail.transprot"),
            "{command}: {err}"
        );
        assert!(
            err.contains("did you mean mail.transport?"),
            "{command}: {err}"
        );
        assert!(err.contains("octopus.toml"), "names the file: {err}");
        assert!(!out.contains("configuration OK"), "{out}");
    }
    // The same mistake in the environment names the variable.
    let (code, _, err) = octopus(&["serve"], &[("OCTOPUS__MAIL__TRANSPROT", "smtp://x")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("unknown key mail.transprot"), "{err}");
    assert!(err.contains("OCTOPUS__MAIL__TRANSPROT"), "{err}");
    assert!(err.contains("did you mean mail.transport?"), "{err}");
}

#[test]
fn with_postgresql_the_start_requires_a_shared_secret_key() {
    let pg = [(
        "OCTOPUS__DATABASE__URL",
        "postgres://postgres@127.0.0.1:5432/none",
    )];
    for command in ["serve", "check-config"] {
        let (code, out, err) = octopus(&[command], &pg);
        assert_eq!(code, 1, "{command}: {out}{err}");
        assert!(err.contains("security.secret_key is required"), "{err}");
        assert!(err.contains("OCTOPUS__SECURITY__SECRET_KEY"), "{err}");
        assert!(
            err.contains("openssl rand -base64 32"),
            "how to make one: {err}"
        );
    }
    // With a key, check-config is content (serve would then connect).
    let key = octopus_teams::service_key::ServiceKey::generate().to_base64();
    let (code, out, err) = octopus(
        &["check-config"],
        &[pg[0], ("OCTOPUS__SECURITY__SECRET_KEY", key.as_str())],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains(&key), "the key is never printed");
}

#[tokio::test]
async fn sigterm_stops_the_real_binary_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let mut child = tokio::process::Command::from(crate::harness::process::command())
        .current_dir(dir.path())
        .env_remove("OCTOPUS_CONFIG")
        .env("OCTOPUS__HTTP__LISTEN", &listen)
        .env("OCTOPUS__METRICS__LISTEN", "127.0.0.1:0")
        .env("OCTOPUS__DATABASE__URL", "sqlite://octopus.db?mode=rwc")
        .env("RUST_LOG", "octopus_teams=info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // Started: the login page answers 200 (on a loaded machine a first answer may be 503 while
    // the new process's database pool is still opening).
    loop {
        if let Ok(res) = client.get(format!("http://{listen}/login")).send().await
            && res.status() == 200
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the service never answered 200"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mut logs = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stdout.take().unwrap(), &mut logs)
        .await
        .unwrap();
    assert!(
        logs.contains("shutting down") && logs.contains("stopped"),
        "{logs}"
    );
}

#[tokio::test]
async fn probes_and_json_answers_set_no_cookie_pages_do() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz", "/static/app.css"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert!(res.status().is_success(), "{path}");
        assert!(
            !res.headers().contains_key("set-cookie"),
            "{path} sets a cookie"
        );
    }
    let login = app.client.get(app.url("/login")).send().await.unwrap();
    assert!(
        login.headers().contains_key("set-cookie"),
        "a page with a form does"
    );
}

#[tokio::test]
async fn every_series_an_alert_rule_reads_is_there_from_the_start() {
    let rules = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/rules.yml"),
    )
    .unwrap();
    let names: std::collections::BTreeSet<&str> = rules
        .lines()
        .filter(|l| l.trim_start().starts_with("expr:"))
        .flat_map(|l| {
            l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("octopus_"))
        })
        .collect();
    assert!(names.len() >= 6, "{names:?}");
    let app = TestApp::spawn().await;
    let metrics = scrape(&app).await;
    for name in names {
        assert!(
            metrics.lines().any(|l| l.starts_with(name)),
            "{name} is not published at start:\n{metrics}"
        );
    }
    // And the families dashboards read: sign-ins, rate limits, changes, per organisation.
    for event in [
        "signin_failed",
        "signin_locked",
        "request_rate_limited",
        "password_changed",
    ] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("octopus_events_total")
                    && l.contains(&format!("event=\"{event}\""))
                    && l.ends_with(" 0")),
            "{event} at zero:\n{metrics}"
        );
    }
}

#[test]
fn logs_are_json_when_the_configuration_says_so_and_a_command_s_error_is_said_once() {
    // The service's own failure, as JSON lines, from the environment and from the file.
    let refused = [
        (
            "OCTOPUS__DATABASE__URL",
            "postgres://nobody@127.0.0.1:9/none",
        ),
        ("OCTOPUS__LOG__FORMAT", "json"),
    ];
    let (code, out, _) = octopus(&["serve"], &refused);
    assert_ne!(code, 0);
    let line = out
        .lines()
        .find(|l| l.contains("ERROR"))
        .expect("an error line");
    let json: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    assert!(
        json["message"].as_str().unwrap().contains("secret_key"),
        "{json}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "[log]\nformat = \"json\"\n").unwrap();
    let (_, out, _) = octopus(
        &["--config", file.to_str().unwrap(), "serve"],
        &refused[..1],
    );
    let line = out
        .lines()
        .find(|l| l.contains("ERROR"))
        .expect("an error line");
    assert!(
        serde_json::from_str::<serde_json::Value>(line).is_ok(),
        "{line}"
    );

    // A command's error: once, on standard error, for the person who typed it.
    let (code, out, err) = octopus(&["scim", "token", "--org", "nosuch"], &[]);
    assert_eq!(code, 1);
    assert!(!out.contains("nosuch"), "not logged as well: {out}");
    assert_eq!(
        err.matches("no organisation \"nosuch\"").count(),
        1,
        "{err}"
    );
}

#[test]
fn a_command_that_writes_without_a_configuration_says_which_database_it_uses() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.csv");
    std::fs::write(
        &file,
        "username,email,display_name\nbelm,m@cegepsi.ca,Marie\n",
    )
    .unwrap();
    let (code, out, err) = octopus(&["users", "import", file.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("warning: no configuration file")
            && err.contains("development database sqlite://data/octopus-teams.db"),
        "{err}"
    );
    // Reading is harmless: no warning.
    let (_, _, err) = octopus(&["users", "list"], &[]);
    assert!(!err.contains("no configuration file"), "{err}");
}
