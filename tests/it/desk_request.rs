//! « Ouvrir une demande au Centre de services »: where self-service ends (no account linked to
//! the Teams identity, a hard lock, « Je n'ai pas appelé »), the person's click mails the
//! organisation's Octopus MailIntegration mailbox one request — an incident, or a service request
//! enclosed in the configured token — saying who, what happened and when, and nothing secret.

use std::time::Duration;

use octopus_teams::{
    i18n::{Locale, Strings},
    org::{OctopusRequests, RequestMode},
};
use serde_json::{Value, json};

use crate::{
    harness::{TestApp, card_action, smtp::ReceivedMail},
    unlock::{PASSWORD, enrolled_and_locked},
};

const WAIT: Duration = Duration::from_secs(10);
const MAILBOX: &str = "octopus-demandes@cegepsi.ca";
const STRANGER_OID: &str = "33333333-3333-4333-8333-333333333333";

fn s(key: &str) -> String {
    Strings::load().unwrap().get(Locale::FrCa, key)
}

fn requests(mode: RequestMode) -> OctopusRequests {
    OctopusRequests {
        mailbox: MAILBOX.into(),
        mode,
        enclosing_token: (mode == RequestMode::ServiceRequest).then(|| "CreateSR".into()),
        field_lines: match mode {
            RequestMode::Incident => Vec::new(),
            RequestMode::ServiceRequest => vec!["Catégorie: Accès".into(), "Source: Teams".into()],
        },
        window_hours: 24,
    }
}

/// Someone whose Teams identity is linked to no account.
fn from_stranger(mut a: Value) -> Value {
    a["from"] =
        json!({"id": "29:stranger", "name": "Sophie Nouvelle", "aadObjectId": STRANGER_OID});
    a
}

async fn card_answer(app: &TestApp, a: &Value) -> Value {
    let body: Value = app.bot(a).await.json().await.unwrap();
    assert_eq!(
        body["type"], "application/vnd.microsoft.card.adaptive",
        "{body}"
    );
    body["value"].clone()
}

fn ask_desk(app: &TestApp, reason: &str) -> Value {
    card_action(
        &app.connector.service_url,
        "desk.request",
        json!({"reason": reason}),
    )
}

/// The mails to the desk's mailbox so far.
fn desk_mails(app: &TestApp) -> Vec<ReceivedMail> {
    app.smtp
        .received()
        .into_iter()
        .filter(|m| m.to == [format!("<{MAILBOX}>")])
        .collect()
}

async fn wait_for_desk_mails(app: &TestApp, n: usize) -> Vec<ReceivedMail> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mails = desk_mails(app);
        if mails.len() >= n {
            return mails;
        }
        assert!(tokio::time::Instant::now() < deadline, "no desk mail");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Nothing a request may not carry: no link, no token, no code, no password.
fn nothing_secret(mail: &ReceivedMail) {
    let raw = String::from_utf8_lossy(&mail.data).to_string();
    for secret in ["http://", "https://", "/reset/", PASSWORD] {
        assert!(!raw.contains(secret), "{secret:?} in the request:\n{raw}");
    }
    assert!(
        mail.parsed().subparts.is_empty(),
        "plain text only, as MailIntegration reads it"
    );
}

