//! The mail relay as real ones behave: STARTTLS or implicit TLS with a certificate from a private
//! CA, AUTH before MAIL, permanent refusals (5xx) at RCPT or after DATA, and slow answers. What
//! the outbox makes of each: delivered, retried, or dead-lettered.

use std::time::Duration;

use secrecy::SecretString;
use sqlx::Row;

use crate::harness::{SmtpSink, TestApp};

const WAIT: Duration = Duration::from_secs(10);

/// The outbox row of the one mail, as the worker left it.
#[derive(Debug)]
struct OutboxRow {
    attempts: i64,
    last_error: Option<String>,
    sent_at: Option<i64>,
    dead_at: Option<i64>,
    payload: Option<Vec<u8>>,
    lease_until: Option<i64>,
}

async fn outbox_rows(app: &TestApp) -> Vec<OutboxRow> {
    sqlx::query(
        "select attempts, last_error, sent_at, dead_at, payload, lease_until from outbox \
         order by created_at",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| OutboxRow {
        attempts: r.try_get("attempts").unwrap(),
        last_error: r.try_get("last_error").unwrap(),
        sent_at: r.try_get("sent_at").unwrap(),
        dead_at: r.try_get("dead_at").unwrap(),
        payload: r.try_get("payload").unwrap(),
        lease_until: r.try_get("lease_until").unwrap(),
    })
    .collect()
}

/// Polls the first outbox row until `done` holds for it.
async fn wait_row(app: &TestApp, what: &str, done: impl Fn(&OutboxRow) -> bool) -> OutboxRow {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut rows = outbox_rows(app).await;
        if rows.first().is_some_and(&done) {
            return rows.remove(0);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox never {what}: {rows:?}; relay saw {:?}",
            app.smtp.commands()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn position(commands: &[String], command: &str) -> usize {
    commands
        .iter()
        .position(|c| c == command)
        .unwrap_or_else(|| panic!("no {command} in {commands:?}"))
}

#[tokio::test]
async fn mail_goes_out_over_starttls_and_auth_to_a_relay_with_a_private_ca() {
    let relay = SmtpSink::builder()
        .starttls()
        .auth("octopus", "relay-pass")
        .start()
        .await;
    assert!(relay.url().contains("?tls=required"));
    let app = TestApp::builder().smtp(relay).spawn().await;

    let mail = app.link_mail("reset", "trej", 1).await;

    assert_eq!(mail.subject(), "Réinitialisation de mot de passe");
    let commands = app.smtp.commands();
    let tls = position(&commands, "TLS");
    assert!(position(&commands, "STARTTLS") < tls, "{commands:?}");
    let auth = commands
        .iter()
        .position(|c| c.starts_with("AUTH "))
        .unwrap_or_else(|| panic!("no AUTH in {commands:?}"));
    assert!(
        tls < auth && auth < position(&commands, "MAIL"),
        "credentials and mail only once encrypted: {commands:?}"
    );
    let link = app.reset_link(&mail);
    assert_eq!(app.get(&app.path_of(&link)).await.0, 200);
}

#[tokio::test]
async fn mail_goes_out_over_implicit_tls() {
    let relay = SmtpSink::builder()
        .implicit_tls()
        .auth("octopus", "relay-pass")
        .start()
        .await;
    assert!(relay.url().starts_with("smtps://"));
    let app = TestApp::builder().smtp(relay).spawn().await;

    app.link_mail("reset", "trej", 1).await;

    let commands = app.smtp.commands();
    assert_eq!(commands[0], "TLS", "encrypted from the first byte");
    assert!(!commands.contains(&"STARTTLS".to_string()));
}

#[tokio::test]
async fn a_relay_certificate_from_an_unknown_ca_is_refused() {
    let relay = SmtpSink::builder().starttls().start().await;
    let app = TestApp::builder()
        .smtp(relay)
        .config(|c| c.mail.tls_ca_file = None)
        .spawn()
        .await;

    app.request_link("reset", "trej").await;

    let row = wait_row(&app, "tried", |r| r.last_error.is_some()).await;
    assert!(row.sent_at.is_none() && row.dead_at.is_none(), "{row:?}");
    assert!(app.smtp.received().is_empty());
    assert!(
        !app.smtp.commands().contains(&"MAIL".to_string()),
        "nothing sent: {:?}",
        app.smtp.commands()
    );
}

#[tokio::test]
async fn a_relay_without_starttls_gets_nothing_in_clear_when_tls_is_required() {
    // A relay that offers no STARTTLS (or a man in the middle who strips it).
    let relay = SmtpSink::builder()
        .auth("octopus", "relay-pass")
        .start()
        .await;
    let url = format!("smtp://octopus:relay-pass@{}?tls=required", relay.addr);
    let app = TestApp::builder()
        .smtp(relay)
        .config(move |c| c.mail.transport = SecretString::from(url))
        .spawn()
        .await;

    app.request_link("reset", "trej").await;

    let row = wait_row(&app, "tried", |r| r.last_error.is_some()).await;
    assert!(row.sent_at.is_none() && row.dead_at.is_none(), "{row:?}");
    let commands = app.smtp.commands();
    assert!(
        commands
            .iter()
            .all(|c| !c.starts_with("AUTH") && c != "MAIL"),
        "neither the password nor the mail went in clear: {commands:?}"
    );
    assert!(app.smtp.received().is_empty());
}

#[tokio::test]
async fn a_wrong_relay_password_is_retried_with_backoff_not_dead_lettered() {
    let relay = SmtpSink::builder()
        .starttls()
        .auth("octopus", "relay-pass")
        .start()
        .await;
    let url = format!("smtp://octopus:wrong-pass@{}?tls=required", relay.addr);
    let app = TestApp::builder()
        .smtp(relay)
        .config(move |c| c.mail.transport = SecretString::from(url))
        .spawn()
        .await;

    app.request_link("reset", "trej").await;
    let row = wait_row(&app, "tried", |r| r.last_error.is_some()).await;
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("535"),
        "{row:?}"
    );
    assert!(
        row.dead_at.is_none(),
        "a configuration error is not the mail's fault"
    );
    assert!(row.payload.is_some());

    app.advance(Duration::from_secs(60)); // past the first backoff (30 s ± 20 %)
    let row = wait_row(&app, "tried again", |r| r.attempts >= 2).await;
    assert!(row.dead_at.is_none() && row.sent_at.is_none(), "{row:?}");
    assert!(row.payload.is_some());
    assert!(app.smtp.received().is_empty());
}

#[tokio::test]
async fn a_recipient_refused_for_good_is_dead_lettered_at_once() {
    let app = TestApp::spawn().await;
    app.smtp.refuse_recipients();

    app.request_link("reset", "trej").await;

    let row = wait_row(&app, "dead-lettered", |r| r.dead_at.is_some()).await;
    assert_eq!(row.attempts, 1, "a 5xx is not retried");
    assert!(row.payload.is_none(), "the sealed link is erased");
    assert!(row.sent_at.is_none());
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("550"),
        "{row:?}"
    );
    assert!(
        app.audit_events()
            .await
            .contains(&"mail_dead_lettered".to_string())
    );
    never_claimed_again(&app, 1).await;
}

