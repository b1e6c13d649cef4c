//! The service desk's Teams channel (`[organisations.desk_channel]`): a mail given up on, a hard
//! lock, a caller who says they did not call, and the relay down and back each post a card there
//! through the Bot Connector, in the organisation's language and with nothing secret; a burst of
//! 50 dead letters is one grouped card.

use std::time::Duration;

use octopus_teams::{
    i18n::{Locale, Strings},
    org::DeskChannel,
};
use serde_json::{Value, json};

use crate::{
    harness::{TestApp, card_action, connector::Recorded},
    unlock::{enrolled_and_locked, hard_at_the_first_lock},
};

/// The service desk's own team (not among the organisation's `team_ids`) and channel.
const DESK_TEAM: &str = "19:equipe-centre-de-services@thread.tacv2";
const CHANNEL: &str = "19:centre-de-services@thread.tacv2";
const WAIT: Duration = Duration::from_secs(40);

fn s(key: &str) -> String {
    Strings::load().unwrap().get(Locale::FrCa, key)
}

pub(crate) fn desk_channel(c: &mut octopus_teams::config::RawConfig) {
    c.organisations[0].desk_channel = Some(DeskChannel {
        team_id: DESK_TEAM.into(),
        channel_id: CHANNEL.into(),
        // Unset: the serviceUrl of the organisation's latest activity.
        service_url: None,
        min_interval_secs: 1,
        refusal_burst: 100,
    });
}

fn in_the_channel(r: &Recorded) -> bool {
    r.path.contains(CHANNEL)
        || r.path
            .contains(&CHANNEL.replace(':', "%3A").replace('@', "%40"))
}

/// The cards posted in the desk channel so far.
pub(crate) fn desk_cards(app: &TestApp) -> Vec<Value> {
    app.connector
        .posted()
        .iter()
        .filter(|r| in_the_channel(r))
        .filter_map(|r| r.card().cloned())
        .collect()
}

