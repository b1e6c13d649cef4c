//! « vérifier trej »: a service-desk agent has a one-time code sent to the account's owner (in
//! their personal chat with the bot, else by mail), types the code the caller reads out, and gets
//! « Identité confirmée » and the actions that need a confirmed caller; three wrong codes, the
//! expiry, a second use and the owner's « Je n'ai pas appelé » each end the code.

use std::time::Duration;

use octopus_teams::i18n::{Locale, Strings};
use serde_json::{Value, json};

use crate::{
    harness::{TestApp, card_action, connector::Answer},
    helpdesk::{
        AGENT_OID, agent_key, agent_says, answer, app_with_an_agent, as_agent, card_of, s, validate,
    },
    unlock::{PASSWORD, enrolled_and_locked, verify},
};

const WAIT: Duration = Duration::from_secs(10);

fn st(locale: Locale, key: &str) -> String {
    Strings::load().unwrap().get(locale, key)
}

/// The text of `key` before its first placeholder: what a card shows whatever the values.
fn lead(key: &str) -> String {
    s(key).split('{').next().unwrap().to_string()
}

/// The agent clicking `verb` on their card in their personal chat, with `data`.
fn agent_clicks(app: &TestApp, verb: &str, data: Value) -> Value {
    let mut a = as_agent(card_action(&app.connector.service_url, verb, data));
    a["conversation"]["id"] = json!("a:agent");
    a
}

/// Julie clicking « Je n'ai pas appelé » on the code card.
fn julie_denies(app: &TestApp, check: &str) -> Value {
    card_action(
        &app.connector.service_url,
        "caller.denied",
        json!({"check": check}),
    )
}

async fn type_code(app: &TestApp, code: &str) -> Value {
    card_of(
        app,
        &agent_clicks(
            app,
            "helpdesk.confirm",
            json!({"username": "trej", "code": code}),
        ),
    )
    .await
}

/// Julie writes to the bot once, so her personal chat is known; her welcome card is posted.
async fn julie_has_a_chat(app: &TestApp) {
    app.bot(&app.personal("bonjour")).await;
    app.connector.wait_for(1).await;
}

/// The code cards posted so far, in Julie's chat: (card, code, check id).
fn code_cards(app: &TestApp) -> Vec<(Value, String, String)> {
    app.connector
        .posted()
        .iter()
        .filter(|r| r.path.contains("a:julie") || r.path.contains("a%3Ajulie"))
        .filter_map(|r| r.card().cloned())
        .filter(|c| c.to_string().contains("caller.denied"))
        .map(|c| {
            let code = find(&c, &|v| v["fontType"] == "monospace")["text"]
                .as_str()
                .unwrap()
                .to_string();
            let check = find(&c, &|v| v["verb"] == "caller.denied")["data"]["check"]
                .as_str()
                .unwrap()
                .to_string();
            (c, code, check)
        })
        .collect()
}

fn find<'a>(v: &'a Value, pred: &dyn Fn(&Value) -> bool) -> &'a Value {
    fn walk<'a>(v: &'a Value, pred: &dyn Fn(&Value) -> bool) -> Option<&'a Value> {
        if pred(v) {
            return Some(v);
        }
        match v {
            Value::Array(a) => a.iter().find_map(|x| walk(x, pred)),
            Value::Object(m) => m.values().find_map(|x| walk(x, pred)),
            _ => None,
        }
    }
    walk(v, pred).unwrap_or_else(|| panic!("nothing matches in {v:#}"))
}

