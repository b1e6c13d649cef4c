//! The person's own account in Teams, by their Teams identity: « nom d'utilisateur oublié » in the
//! bot, and « Déverrouiller mon compte » in the bot's card and in the tab. Never through a form
//! that only knows a typed username.

use octopus_teams::reset::unlock::Unlocks;
use std::time::Duration;

use octopus_teams::i18n::{Locale, Strings};
use serde_json::{Value, json};

use crate::{
    harness::{Activity, BOT_ID, JULIE_OID, TEAMEO, TENANT, TestApp, card_action, entra::SsoToken},
    unlock::{PASSWORD, audited, enrolled_and_locked, verify},
};

const WAIT: Duration = Duration::from_secs(10);
const STRANGER_OID: &str = "99999999-0000-0000-0000-000000000000";
const SSO_APP: &str = "8d7f3c2a-1b4e-4c5d-9e6f-0a1b2c3d4e5f";

fn s(locale: Locale, key: &str) -> String {
    Strings::load().unwrap().get(locale, key)
}

/// A personal-chat message from someone whose Teams identity matches no account.
fn from_stranger(mut a: Value) -> Value {
    a["from"] = json!({"id": "29:stranger", "name": "Inconnu", "aadObjectId": STRANGER_OID});
    a
}

/// The button `unlock` clicked (Universal Action), with whatever data the card carried.
fn click_unlock(app: &TestApp, data: Value) -> Value {
    card_action(&app.connector.service_url, "unlock", data)
}

async fn answered_card(app: &TestApp, a: &Value) -> Value {
    let res = app.bot(a).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["type"], "application/vnd.microsoft.card.adaptive",
        "{body}"
    );
    body["value"].clone()
}

fn has_unlock_button(card: &Value) -> bool {
    card.to_string().contains("\"verb\":\"unlock\"")
}

#[tokio::test]
async fn the_username_reminder_gives_the_linked_account_s_username_in_three_languages() {
    let app = TestApp::spawn().await;
    let asked = [
        ("nom d'utilisateur oublié", Locale::FrCa),
        ("Quel est mon nom d'utilisateur ?", Locale::FrCa),
        ("forgot my username", Locale::En),
        ("esqueci meu usuário", Locale::Pt),
        ("Esqueci o meu nome de usuário", Locale::Pt),
    ];
    for (n, (text, locale)) in asked.iter().enumerate() {
        app.bot(&app.personal(text)).await;
        let posted = app.connector.wait_for(n + 1).await;
        let card = posted[n].card().expect("a card").to_string();
        assert!(
            card.contains(&s(*locale, "cards.usernameTitle")),
            "{text}: {card}"
        );
        assert!(card.contains("\"text\":\"trej\""), "{text}: {card}");
        assert!(!has_unlock_button(&posted[n].body), "not locked: {card}");
    }
    let rows = audited(&app, "username_reminder_requested").await;
    assert_eq!(rows.len(), asked.len());
    for (client, detail) in rows {
        assert_eq!(client, Some(format!("teams:{TENANT}:{JULIE_OID}")));
        assert_eq!(detail.as_deref(), Some("bot_linked"), "never the username");
    }
}

#[tokio::test]
async fn an_unlinked_identity_gets_the_uniform_answer() {
    let app = TestApp::spawn().await;

    app.bot(&from_stranger(app.personal("nom d'utilisateur oublié")))
        .await;
    app.bot(&from_stranger(app.personal("déverrouiller mon compte")))
        .await;

    let posted = app.connector.wait_for(2).await;
    let strip = |v: &Value| {
        let mut c = v.pointer("/attachments/0/content").unwrap().clone();
        c.as_object_mut().unwrap().remove("refresh");
        c
    };
    let card = strip(&posted[0].body).to_string();
    assert!(
        card.contains(&s(Locale::FrCa, "cards.unlinkedMessage")),
        "{card}"
    );
    assert!(!card.contains("trej") && !card.contains("gagm"), "{card}");
    assert_eq!(
        strip(&posted[0].body),
        strip(&posted[1].body),
        "the same answer whatever was asked"
    );
    assert_eq!(
        audited(&app, "username_reminder_requested").await,
        vec![(
            Some(format!("teams:{TENANT}:{STRANGER_OID}")),
            Some("bot_unlinked".into())
        )]
    );
}

