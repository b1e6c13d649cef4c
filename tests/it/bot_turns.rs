//! A card's submission is done once whatever Teams redelivers: after a crash before its effect
//! (the redelivery does it), after a crash between its effect and its answer (the redelivery
//! answers from what was recorded, without a second link or mail), and when two deliveries of
//! it arrive at once. The crashes are real: the real binary, SIGKILLed mid-turn.

use std::{path::Path, time::Duration};

use serde_json::{Value, json};
use tokio::process::Child;

use crate::harness::{
    Activity, BOT_ID, BOT_PASSWORD, Connector, Entra, Idp, SmtpSink, TENANT, TestApp, TestDb,
    connector::Answer, process,
};

const WAIT: Duration = Duration::from_secs(20);

/// Julie's "submit" on the request card `card-1` of her personal chat (Action.Submit), under
/// one activity id whatever the number of deliveries.
fn submission(connector: &Connector) -> Value {
    let mut a = Activity::of("message").to(&connector.service_url).json();
    a["value"] = json!({"action": "submit", "purpose": "reset", "username": "trej"});
    a["replyToId"] = json!("card-1");
    a
}

/// The deployment the real binary serves: the database (accounts imported) and the stand-ins
/// of an in-process service that set it up and stopped.
struct Deployment {
    db: std::sync::Arc<TestDb>,
    idp: Idp,
    entra: Entra,
    connector: Connector,
    smtp: SmtpSink,
    key: String,
    dir: tempfile::TempDir,
}

impl Deployment {
    /// `None` on SQLite: one instance, in its own process, is the SQLite default's whole story.
    async fn on_postgres(test: &str) -> Option<Deployment> {
        let app = TestApp::spawn().await;
        if !app.db.is_postgres() {
            eprintln!(
                "{test}: the real binary is restarted on a shared PostgreSQL; skipped on SQLite"
            );
            return None;
        }
        let d = Deployment {
            db: app.db.clone(),
            idp: app.idp.clone(),
            entra: app.entra.clone(),
            connector: app.connector.clone(),
            smtp: app.smtp.clone(),
            key: app.key.to_base64(),
            dir: tempfile::tempdir().unwrap(),
        };
        app.stop().await;
        Some(d)
    }

    /// `octopus-teams serve` with the bot on the stand-ins; killed on drop.
    async fn serve(&self) -> (Child, String) {
        serve(self, self.dir.path()).await
    }

