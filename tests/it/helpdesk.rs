//! The service desk's « statut trej »: agents (listed by Entra object id in the organisation's
//! configuration) get the account's recent events and the buttons « Renvoyer le lien » and
//! « Déverrouiller », each checked again and audited with the agent's identity; anyone else gets
//! what any unknown text gets, whether or not the account exists.

use std::{path::Path, process::Command, time::Duration};

use octopus_teams::i18n::{Locale, Strings};
use serde_json::{Value, json};

use crate::harness::{Activity, BOT_ID, TEAMEO, TENANT, TestApp};

const WAIT: Duration = Duration::from_secs(10);
/// The service-desk agent's Entra object id (configured in upper case: ids compare as GUIDs).
pub(crate) const AGENT_OID: &str = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";

pub(crate) fn s(key: &str) -> String {
    Strings::load().unwrap().get(Locale::FrCa, key)
}

pub(crate) async fn app_with_an_agent() -> TestApp {
    TestApp::builder()
        .config(|c| {
            c.organisations[0].helpdesk.agent_object_ids = vec![AGENT_OID.to_uppercase()];
        })
        .spawn()
        .await
}

pub(crate) fn as_agent(mut a: Value) -> Value {
    a["from"] = json!({"id": "29:agent", "name": "Agent du CSI", "aadObjectId": AGENT_OID});
    a
}

/// A message from the agent in their personal chat with the bot.
pub(crate) fn agent_says(app: &TestApp, text: &str) -> Value {
    as_agent(
        Activity::message(text)
            .to(&app.connector.service_url)
            .in_conversation("a:agent", "personal")
            .json(),
    )
}

/// A click on a helpdesk button (Action.Execute), by the agent or by Julie.
fn click(app: &TestApp, by_agent: bool, verb: &str, username: &str) -> Value {
    let conversation = if by_agent { "a:agent" } else { "a:julie" };
    let mut a = Activity::of("invoke")
        .to(&app.connector.service_url)
        .in_conversation(conversation, "personal")
        .json();
    if by_agent {
        a = as_agent(a);
    }
    a["name"] = json!("adaptiveCard/action");
    a["value"] = json!({"action": {"type": "Action.Execute", "verb": verb,
        "data": {"username": username, "lang": "fr-CA"}}, "trigger": "manual"});
    a
}