#[tokio::test]
async fn in_a_channel_the_username_reminder_continues_in_the_private_chat() {
    let app = TestApp::spawn().await;
    let mut teameo = Activity::message("<at>Octopus</at> quel est mon nom d'utilisateur ?")
        .to(&app.connector.service_url)
        .in_conversation("19:teameo@thread.tacv2;messageid=42", "channel")
        .in_team(TEAMEO)
        .json();
    teameo["entities"] = json!([{"type": "mention", "text": "<at>Octopus</at>", "mentioned": {"id": format!("28:{BOT_ID}"), "name": "Octopus"}}]);

    app.bot(&teameo).await;

    let posted = app.connector.wait_for(3).await;
    assert!(posted[0].path.contains("19%3Ateameo"), "{}", posted[0].path);
    assert!(!posted[0].text().contains("trej"), "nothing personal there");
    assert!(posted[0].text().contains("message privé"));
    assert!(posted[1].path.ends_with("/v3/conversations"));
    assert!(
        posted[2].path.contains("a%3Apersonal"),
        "{}",
        posted[2].path
    );
    assert!(
        posted[2]
            .card()
            .unwrap()
            .to_string()
            .contains("\"text\":\"trej\"")
    );
}

#[tokio::test]
async fn a_locked_owner_unlocks_from_the_bot_s_card_and_signs_in_again() {
    let app = TestApp::spawn().await;
    enrolled_and_locked(&app).await;

    app.bot(&app.personal("mot de passe oublié")).await;
    let request_card = app.connector.wait_for(1).await[0].clone();
    assert!(
        has_unlock_button(&request_card.body),
        "{}",
        request_card.text()
    );
    assert!(
        request_card
            .text()
            .contains(&s(Locale::FrCa, "cards.unlockButton"))
    );
    app.bot(&app.personal("nom d'utilisateur oublié")).await;
    let reminder = app.connector.wait_for(2).await[1].clone();
    assert!(has_unlock_button(&reminder.body), "{}", reminder.text());

    let answer = answered_card(&app, &click_unlock(&app, json!({}))).await;

    assert!(
        answer
            .to_string()
            .contains(&s(Locale::FrCa, "cards.unlockedTitle")),
        "{answer}"
    );
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "valid"})
    );
    let mail = app.smtp.wait_for(3, WAIT).await[2].clone();
    assert_eq!(mail.to, vec!["<julie.tremblay@cegepsi.ca>".to_string()]);
    assert_eq!(mail.subject(), "Votre compte a été déverrouillé");
    assert_eq!(
        audited(&app, "account_unlocked").await,
        vec![(
            Some(format!("teams:{TENANT}:{JULIE_OID}")),
            Some("self".into())
        )]
    );
}

#[tokio::test]
async fn another_identity_and_the_username_forms_never_unlock() {
    let app = TestApp::spawn().await;
    enrolled_and_locked(&app).await;

    // Someone else clicks « Déverrouiller », the card naming trej: nothing is unlocked.
    let answer = answered_card(
        &app,
        &from_stranger(click_unlock(&app, json!({"username": "trej"}))),
    )
    .await;
    assert!(
        answer
            .to_string()
            .contains(&s(Locale::FrCa, "cards.unlinkedMessage")),
        "{answer}"
    );
    // The username-typed card path: the status card, no unlock.
    let mut typed = from_stranger(app.personal(""));
    typed["value"] = json!({"action": "submit", "purpose": "reset", "username": "trej"});
    app.bot(&typed).await;
    let status = app.connector.wait_for(1).await[0].clone();
    assert!(!has_unlock_button(&status.body), "{}", status.text());
    // The web pages: nothing to unlock with.
    for page in ["/forgot?org=demo", "/login?org=demo", "/enroll?org=demo"] {
        let (_, html) = app.get(page).await;
        assert!(!html.contains("Déverrouiller"), "{page}");
    }
    // The tab's API without a sign-in token.
    let res = app
        .client
        .post(app.url("/api/tab/unlock"))
        .header("x-octopus-tab", "1")
        .json(&json!({"username": "trej"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "locked"})
    );
    assert!(audited(&app, "account_unlocked").await.is_empty());
}

async fn tab(app: &TestApp, method: &str, path: &str, oid: &str, upn: &str) -> (u16, Value) {
    let token = SsoToken::of(oid, upn).for_app(SSO_APP).signed(&app.entra);
    let req = match method {
        "GET" => app.client.get(app.url(path)),
        _ => app
            .client
            .post(app.url(path))
            .header("x-octopus-tab", "1")
            .json(&json!({"locale": "fr-CA"})),
    };
    let res = req.bearer_auth(token).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_tab_offers_and_does_the_unlock_for_the_signed_in_account_only() {
    let app = TestApp::builder()
        .config(|c| c.teams_app.sso_app_id = Some(SSO_APP.into()))
        .spawn()
        .await;
    enrolled_and_locked(&app).await;
    let julie = (JULIE_OID, "julie.tremblay@cegepsi.ca");

    let (status, me) = tab(&app, "GET", "/api/tab/me", julie.0, julie.1).await;
    assert_eq!((status, me["locked"].as_bool()), (200, Some(true)), "{me}");

    // Another identity, even one naming Julie's address, unlocks nothing.
    let (status, body) = tab(
        &app,
        "POST",
        "/api/tab/unlock",
        STRANGER_OID,
        "Julie.Tremblay@cegepsi.ca",
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("no_account")));
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "locked"})
    );

    let (status, body) = tab(&app, "POST", "/api/tab/unlock", julie.0, julie.1).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (200, Some("unlocked")),
        "{body}"
    );
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "valid"})
    );
    let (_, me) = tab(&app, "GET", "/api/tab/me", julie.0, julie.1).await;
    assert_eq!(me["locked"].as_bool(), Some(false));
    let mail = app.smtp.wait_for(3, WAIT).await[2].clone();
    assert_eq!(mail.subject(), "Votre compte a été déverrouillé");
    assert_eq!(
        audited(&app, "account_unlocked").await,
        vec![(
            Some(format!("teams:{TENANT}:{JULIE_OID}")),
            Some("self".into())
        )]
    );
}

