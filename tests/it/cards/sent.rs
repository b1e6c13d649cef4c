//! Cards as the bot builds them: every card the bot sends in the conversations (posted through
//! the Bot Connector or answered to an Action.Execute invoke) is valid Adaptive Cards 1.5 with no
//! templating left, in the three languages and in every state a status card can show. The
//! templates and their samples are checked in templates.rs; this checks what the bot really sends.

use std::{path::Path, process::Command, time::Duration};

use octopus_teams::i18n::{Locale, Strings};
use serde_json::{Value, json};

use crate::harness::{Activity, BOT_ID, TEAMEO, TestApp};

const WAIT: Duration = Duration::from_secs(10);
/// Past the 30-minute link lifetime.
const PAST_EXPIRY: Duration = Duration::from_secs(31 * 60);

/// Teams locales and the words a person of that language types.
const LANGUAGES: [(&str, Locale, &str); 3] = [
    ("fr-CA", Locale::FrCa, "mot de passe oublié"),
    ("en-US", Locale::En, "forgot password"),
    ("pt-BR", Locale::Pt, "esqueci a senha"),
];

fn card_str(locale: Locale, key: &str) -> String {
    Strings::load()
        .unwrap()
        .get(locale, &format!("cards.{key}"))
}

/// A message from Julie in her personal chat, in `locale`.
fn personal(app: &TestApp, locale: &str, text: &str) -> Value {
    let mut a = app.personal(text);
    a["locale"] = json!(locale);
    a
}

/// An Action.Execute from the card `card_id` in Julie's personal chat.
fn invoke(app: &TestApp, locale: &str, card_id: &str, verb: &str, data: Value) -> Value {
    let mut a = Activity::of("invoke").to(&app.connector.service_url).json();
    a["locale"] = json!(locale);
    a["name"] = json!("adaptiveCard/action");
    a["replyToId"] = json!(card_id);
    a["value"] = json!({"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"});
    a
}

/// The card the bot answers to an invoke.
async fn invoke_card(app: &TestApp, activity: &Value) -> Value {
    let res = app.bot(activity).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["type"], "application/vnd.microsoft.card.adaptive",
        "{body}"
    );
    body["value"].clone()
}

fn request_id(status: &Value) -> String {
    status["refresh"]["action"]["data"]["requestId"]
        .as_str()
        .unwrap_or_else(|| panic!("a live status card: {status}"))
        .to_string()
}

