//! The Agents Playground against the real binary with a configuration file, as an organisation
//! that has imported its directory would run it: the demo account `trej` linked to the
//! playground user's Entra object id, that user listed as a service-desk agent, and the credential
//! API on. In French, the username reminder, the enrolment campaign's card, « Déverrouiller mon
//! compte », the helpdesk's « statut trej » with « Renvoyer le lien », and « vérifier trej »
//! (the code card, the code typed on the agent's card, « Identité confirmée »).
//!
//! The playground's built-in user, Alex Wilber, has the object id
//! `00000000-0000-0000-0000-0000000000020` (a last group of 13 digits: not a GUID, so the
//! directory import and `helpdesk.agent_object_ids` rightly refuse it). Real Teams sends GUIDs;
//! the playground's own configuration file (`.m365agentsplayground.yml` in its working folder)
//! gives the user one here. Nothing else of its defaults changes.

use std::path::Path;

use mailparse::MailHeaderMap;
use octopus_teams::i18n::{Locale, Strings};

use crate::playground::{Page, octopus, open_the_playground, the_playground, the_service};

const OBJECT_ID: &str = "3f2b8c1e-7a4d-4e6b-9c21-5d8e0f1a2b3c";
const API_KEY: &str = "cGxheWdyb3VuZC10ZXN0LWtleS1ub3QtYS1zZWNyZXQtMDEyMzQ1Njc4OQ==";

/// The playground's default configuration (its made-up tenant id included: the campaign finds
/// the chats it files under it), the current user with a GUID for object id (the default one,
/// 13 digits in its last group, is no GUID, so no account could be linked to it; the schema
/// wants at least five other users).
fn playground_config() -> String {
    let users: String = [
        ("Megan", "Bowen"),
        ("Adele", "Vance"),
        ("Isaiah", "Langer"),
        ("Patti", "Fernandez"),
        ("Lynne", "Robbins"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (given, surname))| {
        let (n, login) = (i + 1, given.to_lowercase());
        format!(
            "  - id: user-id-{n}\n    name: {given} {surname}\n    \
             userPrincipleName: {login}@example.com\n    \
             aadObjectId: 00000000-0000-4000-8000-00000000002{n}\n    \
             givenName: {given}\n    surname: {surname}\n    email: {login}@example.com\n"
        )
    })
    .collect();
    format!(
        r#"version: "0.1.1"
tenantId: 00000000-0000-0000-0000-0000000000001
bot:
  id: 00000000-0000-0000-0000-00000000000011
  name: Test Bot
currentUser:
  id: user-id-0
  name: Alex Wilber
  userPrincipleName: alexw@example.com
  aadObjectId: {OBJECT_ID}
  givenName: Alex
  surname: Wilber
  email: alexw@example.com
users:
{users}personalChat:
  id: __PERSONAL_CHAT_ID__
groupChat:
  id: __GROUP_CHAT_ID__
  name: Group Chat
team:
  id: team-id
  name: My Team
  aadGroupId: 00000000-0000-0000-0000-000000000031
  channels:
    - id: channel-announcements-id
      name: Announcements
"#
    )
}

/// The embedded demo organisation (a file's `[[organisations]]` replaces it), with an API key
/// and the playground user as agent.
fn service_config() -> String {
    let defaults: toml::Table = octopus_teams::config::DEFAULTS
        .parse()
        .expect("embedded defaults");
    let mut demo = defaults["organisations"].as_array().expect("organisations")[0]
        .as_table()
        .expect("the demo organisation")
        .clone();
    demo.insert("api_key".into(), API_KEY.into());
    let mut helpdesk = toml::Table::new();
    helpdesk.insert(
        "agent_object_ids".into(),
        toml::Value::Array(vec![OBJECT_ID.into()]),
    );
    demo.insert("helpdesk".into(), helpdesk.into());
    let mut file = toml::Table::new();
    file.insert(
        "organisations".into(),
        toml::Value::Array(vec![demo.into()]),
    );
    toml::to_string(&file).expect("configuration file")
}

fn run(dir: &Path, config: &Path, args: &[&str]) -> String {
    let out = octopus(dir, Some(config))
        .args(args)
        .output()
        .expect("run octopus-teams");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "octopus-teams {args:?}:\n{text}");
    text
}

fn subject(mail: &str) -> String {
    mailparse::parse_mail(mail.as_bytes())
        .expect("the mail parses")
        .headers
        .get_first_value("Subject")
        .unwrap_or_default()
}

