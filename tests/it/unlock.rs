//! « Déverrouiller mon compte »: a sign-in lock lifted without a new password, by the account's
//! owner (Teams identity) or an agent; audited with who did it, and mailed to the account.

use octopus_teams::reset::unlock::Unlocks;
use std::time::Duration;

use octopus_teams::model::{AccountId, Username};
use octopus_teams::reset::{agent::Actor, unlock::Unlock};
use serde_json::{Value, json};

use crate::harness::{API_KEY, JULIE_OID, TestApp};

const WAIT: Duration = Duration::from_secs(10);
pub const PASSWORD: &str = "abc123";

pub async fn verify(app: &TestApp, username: &str, password: &str) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/credentials/verify"))
        .bearer_auth(API_KEY)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The organisation's first lock a hard lock: 5 wrong passwords reach both limits.
pub fn hard_at_the_first_lock(c: &mut octopus_teams::config::RawConfig) {
    let lockout = c.organisations[0].lockout.get_or_insert_default();
    lockout.threshold = 5;
    lockout.hard_limit = 5;
}

/// Enrols trej with PASSWORD (one mail), then locks her sign-in with wrong guesses.
pub async fn enrolled_and_locked(app: &TestApp) {
    let link = app.reset_link(&app.link_mail("enroll", "trej", 1).await);
    assert_eq!(
        app.set_password(&link, PASSWORD, PASSWORD).await.status(),
        303
    );
    app.smtp.wait_for(2, WAIT).await;
    for i in 0..app.org.lockout.threshold {
        verify(app, "trej", &format!("wrong{i}")).await;
    }
    assert_eq!(
        verify(app, "trej", PASSWORD).await,
        json!({"result": "locked"}),
        "locked before the unlock"
    );
}

pub async fn account_id(app: &TestApp, username: &str) -> AccountId {
    let mut conn = app.store.conn().await.unwrap();
    octopus_teams::store::accounts::by_username(
        &mut conn,
        &app.org.tenant_id,
        &Username::parse(username).unwrap(),
    )
    .await
    .unwrap()
    .unwrap()
    .id
}

/// The audit rows of an event: (client, detail).
pub async fn audited(app: &TestApp, event: &str) -> Vec<(Option<String>, Option<String>)> {
    app.audited(event)
        .await
        .into_iter()
        .map(|r| (r.client, r.detail))
        .collect()
}

#[tokio::test]
async fn the_owner_unlocks_and_signs_in_again_with_the_same_password() {
    let app = TestApp::spawn().await;
    enrolled_and_locked(&app).await;
    let trej = account_id(&app, "trej").await;
    let me = Actor::SelfService {
        aad_object_id: JULIE_OID.into(),
    };

    let done = Unlocks::of(&app.reset)
        .unlock(&app.org, &trej, &me, None)
        .await
        .unwrap();

    assert_eq!(done, Unlock::Unlocked);
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "valid"})
    );
    let mail = app.smtp.wait_for(3, WAIT).await[2].clone();
    assert_eq!(mail.to, vec!["<julie.tremblay@cegepsi.ca>".to_string()]);
    assert_eq!(mail.subject(), "Votre compte a été déverrouillé");
    let text = mail.text().replace("\r\n", "\n");
    assert!(text.contains("Bonjour Julie Tremblay,"), "{text}");
    assert!(text.contains("Votre mot de passe n'a pas changé"), "{text}");
    assert!(!text.contains("Le déverrouillage a été fait"), "{text}");
    assert!(
        !text.contains("/reset/"),
        "no link that grants anything: {text}"
    );
    assert_eq!(
        audited(&app, "account_unlocked").await,
        vec![(
            Some(format!("teams:{}:{JULIE_OID}", app.org.tenant_id)),
            Some("self".into())
        )]
    );
    // Nothing left to lift: no second mail, no second row.
    assert_eq!(
        Unlocks::of(&app.reset)
            .unlock(&app.org, &trej, &me, None)
            .await
            .unwrap(),
        Unlock::NotLocked
    );
    assert_eq!(audited(&app, "account_unlocked").await.len(), 1);
}

#[tokio::test]
async fn another_identity_cannot_unlock_but_an_agent_can_and_is_named() {
    let app = TestApp::spawn().await;
    enrolled_and_locked(&app).await;
    let trej = account_id(&app, "trej").await;
    let stranger = Actor::SelfService {
        aad_object_id: "22222222-2222-2222-2222-222222222222".into(),
    };

    let refused = Unlocks::of(&app.reset)
        .unlock(&app.org, &trej, &stranger, None)
        .await;

    assert_eq!(refused.unwrap(), Unlock::NotOwner);
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "locked"})
    );
    assert!(audited(&app, "account_unlocked").await.is_empty());

    let agent = Actor::Agent {
        aad_object_id: "33333333-3333-3333-3333-333333333333".into(),
        name: "Agent Soutien".into(),
    };
    let locale = Some(octopus_teams::i18n::Locale::En);
    let done = Unlocks::of(&app.reset)
        .unlock(&app.org, &trej, &agent, locale)
        .await;

    assert_eq!(done.unwrap(), Unlock::Unlocked);
    assert_eq!(
        verify(&app, "trej", PASSWORD).await,
        json!({"result": "valid"})
    );
    assert_eq!(
        audited(&app, "account_unlocked").await,
        vec![(
            Some(format!(
                "agent:{}:33333333-3333-3333-3333-333333333333",
                app.org.tenant_id
            )),
            Some("agent: Agent Soutien".into())
        )]
    );
    let mail = app.smtp.wait_for(3, WAIT).await[2].clone();
    assert_eq!(mail.subject(), "Your account has been unlocked");
    assert!(
        mail.text()
            .contains("The unlock was done by your IT Service Desk."),
        "{}",
        mail.text()
    );
    assert_eq!(app.smtp.received().len(), 3, "no mail for the refusal");
}
