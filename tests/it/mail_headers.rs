//! Mail that an organisation's mail system treats as automatic: every message says so (RFC 3834
//! `Auto-Submitted`, Exchange's `X-Auto-Response-Suppress`), says its language, carries the
//! « n'y répondez pas » footer in both parts, and replies and bounces go where the organisation
//! says.

use octopus_teams::reset::unlock::Unlocks;
use std::time::Duration;

use octopus_teams::reset::{agent::Actor, unlock::Unlock};

use crate::{
    harness::{ReceivedMail, TestApp},
    unlock::enrolled_and_locked,
};

const WAIT: Duration = Duration::from_secs(10);

/// Every kind of mail the service sends, to trej and gagm: enrolment link, reset link, the
/// confirmation of a change, the username reminder, the unlock notice.
async fn every_kind_of_mail(app: &TestApp) -> Vec<ReceivedMail> {
    enrolled_and_locked(app).await; // enrolment link + « mot de passe changé »
    let trej = crate::unlock::account_id(app, "trej").await;
    let agent = Actor::Agent {
        aad_object_id: "33333333-3333-3333-3333-333333333333".into(),
        name: "Agent Soutien".into(),
    };
    let done = Unlocks::of(&app.reset)
        .unlock(&app.org, &trej, &agent, None)
        .await;
    assert_eq!(done.unwrap(), Unlock::Unlocked);
    app.smtp.wait_for(3, WAIT).await;
    app.link_mail("reset", "gagm", 1).await;
    let reminded = crate::username_reminder::remind(app, "marc.gagnon@cegepsi.ca", "fr-CA").await;
    assert_eq!(reminded.status(), 200);
    app.smtp.wait_for(5, WAIT).await
}

#[tokio::test]
async fn every_mail_says_it_is_automatic_in_its_language_with_the_footer_in_both_parts() {
    let app = TestApp::builder()
        .config(|c| {
            c.organisations[0].reply_to = Some("Centre de services <csti@cegepsi.ca>".into());
        })
        .spawn()
        .await;
    let mails = every_kind_of_mail(&app).await;
    assert_eq!(mails.len(), 5);
    for mail in &mails {
        let subject = mail.subject();
        assert_eq!(
            mail.header("Auto-Submitted").as_deref(),
            Some("auto-generated"),
            "{subject}"
        );
        assert_eq!(
            mail.header("X-Auto-Response-Suppress").as_deref(),
            Some("All"),
            "{subject}"
        );
        let language = mail.header("Content-Language").unwrap_or_default();
        assert!(
            ["fr-CA", "en"].contains(&language.as_str()),
            "{subject}: {language}"
        );
        assert!(
            mail.header("Reply-To")
                .unwrap_or_default()
                .contains("csti@cegepsi.ca"),
            "{subject}"
        );
        // Replies reach the service desk (reply_to): the footer says so, not « n'y répondez pas ».
        let footer = if language == "en" {
            "reply to it"
        } else {
            "répondez-y"
        };
        assert!(
            mail.text().contains(footer),
            "{subject}: text part\n{}",
            mail.text()
        );
        assert!(
            mail.html().replace("&#x27;", "'").contains(footer),
            "{subject}: html part"
        );
        assert_eq!(
            mail.from, "<supportTI@cegepsi.ca>",
            "bounces go to the sender by default"
        );
    }
    // The unlock notice goes in the account's language when no page chose one: Content-Language
    // follows what the mail is written in.
    let unlocked = mails.iter().find(|m| m.subject().contains("déverrouillé"));
    assert_eq!(
        unlocked
            .and_then(|m| m.header("Content-Language"))
            .as_deref(),
        Some("fr-CA")
    );
}

#[tokio::test]
async fn the_return_path_is_empty_or_the_bounce_mailbox_when_the_organisation_says_so() {
    for (return_path, expected) in [("", "<>"), ("bounces@cegepsi.ca", "<bounces@cegepsi.ca>")] {
        let app = TestApp::builder()
            .config(move |c| c.organisations[0].return_path = Some(return_path.into()))
            .spawn()
            .await;
        let mail = app.link_mail("reset", "trej", 1).await;
        assert_eq!(mail.from, expected);
        assert!(mail.header("Reply-To").is_none(), "none unless configured");
        assert!(
            mail.text().contains("Veuillez ne pas y répondre"),
            "{}",
            mail.text()
        );
        assert!(
            mail.header("From")
                .unwrap_or_default()
                .contains("supportTI@cegepsi.ca"),
            "the From header stays the sender"
        );
    }
}
