//! The reset conversation in Teams, end to end: the bot, a local Bot Connector that records what
//! the bot posts, and the real SMTP server receiving the email.

use std::time::Duration;

use octopus_teams::i18n::Locale;
use serde_json::{Value, json};

use crate::harness::{
    Activity, BOT_ID, TEAMEO, TENANT, TestApp,
    connector::{self, Recorded},
};

const WAIT: Duration = Duration::from_secs(10);

/// The value of the card's `username` input.
fn username_in(card: &Value) -> Option<String> {
    fn find(v: &Value) -> Option<String> {
        match v {
            Value::Object(m) if m.get("id") == Some(&json!("username")) => {
                m.get("value").and_then(Value::as_str).map(str::to_string)
            }
            Value::Object(m) => m.values().find_map(find),
            Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    find(card)
}

fn text_of(card: &Value) -> String {
    card.to_string()
}

fn submit(app: &TestApp, reply_to: &str, username: &str, purpose: &str) -> Value {
    let mut a = Activity::of("message")
        .to(&app.connector.service_url)
        .json();
    a["value"] = json!({"action": "submit", "purpose": purpose, "username": username});
    a["replyToId"] = json!(reply_to);
    a
}

fn invoke(app: &TestApp, verb: &str, data: Value) -> Value {
    let mut a = Activity::of("invoke").to(&app.connector.service_url).json();
    a["name"] = json!("adaptiveCard/action");
    a["replyToId"] = json!("card-1");
    a["value"] = json!({"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"});
    a
}

async fn invoke_card(app: &TestApp, verb: &str, data: Value) -> Value {
    let res = app.bot(&invoke(app, verb, data)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["statusCode"], 200);
    assert_eq!(
        body["type"], "application/vnd.microsoft.card.adaptive",
        "{body}"
    );
    body["value"].clone()
}

fn last_card(posted: &[Recorded]) -> Value {
    posted
        .iter()
        .rev()
        .find_map(|r| r.card().cloned())
        .expect("a card was posted")
}

#[tokio::test]
async fn mot_de_passe_oublie_in_a_personal_chat_ends_with_the_email_and_a_live_card() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.bot(&app.personal("Mot de passe oublié ?"))
            .await
            .status(),
        200
    );
    let posted = app.connector.wait_for(1).await;
    assert_eq!(posted[0].method, "POST");
    assert!(
        posted[0]
            .path
            .starts_with("/amer/v3/conversations/a%3Ajulie/activities"),
        "{}",
        posted[0].path
    );
    let card = posted[0].card().unwrap();
    assert_eq!(card["version"], "1.5");
    assert_eq!(
        username_in(card).as_deref(),
        Some("trej"),
        "prefilled from the Entra object id"
    );
    assert!(text_of(card).contains("Réinitialiser votre mot de passe"));

    // Action.Submit from the card (clients without Universal Actions).
    assert_eq!(
        app.bot(&submit(&app, "msg-1", "trej", "reset"))
            .await
            .status(),
        200
    );
    let posted = app.connector.wait_for(2).await;
    assert_eq!(posted[1].method, "PUT", "the card is replaced in place");
    assert!(posted[1].path.ends_with("/activities/msg-1"));
    let status = posted[1].card().unwrap();
    assert!(
        text_of(status).contains("j***@c***.ca"),
        "the owner sees the masked address: {status}"
    );
    assert!(
        text_of(status).contains("notme"),
        "with « Ce n'était pas moi »"
    );

    let mail = app.smtp.wait_for(1, WAIT).await.remove(0);
    assert_eq!(mail.subject(), "Réinitialisation de mot de passe");
    let link = app.reset_link(&mail);
    assert_eq!(app.get(&app.path_of(&link)).await.0, 200);
    let posted = app.connector.wait_for(3).await;
    assert_eq!(posted[2].method, "PUT", "link opened: the card says so");
    assert!(text_of(posted[2].card().unwrap()).contains(&app_str("cards.usedTitle")));

    assert_eq!(
        app.set_password(&link, "ete2026", "ete2026").await.status(),
        303
    );
    let posted = app.connector.wait_for(5).await;
    let changed = posted
        .iter()
        .skip(3)
        .find(|r| r.method == "PUT")
        .expect("card updated");
    assert!(text_of(changed.card().unwrap()).contains(&app_str("cards.changedTitle")));
    let told = posted
        .iter()
        .skip(3)
        .find(|r| r.method == "POST")
        .expect("a proactive message");
    assert!(
        told.text()
            .contains("Votre mot de passe Octopus a été changé"),
        "{}",
        told.text()
    );
    assert_eq!(
        app.sign_in("trej", "ete2026", "nothing").await.status(),
        303
    );
}

