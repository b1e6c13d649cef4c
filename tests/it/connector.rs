//! The Bot Connector misbehaving as the real one does: an expired app token (401), a bot removed
//! or blocked (403), a conversation gone (404), 503 with Retry-After, 500 on a POST, and answers
//! slower than the client's timeout. The local connector takes its answers from a script.

use std::time::Duration;

use octopus_teams::store::bot as store;
use serde_json::{Value, json};

use crate::harness::{
    Activity, BOT_ID, TEAMEO, TestApp,
    connector::{Answer, Attempt},
};

const WAIT: Duration = Duration::from_secs(10);

/// A string from the French table, as the cards show it.
fn fr(key: &str) -> String {
    let strings = octopus_teams::i18n::Strings::load().unwrap();
    strings.get(octopus_teams::i18n::Locale::FrCa, key)
}

fn is_welcome(body: &Value) -> bool {
    body.to_string().contains(&fr("cards.welcomeTitle"))
}

fn is_request_form(body: &Value) -> bool {
    body.to_string().contains("\"username\"")
}

async fn reference(
    app: &TestApp,
    conversation: &str,
) -> Option<octopus_teams::model::ConversationRef> {
    let mut conn = app.store.conn().await.unwrap();
    store::conversation(&mut conn, conversation).await.unwrap()
}

/// Polls until the conversation reference is (or is not) stored.
async fn wait_reference(app: &TestApp, conversation: &str, stored: bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while reference(app, conversation).await.is_some() != stored {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reference of {conversation} should be {}; connector writes: {:#?}",
            if stored { "stored" } else { "forgotten" },
            app.connector.attempts()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls until the client hung up on attempt `index` (it gave up waiting for the answer).
async fn wait_abandoned(app: &TestApp, index: usize) -> Vec<Attempt> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let attempts = app.connector.attempts();
        if attempts.get(index).is_some_and(|a| a.abandoned) {
            return attempts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the service never gave up on the slow answer: {attempts:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_expired_app_token_is_renewed_once_and_the_reply_posted() {
    let app = TestApp::spawn().await;
    app.connector.script(Answer::status(401));

    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);

    let posted = app.connector.wait_for(1).await;
    let attempts = app.connector.attempts();
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    assert_eq!(attempts[0].status, 401);
    assert_eq!(
        attempts[0].authorization.as_deref(),
        Some("Bearer app-token-1")
    );
    assert_eq!(
        posted[0].authorization.as_deref(),
        Some("Bearer app-token-2"),
        "the retry carries a newly fetched token"
    );
    assert_eq!(app.entra.token_hits(), 2);
    assert!(is_welcome(&posted[0].body), "{}", posted[0].text());
}

#[tokio::test]
async fn a_token_refused_twice_is_not_renewed_again_and_again() {
    let app = TestApp::spawn().await;
    app.connector.script(Answer::status(401));
    app.connector.script(Answer::status(401));

    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    app.connector.wait_for_attempts(2).await;
    // The next message goes through with the token fetched for the refused retry.
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    let posted = app.connector.wait_for(1).await;

    let attempts = app.connector.attempts();
    assert_eq!(
        attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        [401, 401, 200],
        "one renewal per call, then the call fails: {attempts:#?}"
    );
    assert_eq!(app.entra.token_hits(), 2);
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].authorization.as_deref(),
        Some("Bearer app-token-2")
    );
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_and_the_reply_posted_once() {
    let app = TestApp::spawn().await;
    app.connector.script(Answer::status(503).retry_after(1));

    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);

    let posted = app.connector.wait_for(1).await;
    let attempts = app.connector.attempts();
    assert_eq!(
        attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
        [503, 200]
    );
    assert_eq!(posted.len(), 1);
    assert!(is_welcome(&posted[0].body));
}

#[tokio::test]
async fn a_500_on_a_post_is_not_retried_blindly() {
    let app = TestApp::spawn().await;
    app.connector.script(Answer::status(500));
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    app.connector.wait_for_attempts(1).await;

    // A second message, answered slowly (3 s, longer than any retry delay of the service): a
    // blind retry of the first post would arrive while it waits.
    app.connector.script(Answer::slow(Duration::from_secs(3)));
    assert_eq!(
        app.bot(&app.personal("mot de passe oublié")).await.status(),
        200
    );
    let attempts = app.connector.wait_for_attempts(2).await;
    let attempts = match attempts.iter().all(|a| a.finished) {
        true => attempts,
        false => app.connector.wait_for_attempts(attempts.len()).await,
    };

    let welcomes: Vec<_> = attempts.iter().filter(|a| is_welcome(&a.body)).collect();
    assert_eq!(
        welcomes.len(),
        1,
        "the refused post was made once: {attempts:#?}"
    );
    assert_eq!(welcomes[0].status, 500);
    assert!(attempts.iter().any(|a| is_request_form(&a.body)));
    assert!(
        app.connector.posted().iter().all(|r| !is_welcome(&r.body)),
        "the welcome card never reached the conversation"
    );
}

#[tokio::test]
async fn a_403_forgets_the_conversation_until_the_person_writes_again() {
    let app = TestApp::spawn().await;
    // Julie blocked the bot.
    app.connector.script(Answer::status(403));
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    app.connector.wait_for_attempts(1).await;
    wait_reference(&app, "a:julie", false).await;
    assert_eq!(app.connector.attempts().len(), 1, "403 is not retried");

    // She unblocks it and writes again: the reference is stored anew and she gets her answer.
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    let posted = app.connector.wait_for(1).await;
    assert!(is_welcome(&posted[0].body));
    wait_reference(&app, "a:julie", true).await;
}

#[tokio::test]
async fn a_404_on_a_status_card_forgets_the_conversation_and_the_reset_still_completes() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.bot(&app.personal("Mot de passe oublié ?"))
            .await
            .status(),
        200
    );
    app.connector.wait_for(1).await;
    let mut submit = Activity::of("message")
        .to(&app.connector.service_url)
        .json();
    submit["value"] = json!({"action": "submit", "purpose": "reset", "username": "trej"});
    submit["replyToId"] = json!("msg-1");
    assert_eq!(app.bot(&submit).await.status(), 200);
    app.connector.wait_for(2).await;
    let mail = app.smtp.wait_for(1, WAIT).await.remove(0);
    let link = app.reset_link(&mail);

    // The chat was deleted: the card update for "link opened" finds it gone.
    app.connector.script(Answer::status(404));
    assert_eq!(app.get(&app.path_of(&link)).await.0, 200);
    let attempts = app.connector.wait_for_attempts(3).await;
    assert_eq!(attempts[2].method, "PUT");
    assert_eq!(attempts[2].status, 404);
    wait_reference(&app, "a:julie", false).await;

    // The reset itself is unaffected.
    assert_eq!(
        app.set_password(&link, "ete2026", "ete2026").await.status(),
        303
    );
    assert_eq!(
        app.sign_in("trej", "ete2026", "nothing").await.status(),
        303
    );
}

