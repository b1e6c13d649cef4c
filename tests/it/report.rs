//! `octopus-teams report`, run as the real binary: its figures equal what the test did.

use std::{collections::BTreeMap, time::Duration};

use crate::harness::{TestApp, TestDb};

const WAIT: Duration = Duration::from_secs(10);
const DAY: i64 = 86_400;

/// The real binary (`harness::process::bin`) on the test's database.
fn octopus(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = crate::harness::process::command()
        .args(args)
        .env("OCTOPUS__DATABASE__URL", &db.url)
        .env("OCTOPUS__DEMO__SEED", "false")
        .env("RUST_LOG", "warn")
        .env_remove("OCTOPUS_CONFIG")
        .output()
        .expect("run the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `metric → (count, usernames)` from the CSV output (log lines, on the same standard output,
/// come before it).
fn parse_csv(out: &str) -> BTreeMap<String, (i64, String)> {
    let start = out
        .find("metric,count")
        .unwrap_or_else(|| panic!("no CSV header in {out}"));
    let mut lines = out[start..].lines();
    lines.next();
    lines
        .map(|l| {
            let mut cells = l.split(',');
            let name = cells.next().unwrap().to_string();
            let count = cells.next().unwrap().parse().expect("a count");
            (name, (count, cells.next().unwrap_or("").to_string()))
        })
        .collect()
}

/// `metric → count` from the Markdown table.
fn parse_md(out: &str) -> BTreeMap<String, i64> {
    out.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| metric"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_string(), cells[2].parse().expect("a count"))
        })
        .collect()
}

async fn audit_count(app: &TestApp, event: &str) -> usize {
    app.audit_events()
        .await
        .iter()
        .filter(|e| e.as_str() == event)
        .count()
}