#[tokio::test]
async fn a_message_refused_after_data_is_dead_lettered_at_once() {
    let app = TestApp::spawn().await;
    app.smtp.refuse_messages();

    app.request_link("reset", "trej").await;

    let row = wait_row(&app, "dead-lettered", |r| r.dead_at.is_some()).await;
    assert_eq!(row.attempts, 1);
    assert!(row.payload.is_none());
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("554"),
        "{row:?}"
    );
    never_claimed_again(&app, 1).await;
}

#[tokio::test]
async fn temporary_failures_are_dead_lettered_after_max_attempts() {
    // Day-long links: the hours skipped below leave them usable (else the mail is held back
    // as expired, not dead-lettered).
    let app = TestApp::builder()
        .config(|c| {
            c.mail.max_attempts = 3;
            c.organisations[0].token_lifetime_minutes = 24 * 60;
        })
        .spawn()
        .await;
    app.smtp.refuse();

    app.request_link("reset", "trej").await;
    for attempt in 1..=2 {
        let row = wait_row(&app, "tried", |r| r.attempts == attempt && r.lease_free()).await;
        assert!(row.dead_at.is_none(), "attempt {attempt}: {row:?}");
        assert!(row.payload.is_some());
        app.advance(Duration::from_secs(3600)); // past any backoff
    }
    let row = wait_row(&app, "dead-lettered", |r| r.dead_at.is_some()).await;
    assert_eq!(row.attempts, 3);
    assert!(row.payload.is_none());
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("451"),
        "{row:?}"
    );
    never_claimed_again(&app, 3).await;
}