#[tokio::test]
async fn a_slow_connector_is_given_up_on_and_the_private_chat_is_not_half_opened() {
    let app = TestApp::builder()
        .config(|c| c.bot.connector_timeout_secs = 1)
        .spawn()
        .await;
    // The notice in the channel goes through; opening the 1:1 chat hangs for 4 s.
    app.connector.script(Answer::status(200));
    app.connector.script(Answer::slow(Duration::from_secs(4)));
    let mut asked = Activity::message("<at>Octopus</at> mot de passe oublié")
        .to(&app.connector.service_url)
        .in_conversation("19:teameo@thread.tacv2;messageid=42", "channel")
        .in_team(TEAMEO)
        .json();
    asked["entities"] = json!([{"type": "mention", "text": "<at>Octopus</at>", "mentioned": {"id": format!("28:{BOT_ID}"), "name": "Octopus"}}]);
    assert_eq!(app.bot(&asked).await.status(), 200);

    let attempts = wait_abandoned(&app, 1).await;
    assert!(
        attempts[1].path.ends_with("/v3/conversations"),
        "{attempts:#?}"
    );
    // Once the slow answer would have come, nothing more was attempted: no repeated POST, no
    // form posted into a chat the service never heard back about, no reference stored.
    let attempts = app.connector.wait_for_attempts(2).await;
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    assert!(reference(&app, "a:personal-29:julie").await.is_none());
    assert!(!attempts.iter().any(|a| is_request_form(&a.body)));
}