/// A string from the French table, as the cards show it.
fn app_str(key: &str) -> String {
    let strings = octopus_teams::i18n::Strings::load().unwrap();
    strings.get(Locale::FrCa, key)
}

/// A string of another language's table, which must really be translated (`get` falls back to
/// French).
fn words(locale: Locale, key: &str) -> String {
    let strings = octopus_teams::i18n::Strings::load().unwrap();
    let s = strings.get(locale, key);
    assert_ne!(s, strings.get(Locale::FrCa, key), "{key} is not translated");
    s
}

#[tokio::test]
async fn the_same_through_action_execute_with_the_card_refreshed_in_place() {
    let app = TestApp::spawn().await;
    let form = invoke_card(&app, "forgot", json!({})).await;
    assert_eq!(username_in(&form).as_deref(), Some("trej"));

    let status = invoke_card(
        &app,
        "submit",
        json!({"purpose": "reset", "username": "trej"}),
    )
    .await;
    assert_eq!(status["refresh"]["action"]["verb"], "refresh");
    assert_eq!(status["refresh"]["userIds"], json!(["29:julie"]));
    assert!(text_of(&status).contains("j***@c***.ca"));
    let request_id = status["refresh"]["action"]["data"]["requestId"]
        .as_str()
        .unwrap()
        .to_string();

    let mail = app.smtp.wait_for(1, WAIT).await.remove(0);
    let refreshed = invoke_card(&app, "refresh", json!({"requestId": request_id})).await;
    assert!(text_of(&refreshed).contains(&app_str("cards.sentTitle")));

    let link = app.reset_link(&mail);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
    let card_update = app
        .connector
        .wait_for(2)
        .await
        .into_iter()
        .find(|r| r.method == "PUT")
        .expect("PUT");
    assert!(
        card_update.path.ends_with("/activities/card-1"),
        "the clicked card is updated: {}",
        card_update.path
    );
    let refreshed = invoke_card(&app, "refresh", json!({"requestId": request_id})).await;
    assert!(text_of(&refreshed).contains(&app_str("cards.changedTitle")));
    assert_eq!(app.sign_in("trej", "abc123", "nothing").await.status(), 303);
}

#[tokio::test]
async fn ce_n_etait_pas_moi_on_the_card_cancels_the_link() {
    let app = TestApp::spawn().await;
    let status = invoke_card(
        &app,
        "submit",
        json!({"purpose": "reset", "username": "trej"}),
    )
    .await;
    let request_id = status["refresh"]["action"]["data"]["requestId"]
        .as_str()
        .unwrap()
        .to_string();
    let link = app.reset_link(&app.smtp.wait_for(1, WAIT).await.remove(0));
    let cancelled = invoke_card(&app, "notme", json!({"requestId": request_id})).await;
    assert!(
        text_of(&cancelled).contains(&app_str("cards.cancelledTitle")),
        "{cancelled}"
    );
    assert_eq!(app.get(&app.path_of(&link)).await.0, 410);
    assert!(
        app.audit_events()
            .await
            .contains(&"link_cancelled".to_string())
    );
}