#[tokio::test]
async fn the_agents_playground_user_linked_to_trej_gets_the_reminder_the_campaign_unlock_and_the_helpdesk()
 {
    if !crate::harness::node_packages("tests/playground") {
        return;
    }
    let dir = tempfile::tempdir().expect("working dir");
    let d = dir.path();
    let config = d.join("octopus-teams.toml");
    std::fs::write(&config, service_config()).expect("write the configuration");
    std::fs::write(d.join(".m365agentsplayground.yml"), playground_config())
        .expect("write the playground's configuration");
    std::fs::write(
        d.join("accounts.csv"),
        format!(
            "username,email,display_name,entra_object_id\n\
             trej,julie.tremblay@example.org,Julie Tremblay,{OBJECT_ID}\n"
        ),
    )
    .expect("write the directory");
    run(d, &config, &["migrate"]);
    let imported = run(
        d,
        &config,
        &["users", "import", "accounts.csv", "--org", "demo"],
    );
    assert!(imported.contains("1 created"), "{imported}");

    let (_service, service_port) = the_service(d, Some(&config)).await;
    let (_playground, port) = the_playground(d, service_port).await;
    let (browser, shots) = open_the_playground(port).await;
    let page = Page {
        browser: &browser,
        shots,
        dir: d,
    };
    let fr = |key: &str| Strings::load().unwrap().get(Locale::FrCa, key);
    let en = |key: &str| Strings::load().unwrap().get(Locale::En, key);
    page.wait_for_text(&en("cards.welcomeTitle"), 1, "welcome")
        .await;

    // 1. The username reminder names the account.
    page.click_xpath("//button[.//*[normalize-space(.)='Personal Chat']]")
        .await;
    page.type_in_composer("nom d'utilisateur oublié\u{E007}")
        .await;
    page.wait_for_text(&fr("cards.usernameMessage"), 1, "username reminder")
        .await;
    page.wait_for_text("trej", 1, "username reminder").await;
    page.shot("linked-1-username-reminder").await;

    // 2. The campaign: trej never set a password; the personal chat is stored.
    let campaign = run(d, &config, &["campaign", "enroll", "--org", "demo"]);
    eprintln!("campaign enroll:\n{campaign}");
    page.wait_for_text(&fr("cards.inviteTitle"), 1, "campaign")
        .await;
    page.shot("linked-2-campaign-invite").await;
    assert!(campaign.contains("reached"), "{campaign}");

    // 3. Locked by wrong passwords through the credential API, unlocked from the chat.
    let client = reqwest::Client::new();
    for _ in 0..6 {
        client
            .post(format!(
                "http://127.0.0.1:{service_port}/api/v1/credentials/verify"
            ))
            .bearer_auth(API_KEY)
            .json(&serde_json::json!({"username": "trej", "password": "faux123"}))
            .send()
            .await
            .expect("credential check");
    }
    let mails_before = page.mails().await;
    page.type_in_composer("déverrouiller mon compte\u{E007}")
        .await;
    page.wait_for_text(&fr("cards.lockedTitle"), 1, "locked")
        .await;
    page.shot("linked-3-locked").await;
    page.click_button(&fr("cards.unlockButton")).await;
    page.wait_for_text(&fr("cards.unlockedTitle"), 1, "unlocked")
        .await;
    page.shot("linked-4-unlocked").await;
    let mail = page.wait_for_mails(mails_before + 1, "unlock mail").await;
    assert_eq!(subject(&mail), fr("mail.unlocked.subject"));

    // 4. The helpdesk card, and « Renvoyer le lien ».
    page.type_in_composer("statut trej\u{E007}").await;
    page.wait_for_text(&fr("cards.helpdeskHeading"), 1, "helpdesk")
        .await;
    page.wait_for_text(&fr("cards.helpdeskEventsTitle"), 1, "helpdesk")
        .await;
    page.shot("linked-5-helpdesk").await;
    page.click_button(&fr("cards.helpdeskResendButton")).await;
    page.wait_for_text("Lien renvoyé à", 1, "resend").await;
    page.shot("linked-6-resent").await;
    page.wait_for_mails(mails_before + 2, "resent link").await;

    // 5. « vérifier trej »: the code card reaches the account owner's chat (here the agent's own,
    // one person plays both), and the code read from it is typed on the agent's card.
    page.type_in_composer("vérifier trej\u{E007}").await;
    page.wait_for_text(&fr("cards.callerCodeHeading"), 1, "verify")
        .await;
    page.wait_for_text(&fr("cards.helpdeskConfirmButton"), 1, "verify")
        .await;
    page.shot("linked-7-caller-code").await;
    let text = page.text().await;
    let intro = fr("helpdesk.code_intro").replace("{agent}", "Alex Wilber");
    let code = text
        .lines()
        .skip_while(|l| !l.contains(intro.trim()))
        .skip(1)
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_else(|| panic!("the code under {intro:?} in:\n{text}"))
        .to_string();
    assert!(
        code.len() == 7 && code.chars().filter(char::is_ascii_digit).count() == 6,
        "{code:?}"
    );
    let input = page
        .browser
        .client
        .find_all(fantoccini::Locator::Css(
            "input[placeholder='123 456'], input[aria-label*='Code']",
        ))
        .await
        .expect("inputs")
        .into_iter()
        .last()
        .expect("the code input of the agent's card");
    input.send_keys(&code).await.expect("type the code");
    page.click_button(&fr("cards.helpdeskConfirmButton")).await;
    let confirmed = fr("helpdesk.identity_confirmed");
    page.wait_for_text(confirmed.split('{').next().unwrap(), 1, "confirmed")
        .await;
    page.shot("linked-8-identity-confirmed").await;

    let playground_log = std::fs::read_to_string(d.join("playground.log")).unwrap();
    assert!(
        !playground_log.contains("octopus-test: blocked"),
        "the playground tried to leave loopback:\n{playground_log}"
    );
    browser.close().await;
}
