//! Housekeeping with the clock: what ended goes after its retention, what is live stays, and two
//! instances sweeping at once share the work without errors.

use std::time::Duration;

use octopus_teams::{clock::Clock, housekeeping::sweep};

use crate::harness::TestApp;

const DAY: Duration = Duration::from_secs(24 * 3600);

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

async fn sweep_twice_at_once(app: &TestApp) {
    let now = app.clock.unix();
    let (a, b) = tokio::join!(sweep(&app.store, now), sweep(&app.store, now));
    a.expect("first sweep");
    b.expect("second sweep");
}

#[tokio::test]
async fn ended_rows_go_after_their_retention_and_live_ones_stay() {
    let app = TestApp::spawn().await;
    // Julie: a mail sent, its link used, a session opened.
    let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
    assert_eq!(app.sign_in("trej", "abc123", "nothing").await.status(), 303);
    // …and the "password changed" notice.
    app.smtp.wait_for(2, Duration::from_secs(30)).await;
    // Marc: a dead letter (the relay refuses him for good).
    app.smtp.refuse_recipients();
    assert_eq!(app.request_link("reset", "gagm").await.status(), 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count(
        &app,
        "select count(*) from outbox where dead_at is not null",
    )
    .await
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.smtp.accept();
    let tokens = "select count(*) from reset_token";
    let sessions = "select count(*) from login_session";
    let sent = "select count(*) from outbox where sent_at is not null";
    let dead = "select count(*) from outbox where dead_at is not null";
    assert_eq!(count(&app, tokens).await, 2);
    assert!(count(&app, sessions).await >= 1);

    sweep_twice_at_once(&app).await;
    assert_eq!(
        count(&app, tokens).await,
        2,
        "nothing ended long enough ago"
    );
    assert_eq!(count(&app, sent).await, 2);
    assert_eq!(count(&app, dead).await, 1);

    // A week and a day later: the used and the expired link go, the session too; a link asked
    // for just now stays and still opens.
    app.advance(8 * DAY);
    let fresh = app.reset_link(&app.link_mail("reset", "trej", 3).await);
    sweep_twice_at_once(&app).await;
    assert_eq!(count(&app, tokens).await, 1, "only the fresh link is left");
    assert_eq!(count(&app, sessions).await, 0);
    assert_eq!(app.get(&app.path_of(&fresh)).await.0, 200);
    assert_eq!(count(&app, sent).await, 3, "sent mail is kept 30 days");

    // 31 days: the first two sent mails go; the dead letter waits for an operator for 90 days.
    app.advance(23 * DAY);
    sweep_twice_at_once(&app).await;
    assert_eq!(count(&app, sent).await, 1);
    assert_eq!(count(&app, dead).await, 1);
    app.advance(60 * DAY);
    sweep_twice_at_once(&app).await;
    assert_eq!(count(&app, dead).await, 0);
    assert_eq!(count(&app, sent).await, 0);
}