/// `n` wrong passwords for trej through the portal's credential check.
async fn fail_times(app: &TestApp, n: u32) {
    for i in 0..n {
        verify(app, "trej", &format!("wrong{i}")).await;
    }
}

/// « Déverrouiller mon compte » clicked in the bot: the card's text.
async fn unlock_from_bot(app: &TestApp) -> String {
    answered_card(app, &click_unlock(app, json!({})))
        .await
        .to_string()
}

#[tokio::test]
async fn unlocking_does_not_restart_the_guessing_budget() {
    let app = TestApp::builder()
        .config(|c| {
            let lockout = c.organisations[0].lockout.get_or_insert_default();
            lockout.threshold = 5;
            lockout.hard_limit = 10;
        })
        .spawn()
        .await;
    enrolled_and_locked(&app).await; // 5 failures: locked
    assert!(
        unlock_from_bot(&app)
            .await
            .contains(&s(Locale::FrCa, "cards.unlockedTitle"))
    );

    // 5 more: locked again, and the 10 counted across the unlock reach the hard lock.
    fail_times(&app, 5).await;
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "locked"})
    );
    let refused = unlock_from_bot(&app).await;
    assert!(
        refused.contains(&s(Locale::FrCa, "cards.hardLockedTitle")),
        "{refused}"
    );
    assert!(
        refused.contains("Mot de passe oublié"),
        "sent to a reset: {refused}"
    );
    assert!(!has_unlock_button(&serde_json::from_str(&refused).unwrap()));
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "locked"}),
        "still locked"
    );
    assert_eq!(
        audited(&app, "unlock_refused").await,
        vec![(
            Some(format!("teams:{TENANT}:{JULIE_OID}")),
            Some("hard_lock".into())
        )]
    );

    // The service desk lifts it (and the budget with it); so would a new password.
    let agent = octopus_teams::reset::agent::Actor::Agent {
        aad_object_id: "33333333-3333-3333-3333-333333333333".into(),
        name: "Agent Soutien".into(),
    };
    let trej = crate::unlock::account_id(&app, "trej").await;
    let done = Unlocks::of(&app.reset)
        .unlock(&app.org, &trej, &agent, None)
        .await;
    assert_eq!(
        done.unwrap(),
        octopus_teams::reset::unlock::Unlock::Unlocked
    );
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "valid"})
    );
}

#[tokio::test]
async fn the_fourth_self_service_unlock_of_a_day_is_refused() {
    let app = TestApp::builder()
        .config(|c| {
            let lockout = c.organisations[0].lockout.get_or_insert_default();
            lockout.threshold = 1;
            lockout.hard_limit = 100;
        })
        .spawn()
        .await;
    enrolled_and_locked(&app).await;
    for n in 1..=3 {
        let card = unlock_from_bot(&app).await;
        assert!(
            card.contains(&s(Locale::FrCa, "cards.unlockedTitle")),
            "unlock {n}: {card}"
        );
        fail_times(&app, 1).await;
        assert_eq!(
            verify(&app, "trej", PASSWORD).await,
            json!({"result": "locked"})
        );
    }
    let fourth = unlock_from_bot(&app).await;
    assert!(
        fourth.contains(&s(Locale::FrCa, "cards.unlockLimitTitle")),
        "{fourth}"
    );
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "locked"})
    );
    assert_eq!(
        audited(&app, "unlock_refused").await,
        vec![(
            Some(format!("teams:{TENANT}:{JULIE_OID}")),
            Some("daily_limit".into())
        )]
    );
    // A day later, the owner may unlock again.
    app.clock.advance(Duration::from_secs(86_400));
    fail_times(&app, 1).await;
    assert!(
        unlock_from_bot(&app)
            .await
            .contains(&s(Locale::FrCa, "cards.unlockedTitle"))
    );
}
