//! Several instances on one PostgreSQL database: every mail is sent exactly once, a killed
//! instance's mail is taken over within seconds. On SQLite (one instance by design) these tests
//! say so and pass without running.

use std::{collections::HashMap, path::Path, time::Duration};

use octopus_teams::service_key::ServiceKey;
use tokio::process::Child;

use crate::harness::{ReceivedMail, SmtpSink, TestApp, TestDb, forms, process};

fn skip_on_sqlite(db: &TestDb, test: &str) -> bool {
    if !db.is_postgres() {
        eprintln!("{test}: several instances need PostgreSQL (DATABASE_URL); skipped on SQLite");
        return true;
    }
    false
}

/// `n` accounts `u000`…, each with an address of its own.
fn accounts_csv(n: usize) -> String {
    let mut csv = String::from("username,email,display_name,entra_object_id,upn,locale\n");
    for i in 0..n {
        csv.push_str(&format!("u{i:03},u{i:03}@cegepsi.ca,User {i},,,\n"));
    }
    csv
}

/// How many mails each recipient got.
fn per_recipient(mails: &[ReceivedMail]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for m in mails {
        for to in &m.to {
            *seen.entry(to.clone()).or_insert(0) += 1;
        }
    }
    seen
}

/// Exactly one mail to each of the first `n` accounts, and nothing else.
fn assert_once_each(mails: &[ReceivedMail], n: usize) {
    let seen = per_recipient(mails);
    let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "mail sent more than once: {twice:?}");
    for i in 0..n {
        let to = format!("<u{i:03}@cegepsi.ca>");
        assert_eq!(seen.get(&to), Some(&1), "{to} got no mail");
    }
    assert_eq!(mails.len(), n, "{seen:?}");
}

/// Waits until no outbox row is left to send (sent or dead), then gives the relay's view.
async fn drained(app: &TestApp, within: Duration) -> Vec<ReceivedMail> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left: i64 = sqlx::query_scalar(
            "select count(*) from outbox where sent_at is null and dead_at is null",
        )
        .fetch_one(app.store.pool())
        .await
        .unwrap();
        if left == 0 {
            return app.smtp.received();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} mails still unsent after {within:?}; relay has {}",
            app.smtp.received().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn generous_limits(c: &mut octopus_teams::config::RawConfig) {
    c.limits.requests_per_ip = 100_000;
}

