//! The durable outbox: SMTP outages and restarts lose nothing; pending links are sealed.

use std::time::Duration;

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
    let payload: Option<Vec<u8>> = sqlx::query("select payload from outbox")
        .fetch_one(app.store.pool())
        .await
        .unwrap()
        .try_get("payload")
        .unwrap();
    let payload = payload.expect("pending payload kept");
    assert!(
        !String::from_utf8_lossy(&payload).contains("/reset/"),
        "sealed, not readable"
    );

    app.smtp.accept();
    app.advance(Duration::from_secs(60));
    let mail = app
        .smtp
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    let token = app
        .reset_link(&mail)
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
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
    assert!(
        hashes
            .iter()
            .all(|h| h.len() == 32 && !String::from_utf8_lossy(h).contains(&token))
    );
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