/// Polls until the audit trail holds `n` rows of `event` (the worker writes them after sending).
async fn wait_audit(app: &TestApp, event: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while audit_count(app, event).await < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {n} {event} rows after {WAIT:?}: {:?}",
            app.audit_events().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Moves everything recorded so far `secs` into the past (the binary reads the system clock).
async fn age(app: &TestApp, secs: i64) {
    let mut conn = app.store.conn().await.unwrap();
    for sql in [
        "update audit_event set occurred_at = occurred_at - $1",
        "update reset_token set created_at = created_at - $1, expires_at = expires_at - $1, \
         used_at = used_at - $1, revoked_at = revoked_at - $1",
    ] {
        sqlx::query(sql)
            .bind(secs)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_report_counts_what_happened_in_its_window_in_csv_and_markdown() {
    let app = TestApp::spawn().await;
    // Forty days ago: one request for Julie, its mail.
    assert_eq!(app.request_link("reset", "trej").await.status(), 200);
    wait_audit(&app, "mail_sent", 1).await;
    age(&app, 40 * DAY).await;

    // Two hours ago: two requests (one link used, one left to expire), one for nobody, one
    // change, one lockout, one username reminder whose mail the relay refuses.
    let julie = app.reset_link(&app.link_mail("reset", "trej", 2).await);
    app.request_link("reset", "gagm").await;
    app.request_link("reset", "nobody").await;
    app.smtp.wait_for(3, WAIT).await;
    assert_eq!(
        app.set_password(&julie, "Nouveau1x", "Nouveau1x")
            .await
            .status(),
        303
    );
    wait_audit(&app, "mail_sent", 4).await;
    for _ in 0..5 {
        app.sign_in("gagm", "wrong1", "nothing").await;
    }
    app.sign_in("gagm", "wrong2", "nothing").await;
    app.sign_in("gagm", "wrong3", "nothing").await;
    assert_eq!(
        audit_count(&app, "signin_locked").await,
        2,
        "gagm is locked: one lockout, two refusals"
    );
    app.smtp.refuse_recipients();
    let res = app
        .submit(
            "/forgot-username?org=demo",
            "/forgot-username",
            &[("org", "demo"), ("email", "marc.gagnon@cegepsi.ca")],
        )
        .await;
    assert_eq!(res.status(), 200);
    wait_audit(&app, "mail_dead_lettered", 1).await;
    age(&app, 2 * 3600).await;

    let (code, csv, err) = octopus(
        &app.db,
        &[
            "report", "--org", "demo", "--since", "30d", "--format", "csv",
        ],
    );
    assert_eq!(code, 0, "{csv}{err}");
    let figures = parse_csv(&csv);
    let expected = [
        ("requests", 2),
        ("requests_unknown_account", 1),
        ("requests_rate_limited", 0),
        ("username_reminders", 1),
        ("mails_sent", 3),
        ("mails_failed", 1),
        ("mails_expired", 0),
        ("links_used", 1),
        ("links_expired", 1),
        ("links_cancelled", 0),
        ("password_changes", 1),
        ("enrolments", 0),
        ("lockouts", 1),
        ("unlocks", 0),
        ("accounts_never_enrolled", 1),
    ];
    for (name, count) in expected {
        assert_eq!(
            figures.get(name).map(|f| f.0),
            Some(count),
            "{name} in:\n{csv}"
        );
    }
    assert_eq!(figures.len(), expected.len(), "{csv}");
    assert!(
        !csv.contains("trej") && !csv.contains("gagm") && !csv.contains('@'),
        "no personal data: {csv}"
    );

    let (code, md, err) = octopus(
        &app.db,
        &[
            "report", "--org", "demo", "--since", "30d", "--format", "md",
        ],
    );
    assert_eq!(code, 0, "{md}{err}");
    assert!(
        md.contains("\n# Report for demo: ") || md.starts_with("# Report for demo: "),
        "{md}"
    );
    assert!(
        md.contains(" EST to ") || md.contains(" EDT to "),
        "the window in the organisation's time: {md}"
    );
    let table = parse_md(&md);
    for (name, count) in expected {
        assert_eq!(table.get(name), Some(&count), "{name} in:\n{md}");
    }

    // A wider window takes in the request of forty days ago and its mail.
    let (_, wide, _) = octopus(
        &app.db,
        &[
            "report", "--org", "demo", "--since", "60d", "--format", "csv",
        ],
    );
    let wide = parse_csv(&wide);
    assert_eq!(wide["requests"].0, 3, "{wide:?}");
    assert_eq!(wide["mails_sent"].0, 4, "{wide:?}");
    assert_eq!(
        wide["links_expired"].0, 1,
        "the old link was superseded, not expired: {wide:?}"
    );
    // A narrower one (the last hour) has none of it; never-enrolled accounts are a state.
    let (_, narrow, _) = octopus(
        &app.db,
        &[
            "report", "--org", "demo", "--since", "1h", "--format", "csv",
        ],
    );
    let narrow = parse_csv(&narrow);
    assert_eq!(narrow["requests"].0, 0, "{narrow:?}");
    assert_eq!(narrow["password_changes"].0, 0, "{narrow:?}");
    assert_eq!(narrow["accounts_never_enrolled"].0, 1, "{narrow:?}");
}

#[tokio::test]
async fn detail_names_usernames_but_never_addresses() {
    let app = TestApp::spawn().await;
    app.request_link("reset", "trej").await;
    app.request_link("reset", "gagm").await;
    wait_audit(&app, "mail_sent", 2).await;

    let (code, csv, err) = octopus(
        &app.db,
        &[
            "report", "--org", "demo", "--since", "1d", "--format", "csv", "--detail",
        ],
    );
    assert_eq!(code, 0, "{csv}{err}");
    let figures = parse_csv(&csv);
    assert_eq!(figures["requests"], (2, "gagm trej".to_string()), "{csv}");
    assert_eq!(
        figures["accounts_never_enrolled"],
        (2, "gagm trej".to_string()),
        "{csv}"
    );
    assert!(!csv.contains('@'), "no email address: {csv}");
    let (_, md, _) = octopus(
        &app.db,
        &["report", "--org", "demo", "--since", "1d", "--detail"],
    );
    assert!(md.contains("| requests | 2 | gagm trej |"), "{md}");
    assert!(!md.contains('@'), "{md}");
}

#[tokio::test]
async fn an_unknown_organisation_or_window_is_a_clear_error() {
    let db = TestDb::create().await;
    let (code, out, err) = octopus(&db, &["report", "--org", "nowhere", "--since", "30d"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("no organisation \"nowhere\" in the configuration"),
        "{err}"
    );
    let (code, _, err) = octopus(&db, &["report", "--org", "demo", "--since", "a month"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("expected a number and a unit, e.g. 30d"),
        "{err}"
    );
}

/// Unlocks (`account_unlocked`, written by the unlock feature) are counted, per row, and named
/// with --detail.
#[tokio::test]
async fn unlocks_are_counted_from_the_audit_trail() {
    let app = TestApp::spawn().await;
    let mut conn = app.store.conn().await.unwrap();
    let julie = octopus_teams::store::accounts::by_username(
        &mut conn,
        &app.org.tenant_id,
        &octopus_teams::model::Username::parse("trej").unwrap(),
    )
    .await
    .unwrap()
    .expect("trej");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (event, ago) in [
        ("account_unlocked", 60),
        ("account_unlocked", 120),
        ("account_unlocked", 40 * DAY),
        ("signin_locked", 180),
    ] {
        octopus_teams::store::audit::insert(
            &mut conn,
            &octopus_teams::store::audit::AuditRow {
                occurred_at: octopus_teams::model::UnixTime(now - ago),
                tenant_id: Some(app.org.tenant_id.clone()),
                account_id: Some(julie.id.0.clone()),
                event: event.into(),
                client: None,
                detail: None,
            },
        )
        .await
        .unwrap();
    }
    drop(conn);
    let (code, csv, err) = octopus(
        &app.db,
        &[
            "report", "--org", "demo", "--since", "30d", "--format", "csv", "--detail",
        ],
    );
    assert_eq!(code, 0, "{csv}{err}");
    let figures = parse_csv(&csv);
    assert_eq!(figures["unlocks"], (2, "trej".to_string()), "{csv}");
    assert_eq!(figures["lockouts"], (1, "trej".to_string()), "{csv}");
}