#[tokio::test]
async fn enrolment_and_the_three_languages() {
    let app = TestApp::spawn().await;
    let mut en = app.personal("sign up");
    en["locale"] = json!("en-US");
    app.bot(&en).await;
    let card = last_card(&app.connector.wait_for(1).await);
    assert!(text_of(&card).contains("Sign up for the service"), "{card}");

    let mut pt = app.personal("esqueci a senha");
    pt["locale"] = json!("pt-BR");
    app.bot(&pt).await;
    let card = last_card(&app.connector.wait_for(2).await);
    assert!(text_of(&card).contains("Redefinir sua senha"), "{card}");

    app.bot(&app.personal("m'inscrire")).await;
    let card = last_card(&app.connector.wait_for(3).await);
    assert!(text_of(&card).contains("M'inscrire au service"));

    let mut a = submit(&app, "msg-1", "trej", "enroll");
    a["locale"] = json!("en-US");
    app.bot(&a).await;
    let mail = app.smtp.wait_for(1, WAIT).await.remove(0);
    assert_eq!(
        mail.subject(),
        words(Locale::En, "mail.enroll.subject"),
        "the mail follows the Teams language"
    );
    assert!(
        mail.text()
            .contains(&words(Locale::En, "mail.enroll.intro")),
        "{}",
        mail.text()
    );
    let link = app.reset_link(&mail);
    let res = app.set_password(&link, "bonjour1", "bonjour1").await;
    assert_eq!(res.headers()["location"], "/login?org=demo&changed=enroll");
}

#[tokio::test]
async fn a_redelivered_activity_sends_one_email() {
    let app = TestApp::spawn().await;
    let a = submit(&app, "msg-1", "trej", "reset");
    assert_eq!(app.bot(&a).await.status(), 200);
    app.smtp.wait_for(1, WAIT).await;
    assert_eq!(
        app.bot(&a).await.status(),
        200,
        "Teams retries after ~15 s: acknowledged"
    );

    let i = invoke(
        &app,
        "submit",
        json!({"purpose": "reset", "username": "trej"}),
    );
    let first: Value = app.bot(&i).await.json().await.unwrap();
    let again: Value = app.bot(&i).await.json().await.unwrap();
    assert_eq!(first, again, "a redelivered invoke gets the first answer");
    app.smtp.wait_for(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        app.smtp.received().len(),
        2,
        "one email per activity, not per delivery"
    );
}

#[tokio::test]
async fn too_many_requests_get_the_rate_limit_card() {
    let app = TestApp::builder()
        .config(|c| c.limits.requests_per_ip = 1)
        .spawn()
        .await;
    invoke_card(
        &app,
        "submit",
        json!({"purpose": "reset", "username": "trej"}),
    )
    .await;
    let card = invoke_card(
        &app,
        "submit",
        json!({"purpose": "reset", "username": "trej"}),
    )
    .await;
    assert!(
        text_of(&card).contains(&app_str("cards.rateLimitedTitle")),
        "{card}"
    );
    // The invoke is answered once the request is committed: the refused one queued no mail.
    let queued = app.mails_queued().await.len();
    assert_eq!(queued, 1, "one mail queued, none for the refused request");
    app.smtp.wait_for(1, WAIT).await;
}

#[tokio::test]
async fn someone_else_s_username_gets_the_uniform_answer() {
    let app = TestApp::spawn().await;
    let card = invoke_card(
        &app,
        "submit",
        json!({"purpose": "reset", "username": "gagm"}),
    )
    .await;
    let unknown = invoke_card(
        &app,
        "submit",
        json!({"purpose": "reset", "username": "nobody"}),
    )
    .await;
    assert_eq!(
        card, unknown,
        "the same card whether the account exists or not"
    );
    assert!(!text_of(&card).contains("@"), "no address shown: {card}");
    assert!(!text_of(&card).contains("notme"));
    assert_eq!(
        app.smtp.wait_for(1, WAIT).await[0].to,
        vec!["<marc.gagnon@cegepsi.ca>".to_string()]
    );
}