/// A six-digit code that is not `code`.
fn other_than(code: &str) -> String {
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    let n: u32 = digits.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

/// The agent's card as their command was answered (the last card posted in their chat).
fn agent_card(app: &TestApp) -> Value {
    app.connector
        .posted()
        .iter()
        .rev()
        .filter(|r| r.path.contains("a:agent") || r.path.contains("a%3Aagent"))
        .find_map(|r| r.card().cloned())
        .expect("a card in the agent's chat")
}

#[tokio::test]
async fn the_caller_reads_the_code_sent_in_teams_and_the_agent_confirms_it_once() {
    let app = app_with_an_agent().await;
    julie_has_a_chat(&app).await;
    app.bot(&agent_says(&app, "vérifier trej")).await;
    app.connector.wait_for(3).await;

    // Julie's chat gets the code, with who asks and why.
    let cards = code_cards(&app);
    assert_eq!(cards.len(), 1, "one code card");
    let (card, code, _) = &cards[0];
    let text = card.to_string();
    assert!(
        text.contains(&s("helpdesk.code_intro").replace("{agent}", "Agent du CSI")),
        "{card:#}"
    );
    assert!(text.contains(&s("cards.callerDeniedButton")));
    assert_eq!(code.len(), 7, "six digits read in two groups: {code}");
    // The agent's card says where the code went, and takes it; the code itself is not on it.
    let agent = agent_card(&app);
    let atext = agent.to_string();
    assert!(
        atext.contains(&lead("helpdesk.code_sent_teams").replace("{name}", "")),
        "{agent:#}"
    );
    assert!(atext.contains("Julie Tremblay"));
    assert!(
        atext.contains(&s("cards.helpdeskConfirmButton")),
        "{agent:#}"
    );
    assert!(
        !atext.contains(code.as_str()),
        "the agent never sees the code"
    );
    let sent = app.audited("caller_code_sent").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].client.as_deref(), Some(agent_key().as_str()));
    assert_eq!(sent[0].detail.as_deref(), Some("teams"));
    assert!(sent[0].account_id.is_some());

    // A wrong code first, then the right one as read out (with its space).
    let wrong = type_code(&app, &other_than(code)).await;
    assert!(
        wrong
            .to_string()
            .contains(&s("helpdesk.code_wrong").replace("{tries}", "2")),
        "{wrong:#}"
    );
    let confirmed = type_code(&app, code).await;
    let ctext = confirmed.to_string();
    assert!(
        ctext.contains(&lead("helpdesk.identity_confirmed")),
        "{confirmed:#}"
    );
    assert!(!ctext.contains(&s("cards.helpdeskConfirmButton")));
    assert!(!ctext.contains(&s("cards.helpdeskVerifyButton")));
    let ok = app.audited("caller_confirmed").await;
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].client.as_deref(), Some(agent_key().as_str()));
    assert_eq!(app.audited("caller_code_wrong").await.len(), 1);

    // The code works once.
    let again = type_code(&app, code).await;
    assert!(
        again.to_string().contains(&s("helpdesk.code_spent")),
        "{again:#}"
    );
    assert_eq!(app.audited("caller_confirmed").await.len(), 1);

    // Fifteen minutes later the verified actions are gone: « Vérifier l'appelant » again.
    app.advance(Duration::from_secs(15 * 60 + 1));
    let later = card_of(
        &app,
        &agent_clicks(&app, "helpdesk.status", json!({"username": "trej"})),
    )
    .await;
    assert!(
        !later
            .to_string()
            .contains(&lead("helpdesk.identity_confirmed"))
    );
    assert!(later.to_string().contains(&s("cards.helpdeskVerifyButton")));
    validate(&[
        ("code", card),
        ("agent-pending", &agent),
        ("agent-wrong", &wrong),
        ("agent-confirmed", &confirmed),
    ]);
}

#[tokio::test]
async fn three_wrong_codes_or_ten_minutes_and_a_new_code_is_needed() {
    let app = app_with_an_agent().await;
    julie_has_a_chat(&app).await;
    app.bot(&agent_says(&app, "vérifier trej")).await;
    app.connector.wait_for(3).await;
    let code = code_cards(&app)[0].1.clone();
    let wrong = other_than(&code);
    for left in ["2", "1"] {
        let card = type_code(&app, &wrong).await;
        assert!(
            card.to_string()
                .contains(&s("helpdesk.code_wrong").replace("{tries}", left)),
            "{card:#}"
        );
    }
    let third = type_code(&app, &wrong).await;
    assert!(third.to_string().contains(&s("helpdesk.code_spent")));
    assert!(
        third.to_string().contains(&s("cards.helpdeskVerifyButton")),
        "a new code can be asked for: {third:#}"
    );
    let right = type_code(&app, &code).await;
    assert!(
        right.to_string().contains(&s("helpdesk.code_spent")),
        "the right code no longer works after three wrong ones"
    );
    assert!(app.audited("caller_confirmed").await.is_empty());

    // A new code (the card's button); read out after its ten minutes, it is refused.
    let asked = card_of(
        &app,
        &agent_clicks(&app, "helpdesk.verify", json!({"username": "trej"})),
    )
    .await;
    assert!(
        asked
            .to_string()
            .contains(&s("cards.helpdeskConfirmButton"))
    );
    let cards = code_cards(&app);
    assert_eq!(cards.len(), 2);
    let fresh = cards[1].1.clone();
    assert_ne!(cards[0].2, cards[1].2);
    app.advance(Duration::from_secs(10 * 60));
    let late = type_code(&app, &fresh).await;
    assert!(
        late.to_string().contains(&s("helpdesk.code_spent")),
        "{late:#}"
    );
    assert!(app.audited("caller_confirmed").await.is_empty());
}