#[tokio::test]
async fn a_relay_slower_than_the_timeout_gets_the_mail_again_later() {
    let app = TestApp::builder()
        .config(|c| c.mail.timeout_secs = 1)
        .spawn()
        .await;
    app.smtp.slow_data(Duration::from_secs(3));

    app.request_link("reset", "trej").await;
    let row = wait_row(&app, "given up on", |r| r.last_error.is_some()).await;
    assert!(row.sent_at.is_none() && row.dead_at.is_none(), "{row:?}");
    assert!(row.payload.is_some(), "kept for the next attempt");

    // The relay had taken it after all (it answered too late): the retry sends it again. A
    // duplicate is what SMTP allows; a loss is not.
    app.smtp.accept();
    app.advance(Duration::from_secs(60));
    wait_row(&app, "sent", |r| r.sent_at.is_some()).await;
    let mails = app.smtp.wait_for(2, WAIT).await;
    assert_eq!(mails[0].header("Message-ID"), mails[1].header("Message-ID"));
}

impl OutboxRow {
    /// Not being sent right now: the last attempt is over.
    fn lease_free(&self) -> bool {
        self.lease_until.is_none()
    }
}

/// A dead letter stays out of the worker's hands: with the relay taking mail again and the clock
/// far ahead, a later mail goes out and the dead one is neither attempted nor sent. (The worker
/// claims the oldest due rows first, so a claimable dead row would go in the same pass.)
async fn never_claimed_again(app: &TestApp, attempts: i64) {
    app.smtp.accept();
    app.advance(Duration::from_secs(24 * 3600));
    app.request_link("reset", "gagm").await;
    let mails = app.smtp.wait_for(1, WAIT).await;
    assert_eq!(mails.len(), 1, "only the later mail went out");
    assert!(mails[0].to[0].contains("marc.gagnon"), "{:?}", mails[0].to);
    let rows = outbox_rows(app).await;
    let dead: Vec<_> = rows.iter().filter(|r| r.dead_at.is_some()).collect();
    assert_eq!(dead.len(), 1, "{rows:?}");
    assert!(dead[0].sent_at.is_none() && dead[0].payload.is_none());
    assert_eq!(dead[0].attempts, attempts, "not claimed again");
}

/// `octopus-teams mail list [--dead]`, run as the real binary on the test's database.
async fn mail_list(app: &TestApp, args: &[&str]) -> String {
    let out = tokio::process::Command::from(crate::harness::process::command())
        .args(["mail", "list"])
        .args(args)
        .env("OCTOPUS__DATABASE__URL", &app.db.url)
        .env("OCTOPUS__DEMO__SEED", "false")
        .env("RUST_LOG", "warn")
        .env_remove("OCTOPUS_CONFIG")
        .output()
        .await
        .expect("run the binary");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test]
async fn the_operator_lists_the_dead_letters_with_their_reason() {
    let app = TestApp::spawn().await;
    app.smtp.refuse_recipients();
    app.request_link("reset", "trej").await;
    wait_row(&app, "dead-lettered", |r| r.dead_at.is_some()).await;
    app.smtp.accept();
    app.request_link("reset", "gagm").await;
    app.smtp.wait_for(1, WAIT).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !outbox_rows(&app)
        .await
        .iter()
        .all(|r| r.sent_at.is_some() || r.dead_at.is_some())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the later mail never marked sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let dead = mail_list(&app, &["--dead"]).await;
    let lines: Vec<&str> = dead.lines().filter(|l| l.contains("@")).collect();
    assert_eq!(lines.len(), 1, "{dead}");
    assert!(lines[0].contains("julie.tremblay@cegepsi.ca"), "{dead}");
    assert!(lines[0].contains(" dead "), "{dead}");
    assert!(lines[0].contains("550"), "the relay's reason: {dead}");
    assert!(dead.contains("1 mail(s) dead-lettered"), "{dead}");

    let all = mail_list(&app, &[]).await;
    assert!(
        all.lines()
            .any(|l| l.contains("marc.gagnon@cegepsi.ca") && l.contains(" sent ")),
        "{all}"
    );
    assert!(all.contains("2 mail(s)"), "{all}");
}
