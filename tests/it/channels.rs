//! Only Microsoft Teams is served: on other Bot Framework channels the client writes the tenant,
//! the team and the sender itself. Refused with 403 before anything is done.

use serde_json::{Value, json};

use crate::harness::{Activity, TestApp};

async fn outbox_rows(app: &TestApp) -> usize {
    app.mails_queued().await.len()
}

/// A message and a card submission (which would send a link to trej) on `channel`.
fn attempts(app: &TestApp, channel: &str) -> [Value; 2] {
    let mut message = app.personal("mot de passe oublié");
    message["channelId"] = json!(channel);
    let mut submit = Activity::of("invoke").to(&app.connector.service_url).json();
    submit["channelId"] = json!(channel);
    submit["name"] = json!("adaptiveCard/action");
    submit["value"] = json!({"action": {"type": "Action.Execute", "verb": "submit",
        "data": {"purpose": "reset", "username": "trej"}}, "trigger": "manual"});
    [message, submit]
}

#[tokio::test]
async fn activities_from_other_channels_are_refused_with_valid_tokens() {
    let app = TestApp::spawn().await;
    // Microsoft's signing keys are endorsed for these channels too: the tokens are valid.
    app.idp.endorse("directline");
    app.idp.endorse("emulator");
    for channel in ["webchat", "directline", "emulator"] {
        for a in attempts(&app, channel) {
            let res = app.bot(&a).await;
            assert_eq!(res.status(), 403, "{channel} {}", a["type"]);
        }
    }
    // A Teams message afterwards is answered: by then a reply to the refused ones would be there.
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    let posted = app.connector.wait_for(1).await;
    assert_eq!(
        app.connector.posted().len(),
        1,
        "only the Teams message was answered: {posted:#?}"
    );
    assert_eq!(app.connector.member_lookups(), 0);
    assert_eq!(outbox_rows(&app).await, 0, "nothing queued for trej");
    assert!(app.smtp.received().is_empty());
}

#[tokio::test]
async fn a_teams_card_submission_still_works() {
    let app = TestApp::spawn().await;
    let [_, mut submit] = attempts(&app, "msteams");
    submit["channelId"] = json!("msteams");
    let res = app.bot(&submit).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        outbox_rows(&app).await,
        1,
        "the control: Teams gets its link"
    );
}

#[tokio::test]
async fn local_development_mode_takes_json_from_loopback_tools_only() {
    let app = TestApp::builder()
        .config(|c| c.bot.app_id = String::new())
        .spawn()
        .await;
    let url = app.url("/api/messages");
    let a = app.personal("aide");

    let res = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body(a.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415, "a cross-site form cannot post here");

    let mut far = a.clone();
    far["serviceUrl"] = json!("https://smba.trafficmanager.net/amer/");
    assert_eq!(
        app.bot_with(&far, None).await.status(),
        403,
        "replies stay on loopback"
    );

    let mut webchat = a.clone();
    webchat["channelId"] = json!("webchat");
    assert_eq!(app.bot_with(&webchat, None).await.status(), 403);

    let mut emulator = a.clone();
    emulator["channelId"] = json!("emulator");
    assert_eq!(
        app.bot_with(&emulator, None).await.status(),
        200,
        "the Bot Framework Emulator is served in local development"
    );
    assert_eq!(app.bot_with(&a, None).await.status(), 200);
    app.connector.wait_for(2).await;
}