    /// Posts an activity with a valid channel token; the bot answers 200 at once.
    async fn deliver(&self, base: &str, a: &Value) {
        let token = self.idp.channel_token(BOT_ID, &self.connector.service_url);
        let res = reqwest::Client::new()
            .post(format!("{base}/api/messages"))
            .bearer_auth(token)
            .json(a)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    async fn count(&self, sql: &str) -> i64 {
        let store = octopus_teams::store::Store::connect(&self.db.secret_url())
            .await
            .unwrap();
        sqlx::query_scalar(sql)
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    /// One link, one queued mail, and the relay got that one mail.
    async fn assert_one_link_and_one_mail(&self) {
        assert_eq!(self.count("select count(*) from reset_token").await, 1);
        assert_eq!(self.count("select count(*) from outbox").await, 1);
        let deadline = tokio::time::Instant::now() + WAIT;
        while self
            .count("select count(*) from outbox where sent_at is null")
            .await
            > 0
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the mail was not sent"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mails = self.smtp.received();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].to, vec!["<julie.tremblay@cegepsi.ca>".to_string()]);
    }
}

async fn serve(d: &Deployment, dir: &Path) -> (Child, String) {
    let mut cmd = process::command();
    cmd.current_dir(dir)
        .env("OCTOPUS__DATABASE__URL", &d.db.url)
        .env("OCTOPUS__MAIL__TRANSPORT", d.smtp.url())
        .env("OCTOPUS__MAIL__POLL_INTERVAL_SECS", "1")
        .env("OCTOPUS__SECURITY__SECRET_KEY", &d.key)
        .env("OCTOPUS__DEMO__SEED", "false")
        .env("OCTOPUS__BOT__APP_ID", BOT_ID)
        .env("OCTOPUS__BOT__APP_PASSWORD", BOT_PASSWORD)
        .env("OCTOPUS__BOT__APP_TYPE", "single_tenant")
        .env("OCTOPUS__BOT__APP_TENANT_ID", TENANT)
        .env("OCTOPUS__BOT__TOKEN_AUTHORITY", &d.entra.base)
        .env("OCTOPUS__BOT__OPENID_METADATA_URL", d.idp.metadata_url())
        .env("OCTOPUS__TAB__ENTRA_AUTHORITY", &d.entra.base)
        .env("RUST_LOG", "warn");
    process::serve(cmd).await
}

async fn sigkill(mut child: Child) {
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

#[tokio::test]
async fn a_submission_whose_first_delivery_crashed_before_acting_is_done_by_the_redelivery() {
    let Some(d) = Deployment::on_postgres(
        "a_submission_whose_first_delivery_crashed_before_acting_is_done_by_the_redelivery",
    )
    .await
    else {
        return;
    };
    // Arrange: the first instance is caught mid-turn (waiting for Julie's account row, which
    // the test holds locked), before it has issued anything, and killed.
    let (first, base) = d.serve().await;
    let a = submission(&d.connector);
    let store = octopus_teams::store::Store::connect(&d.db.secret_url())
        .await
        .unwrap();
    let mut blocker = store.pool().begin().await.unwrap();
    sqlx::query("select account_id from account where username = 'trej' for update")
        .fetch_all(&mut *blocker)
        .await
        .unwrap();
    d.deliver(&base, &a).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while d
        .count(
            "select count(*) from pg_stat_activity \
             where wait_event_type = 'Lock' and datname = current_database()",
        )
        .await
        < 1
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the turn never waited for the account's row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sigkill(first).await;
    blocker.rollback().await.unwrap();
    assert_eq!(d.count("select count(*) from reset_token").await, 0);

    // Act: Teams redelivers the activity to the restarted service.
    let (_second, base) = d.serve().await;
    d.deliver(&base, &a).await;

    // Assert: the card turned into the status card, and the link was sent, once.
    let posted = d.connector.wait_for(1).await;
    assert_eq!(posted[0].method, "PUT", "the clicked card is updated");
    assert!(posted[0].path.ends_with("/activities/card-1"));
    let card = posted[0].card().expect("a card").to_string();
    assert!(card.contains("refresh"), "the live status card: {card}");
    d.assert_one_link_and_one_mail().await;
}

#[tokio::test]
async fn a_submission_whose_first_delivery_crashed_after_acting_is_answered_without_a_second_mail()
{
    let Some(d) = Deployment::on_postgres(
        "a_submission_whose_first_delivery_crashed_after_acting_is_answered_without_a_second_mail",
    )
    .await
    else {
        return;
    };
    // Arrange: the first instance issues the link, then is killed while the connector holds
    // the update of the card (the answer Julie would have seen). The relay holds its mail too:
    // a mail the relay took just before the kill would be sent again by the next instance (it
    // could not record it sent), which is the outbox's business, not this test's.
    let (first, base) = d.serve().await;
    let a = submission(&d.connector);
    d.smtp.hold();
    d.connector.script(Answer::slow(Duration::from_secs(120)));
    d.deliver(&base, &a).await;
    let held = d.connector.wait_for(1).await.remove(0);
    sigkill(first).await;
    assert_eq!(held.method, "PUT");
    assert_eq!(d.count("select count(*) from reset_token").await, 1);

    // Act: Teams redelivers the activity to the restarted service.
    d.smtp.accept();
    let (_second, base) = d.serve().await;
    d.deliver(&base, &a).await;

    // Assert: the card is updated again, with the same status, and nothing was sent twice.
    let again = d.connector.wait_for(2).await.remove(1);
    assert_eq!(again.method, "PUT");
    assert_eq!(again.path, held.path);
    assert_eq!(
        again.card(),
        held.card(),
        "the status of the first delivery's link"
    );
    d.assert_one_link_and_one_mail().await;
}

#[tokio::test]
async fn two_deliveries_of_one_submission_at_once_issue_one_link_and_give_the_same_answer() {
    // Arrange: both deliveries at once.
    let app = TestApp::spawn().await;
    let mut a = Activity::of("invoke").to(&app.connector.service_url).json();
    a["name"] = json!("adaptiveCard/action");
    a["replyToId"] = json!("card-1");
    a["value"] = json!({"action": {"type": "Action.Execute", "verb": "submit",
        "data": {"purpose": "reset", "username": "trej"}}, "trigger": "manual"});
    // Act
    let (one, two) = tokio::join!(app.bot(&a), app.bot(&a));

    // Assert: one link, one mail, and both deliveries answered with its status card.
    let one: Value = one.json().await.unwrap();
    let two: Value = two.json().await.unwrap();
    assert_eq!(
        one["type"], "application/vnd.microsoft.card.adaptive",
        "{one}"
    );
    assert_eq!(one, two, "the duplicate is answered like the first");
    assert!(one.to_string().contains("refresh"), "the live status card");
    let pool = app.store.pool().clone();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("select count(*) from reset_token").await, 1);
    assert_eq!(count("select count(*) from outbox").await, 1);
    assert_eq!(count("select count(*) from bot_request").await, 1);
    app.smtp.wait_for(1, WAIT).await;
}