#[tokio::test]
async fn anyone_but_an_agent_asking_to_verify_gets_the_answer_to_unknown_text() {
    let app = app_with_an_agent().await;
    app.bot(&app.personal("vérifier trej")).await;
    app.bot(&app.personal("n'importe quoi")).await;
    let posted = app.connector.wait_for(2).await;
    assert_eq!(posted[0].card(), posted[1].card());
    assert!(
        posted[0]
            .card()
            .unwrap()
            .to_string()
            .contains(&s("cards.welcomeTitle"))
    );
    // A made-up button does nothing either.
    let mut click = agent_clicks(&app, "helpdesk.verify", json!({"username": "gagm"}));
    click["from"] = json!({"id": "29:julie", "name": "Julie Tremblay",
        "aadObjectId": crate::harness::JULIE_OID});
    let body = answer(&app, &click).await;
    assert_ne!(body["type"], "application/vnd.microsoft.card.adaptive");
    assert!(app.audited("caller_code_sent").await.is_empty());
    assert!(app.smtp.received().is_empty());
    assert_eq!(app.connector.posted().len(), 2);
}

#[tokio::test]
async fn the_owner_who_did_not_call_ends_the_code_and_the_agent_and_the_desk_are_warned() {
    let app = TestApp::builder()
        .config(|c| {
            c.organisations[0].helpdesk.agent_object_ids = vec![AGENT_OID.into()];
            crate::desk_channel::desk_channel(c);
        })
        .spawn()
        .await;
    julie_has_a_chat(&app).await;
    app.bot(&agent_says(&app, "vérifier trej")).await;
    app.connector.wait_for(3).await;
    let (_, code, check) = code_cards(&app)[0].clone();

    // Marc cannot answer for Julie; a forged check id answers nothing.
    let mut marc = julie_denies(&app, &check);
    marc["from"] = json!({"id": "29:marc", "name": "Marc Gagnon",
        "aadObjectId": "22222222-2222-2222-2222-222222222222"});
    assert_ne!(
        answer(&app, &marc).await["type"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_ne!(
        answer(&app, &julie_denies(&app, "no-such-check")).await["type"],
        "application/vnd.microsoft.card.adaptive"
    );

    let done = card_of(&app, &julie_denies(&app, &check)).await;
    assert!(
        done.to_string().contains(&s("cards.callerDeniedDone")),
        "{done:#}"
    );
    assert!(
        !done.to_string().contains(&code),
        "the code is gone from her card"
    );

    // The agent is told in their personal chat.
    let posted = app.connector.wait_for(4).await;
    let alert = &posted[3];
    assert!(alert.path.contains("a:agent") || alert.path.contains("a%3Aagent"));
    assert_eq!(
        alert.body["text"],
        s("helpdesk.denied_alert")
            .replace("{name}", "Julie Tremblay")
            .replace("{username}", "trej")
            .replace("{agent}", "Agent du CSI")
    );
    let denied = app.audited("caller_denied").await;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].client.as_deref(), Some(agent_key().as_str()));

    // The code no longer works, and the agent's card says why.
    let refused = type_code(&app, &code).await;
    let text = refused.to_string();
    assert!(
        text.contains(&s("helpdesk.caller_denied").replace("{name}", "Julie Tremblay")),
        "{refused:#}"
    );
    assert!(!text.contains(&lead("helpdesk.identity_confirmed")));
    assert!(app.audited("caller_confirmed").await.is_empty());

    // And the desk, in its channel.
    let desk = crate::desk_channel::wait_for_desk_cards(&app, 1)
        .await
        .remove(0);
    assert!(
        desk.to_string().contains(
            &s("desk.caller_denied")
                .replace("{name}", "Julie Tremblay")
                .replace("{username}", "trej")
                .replace("{agent}", "Agent du CSI")
        ),
        "{desk:#}"
    );

    // A second click tells nobody twice.
    card_of(&app, &julie_denies(&app, &check)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.connector.posted().len(), 5);
    assert_eq!(crate::desk_channel::desk_cards(&app).len(), 1);
    validate(&[("denied", &done), ("agent-denied", &refused)]);
}

