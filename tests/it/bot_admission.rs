//! Which conversations the bot serves, what it says when it does not (and what it tells the
//! admin), and in which language it greets.

use std::time::Duration;

use octopus_teams::{
    i18n::{Locale, Strings},
    org::LocalTestClient,
};
use serde_json::{Value, json};

use crate::harness::{Activity, BOT_ID, TEAMEO, TestApp, connector::Recorded, logs};

fn s(locale: Locale, key: &str) -> String {
    Strings::load().unwrap().get(locale, key)
}

fn last_card(posted: &[Recorded]) -> Value {
    posted
        .iter()
        .rev()
        .find_map(|r| r.card().cloned())
        .expect("a card was posted")
}

/// An activity from another tenant (or the same one with `tenant` = the test organisation's).
fn from_tenant(mut a: Value, tenant: &str) -> Value {
    a["channelData"]["tenant"]["id"] = json!(tenant);
    a["conversation"]["tenantId"] = json!(tenant);
    a
}

fn channel_message(app: &TestApp, team: &str, team_name: Option<&str>, text: &str) -> Value {
    let mut a = Activity::message(&format!("<at>Octopus</at> {text}"))
        .to(&app.connector.service_url)
        .in_conversation(&format!("{team};messageid=7"), "channel")
        .in_team(team)
        .json();
    a["entities"] = json!([{"type": "mention", "text": "<at>Octopus</at>", "mentioned": {"id": format!("28:{BOT_ID}"), "name": "Octopus"}}]);
    if let Some(name) = team_name {
        a["channelData"]["team"]["name"] = json!(name);
    }
    a
}

fn unique_tenant() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The service on its embedded defaults' bot mode: no app id (local development).
async fn local_dev() -> TestApp {
    TestApp::builder()
        .config(|raw| {
            raw.bot.app_id = String::new();
            raw.bot.app_password = None;
        })
        .spawn()
        .await
}

#[tokio::test]
async fn in_local_development_mode_the_demo_organisation_serves_the_agents_playground() {
    let app = local_dev().await;
    let playground = LocalTestClient::AgentsPlayground.tenant_id().unwrap();
    let personal = from_tenant(app.personal("mot de passe oublié"), playground);
    assert_eq!(app.bot_with(&personal, None).await.status(), 200);
    let card = last_card(&app.connector.wait_for(1).await);
    assert!(
        card.to_string()
            .contains(&s(Locale::FrCa, "cards.submitButton")),
        "the request card: {card}"
    );

    let channel = from_tenant(
        channel_message(&app, "team-id", Some("My Team"), "forgot password"),
        playground,
    );
    app.bot_with(&channel, None).await;
    let posted = app.connector.wait_for(4).await;
    assert_eq!(
        posted[1].body["text"],
        s(Locale::En, "bot.moved_to_private"),
        "the channel is told, in the words' language"
    );
    assert!(
        posted[2].path.ends_with("/v3/conversations"),
        "{}",
        posted[2].path
    );
    assert!(
        posted[3]
            .card()
            .unwrap()
            .to_string()
            .contains(&s(Locale::En, "cards.submitButton"))
    );
}

#[tokio::test]
async fn the_bot_framework_emulator_without_a_tenant_is_served_in_local_development_mode() {
    let app = local_dev().await;
    let mut a = app.personal("aide");
    a["channelData"] = json!({});
    a["conversation"] = json!({"id": "emulator-conversation|livechat"});
    assert_eq!(app.bot_with(&a, None).await.status(), 200);
    let card = last_card(&app.connector.wait_for(1).await);
    assert!(
        card.to_string()
            .contains(&s(Locale::FrCa, "cards.welcomeTitle")),
        "{card}"
    );
}