#[tokio::test]
async fn an_unknown_tenant_is_politely_refused() {
    let app = TestApp::spawn().await;
    let mut a = app.personal("mot de passe oublié");
    a["channelData"]["tenant"]["id"] = json!("99999999-9999-9999-9999-999999999999");
    a["conversation"]["tenantId"] = json!("99999999-9999-9999-9999-999999999999");
    assert_eq!(app.bot(&a).await.status(), 200);
    let card = last_card(&app.connector.wait_for(1).await);
    assert!(text_of(&card).contains(&app_str("cards.unknownTenantTitle")));
    assert!(username_in(&card).is_none());
}

#[tokio::test]
async fn in_a_channel_only_teameo_is_served_and_the_form_moves_to_a_private_chat() {
    let app = TestApp::spawn().await;
    let mut other = Activity::message("<at>Octopus</at> mot de passe oublié")
        .to(&app.connector.service_url)
        .in_conversation("19:other@thread.tacv2", "channel")
        .in_team("19:other@thread.tacv2")
        .json();
    other["entities"] = json!([{"type": "mention", "text": "<at>Octopus</at>", "mentioned": {"id": format!("28:{BOT_ID}"), "name": "Octopus"}}]);
    app.bot(&other).await;
    let refused = last_card(&app.connector.wait_for(1).await);
    assert!(text_of(&refused).contains(&app_str("cards.unknownTeamTitle")));

    let mut teameo = Activity::message("<at>Octopus</at> mot de passe oublié")
        .to(&app.connector.service_url)
        .in_conversation("19:teameo@thread.tacv2;messageid=42", "channel")
        .in_team(TEAMEO)
        .json();
    teameo["entities"] = json!([{"type": "mention", "text": "<at>Octopus</at>", "mentioned": {"id": format!("28:{BOT_ID}"), "name": "Octopus"}}]);
    app.bot(&teameo).await;
    let posted = app.connector.wait_for(4).await;
    let in_channel = &posted[1];
    assert!(
        in_channel.path.contains("19%3Ateameo"),
        "{}",
        in_channel.path
    );
    assert!(
        !in_channel.text().contains("trej") && !in_channel.text().contains("cegepsi"),
        "nothing personal in the channel"
    );
    assert!(in_channel.text().contains("message privé"));
    assert!(
        posted[2].path.ends_with("/v3/conversations"),
        "a 1:1 chat is opened"
    );
    assert_eq!(posted[2].body["members"][0]["id"], "29:julie");
    assert_eq!(posted[2].body["tenantId"], TENANT);
    assert!(
        posted[3].path.contains("a%3Apersonal"),
        "{}",
        posted[3].path
    );
    assert_eq!(
        username_in(posted[3].card().unwrap()).as_deref(),
        Some("trej")
    );
}

#[tokio::test]
async fn the_connector_s_429_is_retried_after_retry_after() {
    let app = TestApp::spawn().await;
    // 2 s: longer than the backoff the client uses without Retry-After (1 s ± 20 %).
    for _ in 0..2 {
        app.connector
            .script(connector::Answer::status(429).retry_after(2));
    }
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    let posted = app.connector.wait_for(1).await;
    assert!(text_of(posted[0].card().unwrap()).contains(&app_str("cards.forgotButton")));
    assert_retried_after(&app.connector.attempts(), &[429, 429, 200], 2);
}

#[tokio::test]
async fn the_connector_s_503_with_retry_after_is_retried_then() {
    let app = TestApp::spawn().await;
    app.connector
        .script(connector::Answer::status(503).retry_after(2));
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    let posted = app.connector.wait_for(1).await;
    assert!(text_of(posted[0].card().unwrap()).contains(&app_str("cards.forgotButton")));
    assert_retried_after(&app.connector.attempts(), &[503, 200], 2);
}

/// The same write was refused then taken, each retry no sooner than Retry-After asked (the
/// connector's own clock: a protocol check, not a speed one).
fn assert_retried_after(attempts: &[connector::Attempt], statuses: &[u16], retry_after_secs: u64) {
    let seen: Vec<u16> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(seen, statuses, "{attempts:#?}");
    assert!(
        attempts
            .iter()
            .all(|a| a.method == attempts[0].method && a.path == attempts[0].path),
        "the same write retried: {attempts:#?}"
    );
    for pair in attempts.windows(2) {
        let waited = pair[1].at.duration_since(pair[0].at);
        assert!(
            waited >= Duration::from_secs(retry_after_secs),
            "retried after {waited:?}, Retry-After said {retry_after_secs} s"
        );
    }
}