pub(crate) async fn wait_for_desk_cards(app: &TestApp, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let cards = desk_cards(app);
        if cards.len() >= n {
            return cards;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} desk card(s) expected, {} posted",
            cards.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Someone talks to the bot once: the organisation's serviceUrl is known.
async fn the_bot_was_used(app: &TestApp) {
    app.bot(&app.personal("bonjour")).await;
    app.connector.wait_for(1).await;
}

/// Nothing secret on a card in a channel everyone of the team reads.
fn nothing_secret(card: &Value) {
    let text = card["body"].to_string();
    for secret in [
        "julie.tremblay@cegepsi.ca",
        "/reset/",
        "http://",
        "https://",
    ] {
        assert!(!text.contains(secret), "{secret:?} on {card:#}");
    }
}

#[tokio::test]
async fn a_hard_lock_posts_one_card_in_the_desk_channel() {
    let app = TestApp::builder()
        .config(|c| {
            desk_channel(c);
            hard_at_the_first_lock(c);
        })
        .spawn()
        .await;
    the_bot_was_used(&app).await;
    enrolled_and_locked(&app).await;
    let cards = wait_for_desk_cards(&app, 1).await;
    let text = cards[0].to_string();
    let line = s("desk.hard_lock").replace("{username}", "trej");
    assert!(text.contains(&line), "{:#}", cards[0]);
    assert!(text.contains(&s("cards.deskAlertHeading")));
    nothing_secret(&cards[0]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(desk_cards(&app).len(), 1, "one card for one lock");
    crate::helpdesk::validate(&[("desk-hard-lock", &cards[0])]);
}

#[tokio::test]
async fn a_dead_letter_posts_one_card_and_a_burst_of_fifty_one_grouped_card() {
    let app = TestApp::builder()
        .config(|c| {
            desk_channel(c);
            c.limits.requests_per_ip = 1000;
            c.organisations[0].helpdesk.agent_object_ids = vec![crate::helpdesk::AGENT_OID.into()];
        })
        .spawn()
        .await;
    the_bot_was_used(&app).await;
    let mut csv = String::from("username,email,display_name\n");
    for i in 0..50 {
        csv.push_str(&format!("user{i:02},user{i:02}@cegepsi.ca,Personne {i}\n"));
    }
    app.import(&csv).await;
    app.smtp.refuse_recipients();

    // One dead letter: one card, with whose address (masked), what and since when.
    app.request_link("enroll", "trej").await;
    let cards = wait_for_desk_cards(&app, 1).await;
    let text = cards[0].to_string();
    let line = s("desk.mail_dead")
        .replace("{mail}", &s("helpdesk.mail_enroll"))
        .replace("{to}", "j***@c***.ca");
    let line = line.split("{since}").next().unwrap();
    assert!(text.contains(line), "{:#}", cards[0]);
    nothing_secret(&cards[0]);
    assert!(
        text.contains(&s("cards.deskResendButton")),
        "{:#}",
        cards[0]
    );
    crate::helpdesk::validate(&[("desk-dead", &cards[0])]);
    let mail_id = find_resend_id(&cards[0]);

    // « Renvoyer », in the channel: not for anyone, but an agent gets a fresh link mailed.
    let click = |by_agent: bool| {
        let mut a = card_action(
            &app.connector.service_url,
            "desk.resend",
            json!({"mail": mail_id}),
        );
        a["conversation"] = json!({"id": CHANNEL, "conversationType": "channel",
            "tenantId": crate::harness::TENANT, "isGroup": true});
        a["channelData"]["team"] = json!({"id": DESK_TEAM});
        a["channelData"]["channel"] = json!({"id": CHANNEL});
        if by_agent {
            a = crate::helpdesk::as_agent(a);
        }
        a
    };
    let refused = crate::helpdesk::answer(&app, &click(false)).await;
    assert_ne!(refused["type"], "application/vnd.microsoft.card.adaptive");
    app.smtp.accept();
    let done = crate::helpdesk::card_of(&app, &click(true)).await;
    let resent = s("desk.resent")
        .replace("{agent}", "Agent du CSI")
        .replace("{to}", "j***@c***.ca");
    assert!(
        done.to_string()
            .contains(resent.split("{time}").next().unwrap()),
        "{done:#}"
    );
    let mail = app.smtp.wait_for(1, WAIT).await.remove(0);
    assert_eq!(mail.to, ["<julie.tremblay@cegepsi.ca>"]);
    // The card clicked again (or a forged click): nothing more is sent.
    let again = crate::helpdesk::card_of(&app, &click(true)).await;
    assert!(again.to_string().contains(&s("desk.not_dead")), "{again:#}");
    let retried: Vec<String> = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e == "mail_retried_by_operator")
        .collect();
    assert_eq!(retried.len(), 1);
    app.smtp.refuse_recipients();

    // Fifty in a burst: one card that counts them.
    for i in 0..50 {
        app.request_link("enroll", &format!("user{i:02}")).await;
    }
    let cards = wait_for_desk_cards(&app, 2).await;
    let grouped = &cards[1];
    let text = grouped.to_string();
    assert!(
        text.contains(&format!(
            "{{\"title\":\"{}\",\"value\":\"50\"}}",
            s("desk.kind_mail_dead")
        )),
        "{grouped:#}"
    );
    assert!(
        text.contains(&s("desk.more").replace("{n}", "40")),
        "ten listed, the rest counted: {grouped:#}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(desk_cards(&app).len(), 2, "one card for the burst");
    crate::helpdesk::validate(&[("desk-grouped", grouped), ("desk-resent", &done)]);
}

#[tokio::test]
async fn a_relay_outage_posts_a_card_when_it_starts_and_one_when_it_ends() {
    let app = TestApp::builder()
        .config(|c| {
            desk_channel(c);
            // Retried, never given up on, never expired, however long the outage lasts here.
            c.organisations[0].token_lifetime_minutes = 24 * 60;
            c.mail.max_attempts = 1000;
        })
        .spawn()
        .await;
    the_bot_was_used(&app).await;
    app.smtp.refuse(); // 451 to everything: the relay does not take mail
    app.request_link("reset", "trej").await;
    app.request_link("enroll", "gagm").await;
    // Each mail is tried again after its backoff: three failures in a row make an outage.
    let deadline = tokio::time::Instant::now() + WAIT;
    while desk_cards(&app).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no outage card");
        app.advance(Duration::from_secs(600));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let down = wait_for_desk_cards(&app, 1).await.remove(0);
    assert!(down.to_string().contains(&s("desk.relay_down")), "{down:#}");
    app.smtp.accept();
    app.advance(Duration::from_secs(3600)); // past any backoff
    app.smtp.wait_for(1, WAIT).await;
    let cards = wait_for_desk_cards(&app, 2).await;
    assert!(
        cards[1].to_string().contains(&s("desk.relay_up")),
        "{:#}",
        cards[1]
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        desk_cards(&app).len(),
        2,
        "once when it starts, once when it ends"
    );
}

#[tokio::test]
async fn a_database_that_stops_answering_is_told_in_the_desk_channel() {
    // On PostgreSQL, operations::binary::readyz_fails_while_the_database_is_down_and_recovers counts the
    // readiness warnings of the whole test process: this one would be counted there too. The
    // desk's side does not depend on the database kind.
    if std::env::var("DATABASE_URL").is_ok() {
        eprintln!("a_database_that_stops_answering: SQLite only (DATABASE_URL set)");
        return;
    }
    let app = TestApp::builder()
        .config(|c| {
            desk_channel(c);
            hard_at_the_first_lock(c);
        })
        .spawn()
        .await;
    the_bot_was_used(&app).await;
    // A first card: the channel's serviceUrl is now known without the database.
    enrolled_and_locked(&app).await;
    wait_for_desk_cards(&app, 1).await;

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    app.store.pool().close().await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    // Probes during the outage say nothing new.
    app.client.get(app.url("/readyz")).send().await.unwrap();
    let cards = wait_for_desk_cards(&app, 2).await;
    assert!(
        cards[1].to_string().contains(&s("desk.database_down")),
        "{:#}",
        cards[1]
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(desk_cards(&app).len(), 2);
}

#[tokio::test]
async fn a_burst_of_refused_requests_is_told_once() {
    let app = TestApp::builder()
        .config(|c| {
            desk_channel(c);
            if let Some(d) = c.organisations[0].desk_channel.as_mut() {
                d.refusal_burst = 5;
            }
            c.limits.requests_per_ip = 1;
        })
        .spawn()
        .await;
    the_bot_was_used(&app).await;
    // One request allowed, then ten refused: the fifth refusal makes the card, once.
    for _ in 0..11 {
        app.request_link("reset", "trej").await;
    }
    let cards = wait_for_desk_cards(&app, 1).await;
    let line = s("desk.refusal_burst")
        .replace("{n}", "5")
        .replace("{minutes}", "10");
    assert!(cards[0].to_string().contains(&line), "{:#}", cards[0]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(desk_cards(&app).len(), 1);
}

/// The outbox id a dead letter's « Renvoyer » carries.
fn find_resend_id(card: &Value) -> String {
    fn walk(v: &Value) -> Option<String> {
        if v["verb"] == "desk.resend" {
            return v["data"]["mail"].as_str().map(str::to_string);
        }
        match v {
            Value::Array(a) => a.iter().find_map(walk),
            Value::Object(m) => m.values().find_map(walk),
            _ => None,
        }
    }
    walk(card).expect("a « Renvoyer » button")
}