#[tokio::test]
async fn two_instances_send_each_of_200_mails_exactly_once() {
    let a = TestApp::builder().config(generous_limits).spawn().await;
    if skip_on_sqlite(&a.db, "two_instances_send_each_of_200_mails_exactly_once") {
        return;
    }
    let b = TestApp::builder()
        .sibling_of(&a)
        .config(generous_limits)
        .spawn()
        .await;
    assert_ne!(a.base, b.base);
    a.import(&accounts_csv(200)).await;
    for start in (0..200).step_by(20) {
        burst((start..start + 20).map(|i| {
            let base = if i % 2 == 0 { &a.base } else { &b.base };
            (base.clone(), i)
        }))
        .await;
    }
    let mails = drained(&a, Duration::from_secs(60)).await;
    assert_once_each(&mails, 200);
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_slow_relay_with_two_instances_gets_no_mail_twice() {
    // Day-long links: the hour skipped below must leave them usable (a link mail whose link
    // expired while it waited is held back, which is another test's business).
    let day_long = |c: &mut octopus_teams::config::RawConfig| {
        generous_limits(c);
        c.organisations[0].token_lifetime_minutes = 24 * 60;
    };
    let a = TestApp::builder().config(day_long).spawn().await;
    if skip_on_sqlite(&a.db, "a_slow_relay_with_two_instances_gets_no_mail_twice") {
        return;
    }
    let b = TestApp::builder()
        .sibling_of(&a)
        .config(day_long)
        .spawn()
        .await;
    a.import(&accounts_csv(6)).await;
    // Each message is answered 3 s after its end of DATA: both instances poll all the while.
    a.smtp.slow_data(Duration::from_secs(3));
    for i in 0..6 {
        let app = if i % 2 == 0 { &a } else { &b };
        let res = app.request_link("reset", &format!("u{i:03}")).await;
        assert_eq!(res.status(), 200);
    }
    // While a message is in the relay's hands, more time passes than any lease would last.
    a.smtp.wait_for(1, Duration::from_secs(30)).await;
    a.advance(Duration::from_secs(3600));
    let mails = drained(&a, Duration::from_secs(60)).await;
    assert_once_each(&mails, 6);
    let answered = a
        .smtp
        .commands()
        .iter()
        .filter(|c| *c == "ANSWERED")
        .count();
    assert_eq!(answered, 6, "every message answered once");
    b.stop().await;
    a.stop().await;
}

/// `octopus-teams serve` on the test database, output discarded, killed on drop.
async fn serve(db: &TestDb, dir: &Path, smtp: &SmtpSink, key: &str) -> (Child, String) {
    let mut cmd = process::command();
    cmd.current_dir(dir)
        .env("OCTOPUS__DATABASE__URL", &db.url)
        .env("OCTOPUS__MAIL__TRANSPORT", smtp.url())
        .env("OCTOPUS__MAIL__POLL_INTERVAL_SECS", "1")
        .env("OCTOPUS__SECURITY__SECRET_KEY", key)
        .env("OCTOPUS__DEMO__SEED", "false")
        .env("OCTOPUS__LIMITS__REQUESTS_PER_IP", "100000")
        .env("RUST_LOG", "warn");
    process::serve(cmd).await
}

/// Concurrent `/forgot` requests for `u{i}` at each (instance, i).
async fn burst(requests: impl Iterator<Item = (String, usize)>) {
    let mut set = tokio::task::JoinSet::new();
    for (base, i) in requests {
        set.spawn(async move { forms::forgot(&base, &format!("u{i:03}")).await });
    }
    while let Some(done) = set.join_next().await {
        done.expect("request task");
    }
}

fn import_with_binary(db: &TestDb, dir: &Path, n: usize) {
    let csv = dir.join("accounts.csv");
    std::fs::write(&csv, accounts_csv(n)).unwrap();
    let out = process::command()
        .args(["users", "import", csv.to_str().unwrap()])
        .env("OCTOPUS__DATABASE__URL", &db.url)
        .env("OCTOPUS__DEMO__SEED", "false")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_killed_instance_s_mail_is_taken_over_within_seconds() {
    let db = TestDb::create().await;
    if skip_on_sqlite(&db, "a_killed_instance_s_mail_is_taken_over_within_seconds") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start().await;
    let key = ServiceKey::generate().to_base64();
    let migrate = process::command()
        .arg("migrate")
        .env("OCTOPUS__DATABASE__URL", &db.url)
        .output()
        .unwrap();
    assert!(migrate.status.success());
    import_with_binary(&db, dir.path(), 90);
    let (mut a, base_a) = serve(&db, dir.path(), &smtp, &key).await;
    let (b, base_b) = serve(&db, dir.path(), &smtp, &key).await;

    // A third over both, in one burst, while the relay holds every sender at MAIL FROM: once
    // both instances are caught mid-send (one connection each: each sends one mail at a time),
    // SIGKILL the first. The relay has nothing of the mail it was sending, so that mail must
    // come from the other instance, once.
    smtp.hold();
    burst((0..30).map(|i| {
        let base = if i % 2 == 0 { &base_a } else { &base_b };
        (base.clone(), i)
    }))
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while smtp.commands().iter().filter(|c| *c == "HELD").count() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "both instances never reached the relay"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.start_kill().unwrap();
    a.wait().await.unwrap();
    let killed_at = tokio::time::Instant::now();
    smtp.accept();
    for start in (30..90).step_by(20) {
        burst((start..start + 20).map(|i| (base_b.clone(), i))).await;
    }

    // Every mail, the killed instance's included, within 30 s of the kill.
    let left = Duration::from_secs(30).saturating_sub(killed_at.elapsed());
    smtp.wait_for(90, left).await;
    let store = octopus_teams::store::Store::connect(&db.secret_url())
        .await
        .unwrap();
    // Give a duplicate the chance to show up before counting.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left: i64 = sqlx::query_scalar(
            "select count(*) from outbox where sent_at is null and dead_at is null",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        if left == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{left} unsent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_once_each(&smtp.received(), 90);
    store.close().await;
    drop(b);
}

/// Rounds of 8 simultaneous `/forgot` for one account (each its own browser), over two instances
/// on PostgreSQL: after each round exactly one of the mailed links opens. Runs on SQLite too (one
/// instance), where writers are serialised by the database.
#[tokio::test]
async fn simultaneous_requests_for_one_account_leave_exactly_one_usable_link() {
    let many = |c: &mut octopus_teams::config::RawConfig| {
        c.limits.requests_per_ip = 100_000;
        c.limits.requests_per_account = 100_000;
    };
    let a = TestApp::builder().config(many).spawn().await;
    let b = match a.db.is_postgres() {
        true => Some(TestApp::builder().sibling_of(&a).config(many).spawn().await),
        false => None,
    };
    let bases = [
        a.base.clone(),
        b.as_ref().map_or(a.base.clone(), |b| b.base.clone()),
    ];
    let mut seen = 0;
    for round in 0..5 {
        let mut set = tokio::task::JoinSet::new();
        for i in 0..8 {
            let base = bases[i % 2].clone();
            set.spawn(async move { forms::forgot(&base, "trej").await });
        }
        while let Some(done) = set.join_next().await {
            done.expect("request task");
        }
        // Every mail of the round settled: sent, or held back because a newer request replaced
        // its link before the relay took it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let pending: i64 = sqlx::query_scalar(
                "select count(*) from outbox where sent_at is null and dead_at is null",
            )
            .fetch_one(a.store.pool())
            .await
            .unwrap();
            if pending == 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: mail never settled"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mails = a.smtp.received();
        assert!(
            mails.len() > seen,
            "round {round}: the last link was mailed"
        );
        let round_mails = &mails[seen..];
        seen = mails.len();
        let mut usable = 0;
        for mail in round_mails {
            // Each instance links to itself; the token opens on either.
            let text = mail.text();
            let start = text.find("/reset/").expect("a link") + "/reset/".len();
            let token: String = text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            let (status, _) = a.get(&format!("/reset/{token}")).await;
            if status == 200 {
                usable += 1;
            }
        }
        assert_eq!(
            usable,
            1,
            "round {round}: {usable} usable links among {} mailed",
            round_mails.len()
        );
    }
    if let Some(b) = b {
        b.stop().await;
    }
    a.stop().await;
}

/// `octopus-teams mail …` on the test app's database, with its key and address.
fn mail_command(app: &TestApp, args: &[&str]) -> (i32, String, String) {
    let out = process::command()
        .arg("mail")
        .args(args)
        .env("OCTOPUS__DATABASE__URL", &app.db.url)
        .env("OCTOPUS__SECURITY__SECRET_KEY", app.key.to_base64())
        .env("OCTOPUS__HTTP__PUBLIC_BASE_URL", &app.base)
        .env("OCTOPUS__DEMO__SEED", "false")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn mail_retry_re_sends_a_dead_letter_with_a_fresh_working_link() {
    let app = TestApp::spawn().await;
    app.smtp.refuse_recipients();
    let res = app.request_link("reset", "trej").await;
    assert_eq!(res.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let id = loop {
        let dead: Option<String> =
            sqlx::query_scalar("select outbox_id from outbox where dead_at is not null")
                .fetch_optional(app.store.pool())
                .await
                .unwrap();
        if let Some(id) = dead {
            break id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    app.smtp.accept();

    let (code, out, err) = mail_command(&app, &["retry", &id]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("julie.tremblay@cegepsi.ca"), "{out}");
    let mail = app
        .smtp
        .wait_for(1, Duration::from_secs(30))
        .await
        .remove(0);
    assert_eq!(mail.to, vec!["<julie.tremblay@cegepsi.ca>".to_string()]);
    let link = app.reset_link(&mail);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303,
        "the re-sent link works"
    );
    assert!(
        app.audit_events()
            .await
            .contains(&"mail_retried_by_operator".to_string())
    );

    // Not a dead letter (any more, or ever): said clearly, nothing done.
    let (code, _, err) = mail_command(&app, &["retry", "no-such-id"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no dead letter has this id"), "{err}");
}