#[tokio::test]
async fn the_bot_welcomes_a_team_or_a_person_when_installed() {
    let app = TestApp::spawn().await;
    let welcomed = |r: &Recorded, conversation: &str| {
        assert_eq!(r.method, "POST");
        assert!(
            r.path
                .starts_with(&format!("/amer/v3/conversations/{conversation}/activities")),
            "in the conversation where the bot was added: {}",
            r.path
        );
        let card = r.card().expect("a card");
        assert!(
            text_of(card).contains(&app_str("cards.welcomeTitle")),
            "{card}"
        );
        assert!(text_of(card).contains("https://demo.octopus-itsm.com/Web/Login.aspx"));
    };

    // Added to the Teaméo team: the welcome card in its channel.
    let mut team = Activity::of("conversationUpdate")
        .to(&app.connector.service_url)
        .in_conversation("19:teameo@thread.tacv2", "channel")
        .in_team(TEAMEO)
        .json();
    team["membersAdded"] = json!([{"id": format!("28:{BOT_ID}")}]);
    assert_eq!(app.bot(&team).await.status(), 200);
    welcomed(
        &app.connector.wait_for(1).await[0],
        "19%3Ateameo%40thread.tacv2",
    );

    // Installed by Julie for herself: the welcome card in her personal chat.
    let mut person = Activity::of("conversationUpdate")
        .to(&app.connector.service_url)
        .json();
    person["membersAdded"] = json!([{"id": format!("28:{BOT_ID}")}]);
    assert_eq!(app.bot(&person).await.status(), 200);
    welcomed(&app.connector.wait_for(2).await[1], "a%3Ajulie");

    // Teams also sends installationUpdate with the install: acknowledged, no second welcome.
    let mut other = Activity::of("installationUpdate")
        .to(&app.connector.service_url)
        .json();
    other["action"] = json!("add");
    assert_eq!(app.bot(&other).await.status(), 200, "acknowledged");
    let mut typing = app.personal("");
    typing["type"] = json!("typing");
    assert_eq!(
        app.bot(&typing).await.status(),
        200,
        "anything else acknowledged"
    );
    // The next thing Julie sees is the answer to her next message.
    app.bot(&app.personal("mot de passe oublié")).await;
    let posted = app.connector.wait_for(3).await;
    assert_eq!(posted.len(), 3, "{posted:#?}");
    assert_eq!(
        username_in(posted[2].card().unwrap()).as_deref(),
        Some("trej")
    );
}

#[tokio::test]
async fn a_newer_request_marks_the_older_card_superseded() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.bot(&submit(&app, "card-a", "trej", "reset"))
            .await
            .status(),
        200
    );
    app.smtp.wait_for(1, WAIT).await;
    assert_eq!(
        app.bot(&submit(&app, "card-b", "trej", "reset"))
            .await
            .status(),
        200
    );
    app.smtp.wait_for(2, WAIT).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let posted = app.connector.posted();
        let on_a: Vec<_> = posted
            .iter()
            .filter(|r| r.method == "PUT" && r.path.ends_with("/card-a"))
            .collect();
        if on_a.len() >= 2 {
            assert!(text_of(on_a[1].card().unwrap()).contains(&app_str("cards.supersededTitle")));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "card-a never marked superseded: {posted:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_submitted_form_with_an_unknown_purpose_is_refused_not_taken_for_a_reset() {
    let app = TestApp::spawn().await;
    let i = invoke(
        &app,
        "submit",
        json!({"purpose": "delete", "username": "trej"}),
    );
    let answer: Value = app.bot(&i).await.json().await.unwrap();
    assert_eq!(
        answer["type"], "application/vnd.microsoft.activity.message",
        "the card stays as it is: {answer}"
    );
    let queued = app.mails_queued().await.len();
    assert_eq!(queued, 0, "no link, no mail");
}