#[tokio::test]
async fn without_a_teams_chat_the_code_goes_by_mail_with_nothing_else() {
    let app = app_with_an_agent().await;
    // Julie never wrote to the bot.
    app.bot(&agent_says(&app, "verify trej")).await;
    let agent = app.connector.wait_for(1).await[0].card().unwrap().clone();
    assert!(
        agent.to_string().contains(
            &st(Locale::En, "helpdesk.code_sent_mail")
                .replace("{name}", "Julie Tremblay")
                .replace("{email}", "j***@c***.ca")
                .split("{time}")
                .next()
                .unwrap()
                .to_string()
        ),
        "{agent:#}"
    );
    let mail = app.smtp.wait_for(1, WAIT).await[0].clone();
    assert_eq!(mail.to, ["<julie.tremblay@cegepsi.ca>"]);
    assert_eq!(mail.subject(), s("mail.caller_code.subject"));
    let body = mail.text();
    let code = body
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 7 && l.chars().filter(char::is_ascii_digit).count() == 6)
        .unwrap_or_else(|| panic!("a code line in {body}"))
        .to_string();
    assert!(body.contains("Agent du CSI"), "{body}");
    assert!(
        !body.contains("/reset/") && !body.contains("http"),
        "{body}"
    );
    assert_eq!(
        app.audited("caller_code_sent").await[0].detail.as_deref(),
        Some("mail")
    );
    let confirmed = type_code(&app, &code).await;
    assert!(
        confirmed
            .to_string()
            .contains(&lead("helpdesk.identity_confirmed")),
        "{confirmed:#}"
    );
}

#[tokio::test]
async fn a_chat_closed_to_the_bot_falls_back_to_mail() {
    let app = app_with_an_agent().await;
    julie_has_a_chat(&app).await;
    // Julie removed the bot: her chat answers 403.
    app.connector.script(Answer::status(403));
    app.bot(&agent_says(&app, "vérifier trej")).await;
    let mail = app.smtp.wait_for(1, WAIT).await[0].clone();
    assert_eq!(mail.subject(), s("mail.caller_code.subject"));
    // Julie's welcome card and the agent's card: the refused post is not recorded.
    app.connector.wait_for(2).await;
    let agent = agent_card(&app);
    assert!(
        agent
            .to_string()
            .contains(&lead("helpdesk.code_sent_mail").replace("{name}", "")),
        "{agent:#}"
    );
}

#[tokio::test]
async fn a_hard_lock_is_lifted_only_for_a_confirmed_caller() {
    let app = TestApp::builder()
        .config(|c| {
            c.organisations[0].helpdesk.agent_object_ids = vec![AGENT_OID.into()];
            crate::unlock::hard_at_the_first_lock(c);
        })
        .spawn()
        .await;
    enrolled_and_locked(&app).await;
    julie_has_a_chat(&app).await;
    let status = card_of(
        &app,
        &agent_clicks(&app, "helpdesk.status", json!({"username": "trej"})),
    )
    .await;
    let text = status.to_string();
    assert!(
        text.contains(&s("cards.helpdeskHardLockVerify")),
        "{status:#}"
    );
    assert!(!text.contains(&s("cards.helpdeskUnlockButton")));
    // A forged click does not lift it either.
    let refused = card_of(
        &app,
        &agent_clicks(&app, "helpdesk.unlock", json!({"username": "trej"})),
    )
    .await;
    assert!(
        refused
            .to_string()
            .contains(&s("helpdesk.hard_lock_needs_caller"))
    );
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "locked"})
    );
    let refusals = app.audited("unlock_refused").await;
    assert_eq!(
        refusals.last().unwrap().detail.as_deref(),
        Some("caller_not_verified")
    );

    card_of(
        &app,
        &agent_clicks(&app, "helpdesk.verify", json!({"username": "trej"})),
    )
    .await;
    let code = code_cards(&app)[0].1.clone();
    let confirmed = type_code(&app, &code).await;
    assert!(
        confirmed
            .to_string()
            .contains(&s("cards.helpdeskUnlockButton")),
        "{confirmed:#}"
    );
    let unlocked = card_of(
        &app,
        &agent_clicks(&app, "helpdesk.unlock", json!({"username": "trej"})),
    )
    .await;
    assert!(
        unlocked
            .to_string()
            .contains(&s("helpdesk.unlocked_notice"))
    );
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "valid"})
    );
}

#[tokio::test]
async fn the_cards_read_in_english_and_portuguese() {
    for (word, locale) in [("verify", Locale::En), ("verificar", Locale::Pt)] {
        let app = app_with_an_agent().await;
        julie_has_a_chat(&app).await;
        app.bot(&agent_says(&app, &format!("{word} trej"))).await;
        app.connector.wait_for(3).await;
        let agent = agent_card(&app);
        assert!(
            agent
                .to_string()
                .contains(&st(locale, "cards.helpdeskConfirmButton")),
            "{agent:#}"
        );
        let (code_card, code, _) = code_cards(&app)[0].clone();
        let confirmed = type_code(&app, &code).await;
        let lang = locale.tag();
        validate(&[
            (&format!("agent-{lang}"), &agent),
            (&format!("code-{lang}"), &code_card),
            (&format!("confirmed-{lang}"), &confirmed),
        ]);
    }
}