/// Waits until the connector received a card containing `text`.
async fn wait_for_posted_card(app: &TestApp, text: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if app
            .connector
            .posted()
            .iter()
            .filter_map(|r| r.card())
            .any(|c| c.to_string().contains(text))
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no posted card with {text:?}: {:#?}",
            app.connector.posted()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Cards kept for the checker, one file each, named after where they came from.
struct Kept {
    dir: std::path::PathBuf,
    all: Vec<Value>,
}

impl Kept {
    fn keep(&mut self, name: &str, card: &Value) {
        std::fs::write(
            self.dir.join(format!("{name}.json")),
            serde_json::to_vec_pretty(card).unwrap(),
        )
        .unwrap();
        self.all.push(card.clone());
    }

    /// Every card the connector received, named by language, method and order.
    fn keep_posted(&mut self, lang: &str, app: &TestApp) {
        for (n, r) in app.connector.posted().iter().enumerate() {
            if let Some(card) = r.card() {
                self.keep(&format!("{lang}.posted-{n}-{}", r.method), card);
            }
        }
    }
}

/// Drives the conversations of one language and keeps every card the bot sends.
async fn conversations(lang: &str, locale: Locale, words: &str, kept: &mut Kept) {
    let app = TestApp::builder()
        .config(|c| {
            c.limits.requests_per_ip = 5;
            c.limits.requests_per_account = 10;
        })
        .spawn()
        .await;
    let mut mails = 0;

    // The form, by message and through Action.Execute; the enrolment form.
    app.bot(&personal(&app, lang, words)).await;
    app.connector.wait_for(1).await;
    let form = invoke_card(&app, &invoke(&app, lang, "card-0", "forgot", json!({}))).await;
    kept.keep(&format!("{lang}.invoke-forgot"), &form);
    let enrol = invoke_card(&app, &invoke(&app, lang, "card-0", "enroll", json!({}))).await;
    kept.keep(&format!("{lang}.invoke-enroll"), &enrol);

    // Request 1 (trej): sent → link opened → password changed.
    let sent = invoke_card(
        &app,
        &invoke(
            &app,
            lang,
            "card-1",
            "submit",
            json!({"purpose": "reset", "username": "trej"}),
        ),
    )
    .await;
    kept.keep(&format!("{lang}.invoke-submit-sent"), &sent);
    let first = request_id(&sent);
    mails += 1;
    let link = app.reset_link(&app.smtp.wait_for(mails, WAIT).await[mails - 1]);
    assert_eq!(app.get(&app.path_of(&link)).await.0, 200);
    wait_for_posted_card(&app, &card_str(locale, "usedTitle")).await;
    let used = invoke_card(
        &app,
        &invoke(&app, lang, "card-1", "refresh", json!({"requestId": first})),
    )
    .await;
    kept.keep(&format!("{lang}.invoke-refresh-used"), &used);
    assert_eq!(
        app.set_password(&link, "ete2026", "ete2026").await.status(),
        303
    );
    wait_for_posted_card(&app, &card_str(locale, "changedTitle")).await;
    let changed = invoke_card(
        &app,
        &invoke(&app, lang, "card-1", "refresh", json!({"requestId": first})),
    )
    .await;
    kept.keep(&format!("{lang}.invoke-refresh-changed"), &changed);

    // Requests 2 and 3 (trej): the newer supersedes the older, then « Ce n'était pas moi ».
    for card in ["card-2", "card-3"] {
        let status = invoke_card(
            &app,
            &invoke(
                &app,
                lang,
                card,
                "submit",
                json!({"purpose": "reset", "username": "trej"}),
            ),
        )
        .await;
        kept.keep(&format!("{lang}.invoke-submit-{card}"), &status);
        mails += 1;
        app.smtp.wait_for(mails, WAIT).await;
        if card == "card-3" {
            wait_for_posted_card(&app, &card_str(locale, "supersededTitle")).await;
            let cancelled = invoke_card(
                &app,
                &invoke(
                    &app,
                    lang,
                    card,
                    "notme",
                    json!({"requestId": request_id(&status)}),
                ),
            )
            .await;
            kept.keep(&format!("{lang}.invoke-notme-cancelled"), &cancelled);
        }
    }

    // Someone else's username: the uniform answer. Then a fourth request for trej, the sixth
    // request from this person within the window is refused, and trej's fourth link expires.
    let uniform = invoke_card(
        &app,
        &invoke(
            &app,
            lang,
            "card-4",
            "submit",
            json!({"purpose": "enroll", "username": "nobody"}),
        ),
    )
    .await;
    kept.keep(&format!("{lang}.invoke-submit-uniform"), &uniform);
    let last = invoke_card(
        &app,
        &invoke(
            &app,
            lang,
            "card-5",
            "submit",
            json!({"purpose": "reset", "username": "trej"}),
        ),
    )
    .await;
    // The sixth request from this person within the window: the rate-limit card.
    let limited = invoke_card(
        &app,
        &invoke(
            &app,
            lang,
            "card-6",
            "submit",
            json!({"purpose": "reset", "username": "nobody"}),
        ),
    )
    .await;
    kept.keep(&format!("{lang}.invoke-submit-rate-limited"), &limited);

    app.advance(PAST_EXPIRY);
    let expired = invoke_card(
        &app,
        &invoke(
            &app,
            lang,
            "card-5",
            "refresh",
            json!({"requestId": request_id(&last)}),
        ),
    )
    .await;
    kept.keep(&format!("{lang}.invoke-refresh-expired"), &expired);

    // An unknown tenant is refused; a team other than Teaméo is refused; in Teaméo the form
    // moves to a private chat; a group chat is pointed to the private chat; the bot welcomes
    // the team it is added to.
    let mut stranger = personal(&app, lang, words);
    stranger["channelData"]["tenant"]["id"] = json!("99999999-9999-9999-9999-999999999999");
    stranger["conversation"]["tenantId"] = json!("99999999-9999-9999-9999-999999999999");
    app.bot(&stranger).await;
    // Turns run after their 200 and may end in any order: wait for each refusal's card.
    wait_for_posted_card(&app, &card_str(locale, "unknownTenantTitle")).await;
    let mention = |team: &str| {
        let mut a = Activity::message(&format!("<at>Octopus</at> {words}"))
            .to(&app.connector.service_url)
            .in_conversation(&format!("{team};messageid=42"), "channel")
            .in_team(team)
            .json();
        a["locale"] = json!(lang);
        a["entities"] = json!([{"type": "mention", "text": "<at>Octopus</at>", "mentioned": {"id": format!("28:{BOT_ID}"), "name": "Octopus"}}]);
        a
    };
    app.bot(&mention("19:other@thread.tacv2")).await;
    wait_for_posted_card(&app, &card_str(locale, "unknownTeamTitle")).await;
    app.bot(&mention(TEAMEO)).await;
    // A group chat is pointed to the private chat.
    let mut group = Activity::message(words)
        .to(&app.connector.service_url)
        .in_conversation("19:group@thread.v2", "groupChat")
        .json();
    group["locale"] = json!(lang);
    app.bot(&group).await;
    wait_for_posted_card(&app, &card_str(locale, "notAllowedTitle")).await;
    let mut added = Activity::of("conversationUpdate")
        .to(&app.connector.service_url)
        .in_conversation(TEAMEO, "channel")
        .in_team(TEAMEO)
        .json();
    added["locale"] = json!(lang);
    added["membersAdded"] = json!([{"id": format!("28:{BOT_ID}")}]);
    app.bot(&added).await;
    wait_for_posted_card(&app, &card_str(locale, "welcomeTitle")).await;
    kept.keep_posted(lang, &app);
}

#[tokio::test]
async fn every_card_the_bot_sends_is_valid_adaptive_cards_1_5_with_no_binding_left() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root
        .join("target/cards-bot")
        .join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let mut kept = Kept {
        dir: dir.clone(),
        all: Vec::new(),
    };
    for (lang, locale, words) in LANGUAGES {
        conversations(lang, locale, words, &mut kept).await;
    }

    // Every state, in every language, is among the cards checked.
    let text = serde_json::to_string(&kept.all).unwrap();
    for (_, locale, _) in LANGUAGES {
        for key in [
            "resetHeading",
            "enrollHeading",
            "sentTitle",
            "usedTitle",
            "changedTitle",
            "supersededTitle",
            "cancelledTitle",
            "expiredTitle",
            "rateLimitedTitle",
            "notAllowedTitle",
            "unknownTenantTitle",
            "unknownTeamTitle",
            "welcomeTitle",
        ] {
            let s = card_str(locale, key);
            let escaped = serde_json::to_string(&s).unwrap();
            assert!(
                text.contains(&escaped[1..escaped.len() - 1]),
                "no card in {} shows cards.{key} ({s:?})",
                locale.tag()
            );
        }
    }
    assert!(
        kept.all.iter().any(|c| c.get("refresh").is_some()),
        "live status cards (with refresh) are among them"
    );

    if !crate::harness::node_packages("tools/cards") {
        return;
    }
    let tool = root.join("tools/cards");
    let run = Command::new("node")
        .arg(tool.join("validate.mjs"))
        .arg(&dir)
        .args(["--min", &kept.all.len().to_string()])
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    eprintln!("{report}");
    assert!(
        run.status.success(),
        "cards the bot sent fail the check (in {}):\n{report}",
        dir.display()
    );
    assert!(
        report.contains(&format!("{} cards passed, 0 failed", kept.all.len())),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_expired_link_shows_as_expired_on_the_live_status_card() {
    let app = TestApp::spawn().await;
    let status = invoke_card(
        &app,
        &invoke(
            &app,
            "fr-CA",
            "card-1",
            "submit",
            json!({"purpose": "reset", "username": "trej"}),
        ),
    )
    .await;
    let id = request_id(&status);
    let link = app.reset_link(&app.smtp.wait_for(1, WAIT).await[0]);
    // A new activity each time: a repeated one is a redelivery, answered from memory.
    let refresh = || invoke(&app, "fr-CA", "card-1", "refresh", json!({"requestId": id}));

    // Just before the 30 minutes: still sent, « Ce n'était pas moi » still offered.
    app.advance(Duration::from_secs(29 * 60));
    let before = invoke_card(&app, &refresh()).await.to_string();
    assert!(
        before.contains(&card_str(Locale::FrCa, "sentTitle")),
        "{before}"
    );
    assert!(before.contains("\"notme\""), "{before}");

    app.advance(Duration::from_secs(2 * 60));
    let card = invoke_card(&app, &refresh()).await;
    let after = card.to_string();
    assert!(
        after.contains(&card_str(Locale::FrCa, "expiredTitle"))
            && after.contains(&card_str(Locale::FrCa, "expiredMessage")),
        "the card says the link expired: {after}"
    );
    assert!(
        !after.contains(&card_str(Locale::FrCa, "sentTitle")),
        "{after}"
    );
    assert!(
        !after.contains("\"notme\""),
        "nothing to cancel on an expired link: {after}"
    );
    assert_eq!(
        request_id(&card),
        id,
        "still the live card of the same request"
    );
    assert_eq!(
        app.get(&app.path_of(&link)).await.0,
        410,
        "and the link itself is expired"
    );
}
