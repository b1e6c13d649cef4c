//! The durable outbox: SMTP outages and restarts lose nothing; pending links are sealed.

use std::time::Duration;

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD},
};
use octopus_teams::service_key::ServiceKey;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::harness::TestApp;

#[tokio::test]
async fn mail_waits_while_smtp_is_down_and_leaves_once_it_is_back() {
    let app = TestApp::spawn().await;
    app.smtp.refuse();
    assert_eq!(
        app.request_link("reset", "trej").await.status(),
        200,
        "the answer does not wait for SMTP"
    );

    let row = wait_for_attempt(&app).await;
    assert!(row.1.contains("451"), "last error kept: {}", row.1);
    assert!(app.smtp.received().is_empty());

    app.smtp.accept();
    app.advance(Duration::from_secs(60)); // past the first backoff (30 s ± 20 %)
    let mail = app
        .smtp
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(mail.subject(), "Réinitialisation de mot de passe");
    let link = app.reset_link(&mail);
    assert_eq!(
        app.get(&app.path_of(&link)).await.0,
        200,
        "the delayed link still works"
    );
}

#[tokio::test]
async fn dropped_connections_are_retried_too() {
    let app = TestApp::spawn().await;
    app.smtp.drop_connections();
    app.request_link("reset", "trej").await;
    wait_for_attempt(&app).await;
    app.smtp.accept();
    app.advance(Duration::from_secs(60));
    app.smtp.wait_for(1, Duration::from_secs(10)).await;
}

#[tokio::test]
async fn pending_mail_survives_a_restart() {
    let app = TestApp::spawn().await;
    app.smtp.refuse();
    app.request_link("reset", "trej").await;
    wait_for_attempt(&app).await;
    let restarted = TestApp::builder().restart_of(&app);
    app.stop().await;

    let smtp_was_down = restarted;
    let app = smtp_was_down.spawn().await;
    app.smtp.accept();
    app.advance(Duration::from_secs(60));
    let mail = app
        .smtp
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    let link = app.reset_link(&mail);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
}