/// The invoke's answer body.
pub(crate) async fn answer(app: &TestApp, invoke: &Value) -> Value {
    let res = app.bot(invoke).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The card answered to a helpdesk button.
pub(crate) async fn card_of(app: &TestApp, invoke: &Value) -> Value {
    let body = answer(app, invoke).await;
    assert_eq!(
        body["type"], "application/vnd.microsoft.card.adaptive",
        "{body}"
    );
    body["value"].clone()
}

/// Asks for the agent's status card until it shows every text of `want` (the outbox marks a
/// mail sent just after the relay accepted it).
pub(crate) async fn status_showing(app: &TestApp, username: &str, want: &[String]) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let card = card_of(app, &click(app, true, "helpdesk.status", username)).await;
        let text = card.to_string();
        if want.iter().all(|w| text.contains(w.as_str())) {
            return card;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the status card never showed all of {want:?}: {card:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The card of the `n`th activity the connector received (from 1).
pub(crate) async fn posted_card(app: &TestApp, n: usize) -> Value {
    app.connector.wait_for(n).await[n - 1]
        .card()
        .unwrap_or_else(|| panic!("activity {n} carries a card"))
        .clone()
}

pub(crate) fn agent_key() -> String {
    format!("agent:{TENANT}:{AGENT_OID}")
}

/// Cards kept for the schema check (tools/cards/validate.mjs), one file each.
pub(crate) fn validate(cards: &[(&str, &Value)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root
        .join("target/cards-helpdesk")
        .join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    for (name, card) in cards {
        std::fs::write(
            dir.join(format!("{name}.json")),
            serde_json::to_vec_pretty(card).unwrap(),
        )
        .unwrap();
    }
    if !crate::harness::node_packages("tools/cards") {
        return;
    }
    let run = Command::new("node")
        .arg(root.join("tools/cards/validate.mjs"))
        .arg(&dir)
        .args(["--min", &cards.len().to_string()])
        .output()
        .expect("node runs (scripts/test-deps)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        run.status.success(),
        "helpdesk cards fail the check:\n{report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_agent_sees_the_account_s_journey_on_the_status_card_and_nothing_secret() {
    let app = app_with_an_agent().await;
    // Julie enrols through the web form, opens the link, sets her password and signs in.
    let mail = app.link_mail("enroll", "trej", 1).await;
    let link = app.reset_link(&mail);
    let (status, _) = app.get(&app.path_of(&link)).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.set_password(&link, "ete2026", "ete2026").await.status(),
        303
    );
    assert_eq!(
        app.sign_in("trej", "ete2026", "nothing").await.status(),
        303
    );

    // The agent asks in their personal chat.
    app.bot(&agent_says(&app, "statut TreJ")).await;
    let card = posted_card(&app, 1).await;
    let text = card.to_string();
    for shown in [
        "Julie Tremblay",
        "j***@c***.ca",
        &s("helpdesk.enrolled"),
        &s("helpdesk.link_used"),
        &s("helpdesk.link_opened"),
        &s("helpdesk.requested_enroll").replace("{by}", &s("helpdesk.by_person")),
        &s("cards.helpdeskResendButton"),
    ] {
        assert!(text.contains(shown), "{shown:?} not on the card: {card:#}");
    }
    assert!(
        !text.contains(&s("helpdesk.never")),
        "the sign-in is the last successful one: {card:#}"
    );
    assert!(
        !text.contains(&s("cards.helpdeskUnlockButton")),
        "not locked: no unlock button"
    );
    let sent = s("helpdesk.mail_sent").replace("{mail}", &s("helpdesk.mail_enroll"));
    let card = status_showing(&app, "trej", &[sent]).await;
    // Never a link, a token or the full address.
    let text = card.to_string();
    assert!(!text.contains("julie.tremblay@cegepsi.ca"), "{card:#}");
    assert!(!text.contains("/reset/"), "{card:#}");
    assert!(!text.contains(link.rsplit('/').next().unwrap()), "{card:#}");

    // Each look is audited with the agent's identity.
    let viewed = app.audited("helpdesk_viewed").await;
    assert!(viewed.len() >= 2);
    assert!(
        viewed
            .iter()
            .all(|r| r.client.as_deref() == Some(agent_key().as_str()) && r.account_id.is_some())
    );

    // An unknown account: « Aucun compte ».
    app.bot(&agent_says(&app, "statut trje")).await;
    let none = posted_card(&app, 2).await;
    assert!(
        none.to_string()
            .contains(&s("cards.helpdeskNoAccountTitle")),
        "{none:#}"
    );
    assert!(!none.to_string().contains(&s("cards.helpdeskResendButton")));
    validate(&[("found", &card), ("no-account", &none)]);
}

#[tokio::test]
async fn anyone_else_asking_for_a_status_gets_the_answer_to_unknown_text() {
    let app = app_with_an_agent().await;
    // Julie is no agent: her own account, an unknown one, and mere chatter answer alike.
    for (n, text) in [
        "statut trej",
        "status gagm",
        "statut zzzz",
        "n'importe quoi",
    ]
    .into_iter()
    .enumerate()
    {
        app.bot(&app.personal(text)).await;
        let card = posted_card(&app, n + 1).await;
        assert!(
            card.to_string().contains(&s("cards.welcomeTitle")),
            "{text}: {card:#}"
        );
    }
    let posted = app.connector.posted();
    let cards: Vec<&Value> = posted.iter().filter_map(|r| r.card()).collect();
    assert!(cards.windows(2).all(|w| w[0] == w[1]), "{cards:#?}");
    assert!(app.audited("helpdesk_viewed").await.is_empty());

    // Her click on a helpdesk button (a card forwarded to her, or made up) does what an
    // unknown button does: nothing, and no mail.
    let body = answer(&app, &click(&app, false, "helpdesk.resend", "trej")).await;
    let unknown = answer(&app, &click(&app, false, "no-such-verb", "trej")).await;
    assert_eq!(body, unknown);
    assert_ne!(body["type"], "application/vnd.microsoft.card.adaptive");
    assert!(app.audited("link_requested").await.is_empty());
    assert!(app.smtp.received().is_empty());
}

#[tokio::test]
async fn in_the_team_channel_the_agent_s_card_goes_to_their_personal_chat() {
    let app = app_with_an_agent().await;
    let mut asked = as_agent(
        Activity::message("<at>Octopus</at> statut trej")
            .to(&app.connector.service_url)
            .in_conversation("19:general@thread.tacv2", "channel")
            .in_team(TEAMEO)
            .json(),
    );
    asked["locale"] = json!("fr-CA");
    asked["entities"] = json!([{"type": "mention", "text": "<at>Octopus</at>",
        "mentioned": {"id": format!("28:{BOT_ID}"), "name": "Octopus"}}]);
    app.bot(&asked).await;
    let posted = app.connector.wait_for(3).await;
    assert_eq!(posted[0].body["text"], s("bot.moved_to_private"));
    assert!(posted[1].path.ends_with("/v3/conversations"));
    let card = posted[2].card().expect("the card, in the 1:1 chat");
    assert!(card.to_string().contains("Julie Tremblay"), "{card:#}");
    assert!(
        posted[..2]
            .iter()
            .all(|p| !p.body.to_string().contains("Julie")),
        "nothing about the account in the channel"
    );
}

#[tokio::test]
async fn an_agent_s_resend_mails_a_fresh_link_audited_with_the_agent() {
    let app = app_with_an_agent().await;
    let card = card_of(&app, &click(&app, true, "helpdesk.resend", "trej")).await;
    let notice = s("helpdesk.resent").replace("{email}", "j***@c***.ca");
    let notice = notice.split("{time}").next().unwrap();
    assert!(card.to_string().contains(notice), "{card:#}");

    // The mail is Julie's own: an enrolment link (she has no password yet), to her address.
    let mails = app.smtp.wait_for(1, WAIT).await;
    assert_eq!(mails[0].to, ["<julie.tremblay@cegepsi.ca>"]);
    let link = app.reset_link(&mails[0]);
    let (status, _) = app.get(&app.path_of(&link)).await;
    assert_eq!(status, 200, "the link works");

    let requested = app.audited("link_requested").await;
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].client.as_deref(), Some(agent_key().as_str()));
    assert!(requested[0].account_id.is_some());

    let by_agent = s("helpdesk.requested_enroll").replace("{by}", &s("helpdesk.by_agent"));
    let card = status_showing(&app, "trej", &[by_agent, s("helpdesk.link_opened")]).await;
    validate(&[("resent", &card)]);
}

#[tokio::test]
async fn an_agent_unlocks_a_locked_account_audited_with_the_agent_and_sign_in_works_again() {
    use crate::unlock::{PASSWORD, enrolled_and_locked, verify};
    let app = app_with_an_agent().await;
    enrolled_and_locked(&app).await;

    // The card tells the lock and offers « Déverrouiller ».
    let card = status_showing(&app, "trej", &[s("helpdesk.signin_locked")]).await;
    let text = card.to_string();
    assert!(text.contains(&s("cards.helpdeskUnlockButton")), "{card:#}");
    assert!(!text.contains(&format!("\"{}\"", s("helpdesk.not_locked"))));

    // Julie cannot press it; the agent can.
    let refused = answer(&app, &click(&app, false, "helpdesk.unlock", "trej")).await;
    assert_ne!(refused["type"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "locked"})
    );
    let card = card_of(&app, &click(&app, true, "helpdesk.unlock", "trej")).await;
    assert!(
        card.to_string().contains(&s("helpdesk.unlocked_notice")),
        "{card:#}"
    );
    assert!(
        !card.to_string().contains(&s("cards.helpdeskUnlockButton")),
        "no lock left to lift: {card:#}"
    );

    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "valid"}),
        "sign-in works again, with the same password"
    );
    let unlocked = app.audited("account_unlocked").await;
    assert_eq!(unlocked.len(), 1);
    assert_eq!(unlocked[0].client.as_deref(), Some(agent_key().as_str()));
    assert_eq!(unlocked[0].detail.as_deref(), Some("agent: Agent du CSI"));
    let mail = app.smtp.wait_for(3, WAIT).await[2].clone();
    assert_eq!(mail.to, ["<julie.tremblay@cegepsi.ca>"]);

    let by_agent = s("helpdesk.unlocked").replace("{by}", &s("helpdesk.by_agent"));
    let card = status_showing(&app, "trej", &[by_agent]).await;
    validate(&[("unlocked", &card)]);
}

#[tokio::test]
async fn a_flood_of_refused_sign_ins_does_not_push_the_account_s_history_off_the_card() {
    use crate::unlock::{enrolled_and_locked, verify};
    let app = app_with_an_agent().await;
    enrolled_and_locked(&app).await;
    // Each refused attempt at the locked account is audited; the card reads at most 20 rows.
    for i in 0..30 {
        verify(&app, "trej", &format!("guess{i}")).await;
    }
    let card = status_showing(&app, "trej", &[s("helpdesk.signin_locked")]).await;
    let text = card.to_string();
    assert!(
        text.contains(&s("helpdesk.enrolled")),
        "the enrolment is still on the card: {card:#}"
    );
    let by_person = s("helpdesk.requested_enroll").replace("{by}", &s("helpdesk.by_person"));
    assert!(text.contains(&by_person), "and the request: {card:#}");
}