#[tokio::test]
async fn with_an_app_id_the_test_clients_tenant_is_not_served() {
    let app = TestApp::spawn().await;
    let playground = LocalTestClient::AgentsPlayground.tenant_id().unwrap();
    let a = from_tenant(app.personal("mot de passe oublié"), playground);
    app.bot(&a).await;
    let card = last_card(&app.connector.wait_for(1).await);
    assert!(
        card.to_string()
            .contains(&s(Locale::FrCa, "cards.unknownTenantTitle")),
        "{card}"
    );
    assert!(
        !card
            .to_string()
            .contains(&s(Locale::FrCa, "cards.submitButton"))
    );
}

#[tokio::test]
async fn an_unknown_tenant_is_told_its_organisation_is_not_set_up_and_the_admin_the_line_to_add() {
    let app = TestApp::spawn().await;
    let tenant = unique_tenant();
    let a = from_tenant(app.personal("mot de passe oublié"), &tenant);
    app.bot(&a).await;
    let card = last_card(&app.connector.wait_for(1).await).to_string();
    assert!(
        card.contains(&s(Locale::FrCa, "cards.unknownTenantTitle")),
        "{card}"
    );
    assert!(
        card.contains(&s(Locale::FrCa, "cards.unknownTenantMessage")),
        "{card}"
    );
    assert!(
        !card.contains(&s(Locale::FrCa, "cards.notAllowedMessage")),
        "never « écrivez-moi en privé » in a private chat: {card}"
    );

    let warned = logs::warnings_with(&tenant);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains(&format!("tenant_id = \"{tenant}\"")),
        "the configuration line: {}",
        warned[0]
    );
}

#[tokio::test]
async fn an_unknown_team_is_told_so_and_the_admin_gets_its_id_name_and_the_line_to_add() {
    let app = TestApp::spawn().await;
    let team = format!("19:{}@thread.tacv2", uuid::Uuid::new_v4().simple());
    app.bot(&channel_message(
        &app,
        &team,
        Some("Teaméo 2"),
        "mot de passe oublié",
    ))
    .await;
    let card = last_card(&app.connector.wait_for(1).await).to_string();
    assert!(
        card.contains(&s(Locale::FrCa, "cards.unknownTeamTitle")),
        "{card}"
    );
    assert!(
        !card.contains(&s(Locale::FrCa, "cards.notAllowedTitle")),
        "{card}"
    );

    let warned = logs::warnings_with(&team);
    assert_eq!(warned.len(), 1, "{warned:?}");
    let line = &warned[0];
    assert!(line.contains(&app.org.tenant_id), "{line}");
    assert!(line.contains("Teaméo 2"), "the team's name: {line}");
    assert!(
        line.contains(&format!("team_ids = [\"{TEAMEO}\", \"{team}\"]")),
        "the configuration line, with the team already served: {line}"
    );
}

#[tokio::test]
async fn the_admin_is_told_once_an_hour_per_tenant_and_per_team() {
    let app = TestApp::spawn().await;
    let tenant = unique_tenant();
    let team = format!("19:{}@thread.tacv2", uuid::Uuid::new_v4().simple());
    for n in 1..=3 {
        app.bot(&from_tenant(app.personal("aide"), &tenant)).await;
        app.bot(&channel_message(&app, &team, None, "aide")).await;
        app.connector.wait_for(2 * n).await;
    }
    assert_eq!(logs::warnings_with(&tenant).len(), 1);
    assert_eq!(logs::warnings_with(&team).len(), 1);

    app.advance(Duration::from_secs(59 * 60));
    app.bot(&from_tenant(app.personal("aide"), &tenant)).await;
    app.connector.wait_for(7).await;
    assert_eq!(
        logs::warnings_with(&tenant).len(),
        1,
        "still within the hour"
    );

    app.advance(Duration::from_secs(2 * 60));
    app.bot(&from_tenant(app.personal("aide"), &tenant)).await;
    app.bot(&channel_message(&app, &team, None, "aide")).await;
    app.connector.wait_for(9).await;
    assert_eq!(
        logs::warnings_with(&tenant).len(),
        2,
        "an hour later, again"
    );
    assert_eq!(logs::warnings_with(&team).len(), 2);
}