#[tokio::test]
async fn an_identity_linked_to_no_account_opens_one_incident_with_its_consent() {
    let app = TestApp::builder()
        .config(|c| c.organisations[0].octopus_requests = Some(requests(RequestMode::Incident)))
        .spawn()
        .await;
    app.connector.add_member(
        "29:stranger",
        json!({"id": "29:stranger", "objectId": STRANGER_OID,
            "userPrincipalName": "sophie.nouvelle@cegepsi.ca", "email": "sophie.nouvelle@cegepsi.ca",
            "tenantId": crate::harness::TENANT, "userRole": "user"}),
    );
    // « Nom d'utilisateur oublié ? »: no account; the card offers the request and says what goes.
    app.bot(&from_stranger(app.personal("nom d'utilisateur oublié")))
        .await;
    let card = app.connector.wait_for(1).await[0].card().unwrap().clone();
    let text = card.to_string();
    assert!(text.contains(&s("cards.unlinkedTitle")), "{card:#}");
    assert!(text.contains(&s("cards.deskRequestButton")), "{card:#}");
    assert!(text.contains(&s("cards.deskRequestConsent")));
    assert!(app.smtp.received().is_empty(), "nothing before the click");

    let sent = card_answer(&app, &from_stranger(ask_desk(&app, "unlinked"))).await;
    assert!(
        sent.to_string().contains(&s("cards.deskRequestSentTitle")),
        "{sent:#}"
    );
    let mail = wait_for_desk_mails(&app, 1).await.remove(0);
    assert_eq!(
        mail.subject(),
        s("mail.desk_request.subject")
            .replace("{reason}", &s("mail.desk_request.reason_unlinked"))
            .replace("{name}", "Sophie Nouvelle")
    );
    let body = mail.text();
    let colon = s("common.colon");
    for line in [
        format!("{}{colon}Sophie Nouvelle", s("mail.desk_request.who")),
        format!(
            "{}{colon}sophie.nouvelle@cegepsi.ca",
            s("mail.desk_request.upn")
        ),
        format!(
            "{}{colon}{}",
            s("mail.desk_request.username"),
            s("mail.desk_request.no_account")
        ),
        format!(
            "{}{colon}{}",
            s("mail.desk_request.what"),
            s("mail.desk_request.what_unlinked")
        ),
        format!("{}{colon}{STRANGER_OID}", s("mail.desk_request.object_id")),
    ] {
        assert!(body.contains(&line), "{line:?} not in:\n{body}");
    }
    assert!(body.contains("(America/Toronto)"), "{body}");
    assert!(!body.contains("CreateSR"), "an incident: no token");
    nothing_secret(&mail);

    // A second click within the window sends nothing more.
    let again = card_answer(&app, &from_stranger(ask_desk(&app, "unlinked"))).await;
    assert!(
        again
            .to_string()
            .contains(&s("cards.deskRequestAlreadyTitle")),
        "{again:#}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(desk_mails(&app).len(), 1);
    let audited: Vec<_> = app
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e == "desk_request_sent")
        .collect();
    assert_eq!(audited.len(), 1);
    crate::helpdesk::validate(&[
        ("desk-unlinked", &card),
        ("desk-sent", &sent),
        ("desk-again", &again),
    ]);
}

#[tokio::test]
async fn a_hard_lock_opens_a_service_request_enclosed_in_the_token_with_the_account_s_references() {
    let app = TestApp::builder()
        .config(|c| {
            c.organisations[0].octopus_requests = Some(requests(RequestMode::ServiceRequest));
            crate::unlock::hard_at_the_first_lock(c);
        })
        .spawn()
        .await;
    enrolled_and_locked(&app).await;
    let account_mails = app.smtp.received().len();
    let refused = card_answer(
        &app,
        &card_action(&app.connector.service_url, "unlock", json!({})),
    )
    .await;
    let text = refused.to_string();
    assert!(text.contains(&s("cards.hardLockedTitle")), "{refused:#}");
    assert!(text.contains(&s("cards.deskRequestButton")), "{refused:#}");

    let sent = card_answer(&app, &ask_desk(&app, "hard_lock")).await;
    assert!(sent.to_string().contains(&s("cards.deskRequestSentTitle")));
    let mail = wait_for_desk_mails(&app, 1).await.remove(0);
    let body = mail.text();
    let lines: Vec<&str> = body.trim_end().lines().collect();
    assert_eq!(lines.first(), Some(&"CreateSR"), "{body}");
    assert_eq!(lines.last(), Some(&"CreateSR"), "{body}");
    assert_eq!(&lines[1..3], ["Catégorie: Accès", "Source: Teams"]);
    let colon = s("common.colon");
    for line in [
        format!("{}{colon}trej", s("mail.desk_request.username")),
        format!("{}{colon}Julie Tremblay", s("mail.desk_request.who")),
        format!(
            "{}{colon}{}",
            s("mail.desk_request.what"),
            s("mail.desk_request.what_hard_lock")
        ),
        "unlock_refused".to_string(),
        "signin_locked".to_string(),
    ] {
        assert!(body.contains(&line), "{line:?} not in:\n{body}");
    }
    nothing_secret(&mail);
    assert_eq!(
        app.smtp.received().len(),
        account_mails + 1,
        "only the request"
    );
}

#[tokio::test]
async fn without_a_mailbox_nothing_is_offered_and_a_click_does_nothing() {
    let app = TestApp::spawn().await;
    app.bot(&from_stranger(app.personal("nom d'utilisateur oublié")))
        .await;
    let card = app.connector.wait_for(1).await[0].card().unwrap().clone();
    assert!(!card.to_string().contains(&s("cards.deskRequestButton")));
    let body: Value = app
        .bot(&from_stranger(ask_desk(&app, "unlinked")))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(body["type"], "application/vnd.microsoft.card.adaptive");
    // With a mailbox: a made-up reason, or one the server can see is not so (Julie has an
    // account, and it is not locked), does nothing either.
    let app = TestApp::builder()
        .config(|c| c.organisations[0].octopus_requests = Some(requests(RequestMode::Incident)))
        .spawn()
        .await;
    for reason in ["password_please", "unlinked", "hard_lock"] {
        let body: Value = app.bot(&ask_desk(&app, reason)).await.json().await.unwrap();
        assert_ne!(
            body["type"], "application/vnd.microsoft.card.adaptive",
            "{reason}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.smtp.received().is_empty());
}