#[tokio::test]
async fn the_link_is_sealed_in_the_outbox_and_erased_once_sent() {
    let app = TestApp::spawn().await;
    app.smtp.refuse();
    app.request_link("reset", "trej").await;
    wait_for_attempt(&app).await;
    let row = sqlx::query("select outbox_id, payload from outbox")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    let outbox_id: String = row.try_get("outbox_id").unwrap();
    let payload: Option<Vec<u8>> = row.try_get("payload").unwrap();
    let payload = payload.expect("pending payload kept");

    app.smtp.accept();
    app.advance(Duration::from_secs(60));
    let mail = app
        .smtp
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    let link = app.reset_link(&mail);
    let token = link.rsplit('/').next().unwrap().to_string();

    // Sealed: the pending row held the token in no encoding at all …
    for (encoding, needle) in encodings_of(&token) {
        assert!(
            !contains(&payload, &needle),
            "the stored payload contains the token ({encoding})"
        );
    }
    // … and opens only with the service key, giving back the mail with its link.
    assert!(
        ServiceKey::generate()
            .open(&payload, outbox_id.as_bytes())
            .is_err(),
        "opened with another key"
    );
    let opened = app
        .key
        .open(&payload, outbox_id.as_bytes())
        .expect("opens with the service key (bound to its row)");
    let params: serde_json::Value = serde_json::from_slice(&opened).expect("a JSON payload");
    assert_eq!(params["link"], link.as_str(), "{params}");

    // The plain token is nowhere in the database: neither in the outbox nor in the token table.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let row = sqlx::query("select payload, sent_at, message_id from outbox")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        let sent: Option<i64> = row.try_get("sent_at").unwrap();
        if sent.is_some() {
            let payload: Option<Vec<u8>> = row.try_get("payload").unwrap();
            assert!(payload.is_none(), "payload erased once sent");
            let message_id: String = row.try_get("message_id").unwrap();
            assert_eq!(
                Some(message_id),
                mail.header("Message-ID"),
                "traceable by Message-ID"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox row never marked sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("select token_hash from reset_token")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    assert_eq!(hashes.len(), 1);
    assert_eq!(
        hashes[0],
        Sha256::digest(token.as_bytes()).to_vec(),
        "only the token's SHA-256 is stored"
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The token as it could sit in a payload: its text and its 32 bytes, raw, in hex, in base64
/// (both alphabets, at every alignment inside a longer text) and percent-encoded.
fn encodings_of(token: &str) -> Vec<(String, Vec<u8>)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).expect("a token of ours");
    let mut out = vec![
        ("raw text".to_string(), token.as_bytes().to_vec()),
        ("raw bytes".to_string(), bytes.clone()),
    ];
    for (name, value) in [("text", token.as_bytes()), ("bytes", &bytes[..])] {
        out.push((
            format!("hex of the {name}"),
            hex::encode(value).into_bytes(),
        ));
        out.push((
            format!("HEX of the {name}"),
            hex::encode_upper(value).into_bytes(),
        ));
        let percent: String = value.iter().map(|b| format!("%{b:02X}")).collect();
        out.push((format!("percent-encoded {name}"), percent.into_bytes()));
        for (alphabet, engine) in [("std", &STANDARD), ("url", &URL_SAFE)] {
            // Inside a longer text the token starts at any offset modulo 3; the characters
            // that depend on its neighbours are left out.
            for shift in 0..3 {
                let mut shifted = vec![b'x'; shift];
                shifted.extend_from_slice(value);
                let encoded = engine.encode(&shifted);
                let core = &encoded[4..encoded.len() - 4];
                out.push((
                    format!("base64 {alphabet} of the {name}, offset {shift}"),
                    core.as_bytes().to_vec(),
                ));
            }
        }
    }
    out
}

/// Waits until the worker has tried (and failed) once; returns (attempts, last_error).
async fn wait_for_attempt(app: &TestApp) -> (i64, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let row = sqlx::query("select attempts, last_error from outbox where sent_at is null")
            .fetch_optional(app.store.pool())
            .await
            .unwrap();
        if let Some(row) = row {
            let attempts: i64 = row.try_get("attempts").unwrap();
            let err: Option<String> = row.try_get("last_error").unwrap();
            if let Some(err) = err {
                return (attempts, err);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never tried to send"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `mail.concurrency` sends go to the relay at once: with the relay holding every sender at
/// MAIL FROM, three mails are caught there together (one at a time, only one would be), and all
/// five arrive once each when it lets go.
#[tokio::test]
async fn several_mails_are_in_flight_at_once_up_to_mail_concurrency() {
    let app = TestApp::builder()
        .config(|c| {
            c.mail.concurrency = 3;
            c.limits.requests_per_ip = 100;
            c.limits.requests_per_account = 100;
        })
        .spawn()
        .await;
    // Five people (one person's newer request replaces their older link, which is then not
    // mailed).
    app.import(
        "username,email,display_name\n\
         ppa,p.a@cegepsi.ca,P A\nppb,p.b@cegepsi.ca,P B\nppc,p.c@cegepsi.ca,P C\n",
    )
    .await;
    app.smtp.hold();
    for who in ["trej", "gagm", "ppa", "ppb", "ppc"] {
        assert_eq!(app.request_link("reset", who).await.status(), 200);
    }
    let held = || app.smtp.commands().iter().filter(|c| *c == "HELD").count();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while held() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} send(s) reached the relay at once",
            held()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.smtp.accept();
    let mails = app.smtp.wait_for(5, Duration::from_secs(20)).await;
    let mut ids: Vec<_> = mails
        .iter()
        .filter_map(|m| m.header("Message-ID"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "each mail once");
}

/// Waits for the one dead letter of the outbox, and returns it.
async fn dead_letter(app: &TestApp) -> octopus_teams::store::outbox::MailSummary {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut conn = app.store.conn().await.unwrap();
        let dead = octopus_teams::store::outbox::list(&mut conn, true, 10)
            .await
            .unwrap();
        if let Some(row) = dead.into_iter().next() {
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dead letter within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn one_minute_links() -> TestApp {
    TestApp::builder()
        .config(|c| c.organisations[0].token_lifetime_minutes = 1)
        .spawn()
        .await
}

#[tokio::test]
async fn a_link_that_expires_during_a_relay_outage_is_never_mailed() {
    let app = one_minute_links().await;
    app.smtp.refuse();
    assert_eq!(app.request_link("reset", "trej").await.status(), 200);
    wait_for_attempt(&app).await;

    // The relay is back 75 s later: the link (1 minute) is dead by then.
    app.smtp.accept();
    app.advance(Duration::from_secs(75));
    let row = dead_letter(&app).await;
    assert!(row.expired_at.is_some(), "marked expired: {row:?}");
    assert!(row.sent_at.is_none());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.smtp.received().is_empty(), "no mail with a dead link");
    assert!(
        app.audit_events()
            .await
            .contains(&"mail_expired".to_string())
    );

    // The operator sees it; the person asks again and gets a link that works.
    let (_, listed, _) = crate::cli::octopus(&app.db, &["mail", "list"]);
    assert!(listed.contains(" expired "), "{listed}");
    assert!(
        listed.contains(" EST ") || listed.contains(" EDT "),
        "in the organisation's time (America/Toronto): {listed}"
    );
    let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
}

#[tokio::test]
async fn a_link_with_less_than_two_minutes_left_is_not_sent_either() {
    let app = TestApp::spawn().await; // 30-minute links
    app.smtp.refuse();
    app.request_link("enroll", "gagm").await;
    wait_for_attempt(&app).await;
    app.smtp.accept();
    app.advance(Duration::from_secs(30 * 60 - 100)); // 100 s left: under the margin
    assert!(dead_letter(&app).await.expired_at.is_some());
    assert!(app.smtp.received().is_empty());
}

#[tokio::test]
async fn a_teams_request_whose_link_could_not_be_sent_in_time_says_so_on_its_card() {
    let app = one_minute_links().await;
    app.smtp.refuse();
    let a = crate::harness::card_action(
        &app.connector.service_url,
        "submit",
        serde_json::json!({"purpose": "reset", "username": "trej"}),
    );
    assert_eq!(app.bot(&app.personal("bonjour")).await.status(), 200);
    app.connector.wait_for(1).await;
    assert_eq!(app.bot(&a).await.status(), 200);
    wait_for_attempt(&app).await;
    let before = app.connector.posted().len();

    app.smtp.accept();
    app.advance(Duration::from_secs(75));
    let posted = app.connector.wait_for(before + 1).await;
    let update = &posted[before];
    assert_eq!(update.method, "PUT", "the status card is updated in place");
    assert!(
        update.path.ends_with("/activities/card-1"),
        "{}",
        update.path
    );
    let text = update.text();
    assert!(
        text.contains("Le lien n'a pas pu vous être envoyé à temps"),
        "{text}"
    );
    assert!(text.contains("Demander un nouveau lien"), "{text}");
    assert!(app.smtp.received().is_empty());
}

#[tokio::test]
async fn a_link_replaced_during_an_outage_is_not_mailed_its_successor_is() {
    let app = TestApp::spawn().await;
    app.smtp.refuse();
    app.request_link("reset", "trej").await;
    wait_for_attempt(&app).await;
    // A second request during the outage replaces the first link.
    app.request_link("reset", "trej").await;
    app.smtp.accept();
    app.advance(Duration::from_secs(60)); // past the first backoff
    let mail = app
        .smtp
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.smtp.received().len(),
        1,
        "only the link that works was mailed"
    );
    let link = app.reset_link(&mail);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
    let row = dead_letter(&app).await;
    assert!(
        row.expired_at.is_some(),
        "the replaced one is held back: {row:?}"
    );
}

#[tokio::test]
async fn the_link_of_a_mail_held_back_is_revoked() {
    let app = one_minute_links().await;
    app.smtp.refuse();
    app.request_link("reset", "trej").await;
    wait_for_attempt(&app).await;
    app.smtp.accept();
    app.advance(Duration::from_secs(75));
    dead_letter(&app).await;
    let revoked: Option<String> = sqlx::query_scalar("select revoked_reason from reset_token")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(revoked.as_deref(), Some("undelivered"));
}