#[tokio::test]
async fn a_group_chat_is_pointed_to_the_private_chat() {
    let app = TestApp::spawn().await;
    let a = Activity::message("mot de passe oublié")
        .to(&app.connector.service_url)
        .in_conversation("19:group@thread.v2", "groupChat")
        .json();
    app.bot(&a).await;
    let card = last_card(&app.connector.wait_for(1).await).to_string();
    assert!(
        card.contains(&s(Locale::FrCa, "cards.notAllowedMessage")),
        "{card}"
    );
}

fn bot_added(app: &TestApp, conversation: &str, locale: Option<&str>) -> Value {
    let mut a = Activity::of("conversationUpdate")
        .to(&app.connector.service_url)
        .in_conversation(conversation, "personal")
        .json();
    a["membersAdded"] = json!([{"id": "29:julie"}, {"id": format!("28:{BOT_ID}")}]);
    match locale {
        Some(l) => a["locale"] = json!(l),
        None => {
            a.as_object_mut().unwrap().remove("locale");
        }
    }
    a
}

#[tokio::test]
async fn the_welcome_is_in_the_person_s_language() {
    let app = TestApp::spawn().await;
    for (n, (tag, locale)) in [
        ("fr-CA", Locale::FrCa),
        ("en-US", Locale::En),
        ("pt-BR", Locale::Pt),
    ]
    .into_iter()
    .enumerate()
    {
        app.bot(&bot_added(&app, &format!("a:{tag}"), Some(tag)))
            .await;
        let card = last_card(&app.connector.wait_for(n + 1).await).to_string();
        assert!(
            card.contains(&s(locale, "cards.welcomeTitle")),
            "{tag}: {card}"
        );
        assert!(
            card.contains(&s(locale, "cards.forgotButton")),
            "{tag}: {card}"
        );
    }
}

/// Teams (and the Agents Playground) send the install with the person's locale, then the
/// bot-added update without one: the welcome follows the install, and its buttons answer in it.
#[tokio::test]
async fn the_welcome_after_an_install_follows_the_install_s_language_and_so_do_its_buttons() {
    let app = TestApp::spawn().await;
    let mut install = Activity::of("installationUpdate")
        .to(&app.connector.service_url)
        .in_conversation("a:pt", "personal")
        .json();
    install["action"] = json!("add");
    install["locale"] = json!("pt-BR");
    app.bot(&install).await;
    app.bot(&bot_added(&app, "a:pt", None)).await;
    let welcome = last_card(&app.connector.wait_for(1).await);
    assert!(
        welcome
            .to_string()
            .contains(&s(Locale::Pt, "cards.welcomeTitle")),
        "{welcome}"
    );

    // « Esqueci a senha » on the card, from a client that says en-US.
    let data = find_action(&welcome, "forgot").expect("forgot button")["data"].clone();
    let mut click = Activity::of("invoke")
        .to(&app.connector.service_url)
        .in_conversation("a:pt", "personal")
        .json();
    click["name"] = json!("adaptiveCard/action");
    click["locale"] = json!("en-US");
    click["value"] = json!({"action": {"type": "Action.Execute", "verb": "forgot", "data": data}});
    let answer: Value = app.bot(&click).await.json().await.unwrap();
    let form = answer["value"].to_string();
    assert!(
        form.contains(&s(Locale::Pt, "cards.submitButton")),
        "{form}"
    );
}

fn find_action<'a>(card: &'a Value, verb: &str) -> Option<&'a Value> {
    match card {
        Value::Object(m) if m.get("verb") == Some(&json!(verb)) => Some(card),
        Value::Object(m) => m.values().find_map(|v| find_action(v, verb)),
        Value::Array(a) => a.iter().find_map(|v| find_action(v, verb)),
        _ => None,
    }
}
