//! Each organisation's own words on every surface: its username rule, its term for the account,
//! its name with its article, its service desk; and none of another organisation's words where
//! it wrote none.

use serde_json::json;

use crate::harness::TestApp;

/// The Cégep's rule (the harness's organisation) and the CISSS's term.
const CEGEP_RULE: &str = "3 premières lettres du nom";
const SEED_WORDS: [&str; 3] = ["3 premières lettres", "compte unifié", "first 3 letters"];

/// An organisation that wrote none of its own words.
async fn neutral() -> TestApp {
    TestApp::builder()
        .config(|c| c.organisations[0].words = Default::default())
        .spawn()
        .await
}

/// A CISSS with its own words and service desk.
async fn cisss() -> TestApp {
    TestApp::builder()
        .config(|c| {
            let org = &mut c.organisations[0];
            org.name = "CISSS de Lanaudière".into();
            org.words = toml::from_str(
                r#"
username_hint = { fr-CA = "Votre compte unifié est votre matricule suivi de vos initiales." }
account_term = { fr-CA = "compte unifié", en = "unified account" }
name_in_sentence = { fr-CA = "du CISSS de Lanaudière", en = "the CISSS de Lanaudière" }
"#,
            )
            .unwrap();
            org.service_desk = toml::from_str(
                r#"
phone = "450 759-1157"
extension = "4357"
hours = { fr-CA = "du lundi au vendredi, de 8 h à 17 h" }
url = "https://cisss-lanaudiere.example/soutien"
"#,
            )
            .unwrap();
            org.privacy = toml::from_str(
                r#"
officer = "Me Julie Lacasse, responsable de la protection des renseignements personnels"
contact = "prp@cisss-lanaudiere.example"
"#,
            )
            .unwrap();
        })
        .spawn()
        .await
}

/// The bot's « mot de passe oublié » form card, as posted.
async fn form_card(app: &TestApp) -> String {
    let before = app.connector.posted().len();
    assert_eq!(
        app.bot(&app.personal("mot de passe oublié")).await.status(),
        200
    );
    app.connector.wait_for(before + 1).await[before].text()
}

#[tokio::test]
async fn an_organisation_without_its_own_rule_shows_none_of_another_s_words() {
    let app = neutral().await;
    let (_, forgot) = app.get("/forgot?org=demo").await;
    let (_, enroll) = app.get("/enroll?org=demo").await;
    let (_, tab) = app.get("/tab?org=demo").await;
    let card = form_card(&app).await;
    for (surface, text) in [
        ("forgot", &forgot),
        ("enroll", &enroll),
        ("tab", &tab),
        ("card", &card),
    ] {
        for seed in SEED_WORDS {
            assert!(!text.contains(seed), "{surface} says {seed:?}");
        }
    }
    assert!(
        enroll.contains("Entrez votre nom d&#x27;utilisateur"),
        "the neutral term"
    );
    assert!(
        !forgot.contains("id=\"contact\""),
        "no service desk given, none shown"
    );
}

#[tokio::test]
async fn an_organisation_s_own_words_are_on_forgot_enrol_the_card_and_the_tab() {
    let app = TestApp::spawn().await; // the Cégep, with its rule
    let (_, forgot) = app.get("/forgot?org=demo").await;
    let (_, enroll) = app.get("/enroll?org=demo").await;
    let (_, tab) = app.get("/tab?org=demo").await;
    let card = form_card(&app).await;
    for (surface, text) in [
        ("forgot", &forgot),
        ("enroll", &enroll),
        ("tab", &tab),
        ("card", &card),
    ] {
        assert!(
            text.contains(CEGEP_RULE),
            "{surface} lacks the Cégep's rule"
        );
    }
    let (_, english) = app.get("/forgot?org=demo&lang=en").await;
    assert!(english.contains("first 3 letters of your last name"));

    let app = cisss().await;
    let (_, enroll) = app.get("/enroll?org=demo").await;
    assert!(enroll.contains("Entrez votre compte unifié"), "its term");
    assert!(
        enroll.contains("matricule suivi de vos initiales"),
        "its rule"
    );
    assert!(
        enroll.contains("450 759-1157, poste 4357 (du lundi au vendredi, de 8 h à 17 h)"),
        "its service desk"
    );
    let (_, english) = app.get("/enroll?org=demo&lang=en").await;
    assert!(english.contains("Enter your unified account"));
    assert!(
        !english.contains("matricule"),
        "no rule written in English: none shown"
    );
}

#[tokio::test]
async fn where_self_service_ends_the_card_and_the_mail_name_the_service_desk() {
    let app = cisss().await;
    // Someone whose Teams identity reaches no account.
    let mut a = app.personal("nom d'utilisateur oublié");
    a["from"] = json!({"id": "29:x", "name": "Inconnu", "aadObjectId": "99999999-0000-0000-0000-000000000000"});
    app.bot(&a).await;
    let card = app.connector.wait_for(1).await[0].text();
    assert!(card.contains("Compte non trouvé"), "{card}");
    assert!(card.contains("450 759-1157, poste 4357"), "{card}");

    // The mail after a change: « if it wasn't you », and whom to call.
    let link = app.reset_link(&app.link_mail("enroll", "trej", 1).await);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
    let changed = app
        .smtp
        .wait_for(2, std::time::Duration::from_secs(10))
        .await[1]
        .clone();
    assert!(
        changed.text().contains("450 759-1157, poste 4357"),
        "{}",
        changed.text()
    );
}

#[tokio::test]
async fn the_privacy_page_names_its_officer_and_the_retention_the_configuration_implies() {
    let app = TestApp::builder()
        .config(|c| {
            c.organisations[0].token_lifetime_minutes = 20;
            c.organisations[0].audit_retention_days = 180;
        })
        .spawn()
        .await;
    let (_, page) = app.get("/privacy?org=demo").await;
    let page = page.replace("&#x27;", "'").replace('\u{a0}', " ");
    assert!(
        page.contains("au personnel du Cégep de Sept-Îles"),
        "its article"
    );
    for line in [
        "valides pendant 20 minutes",
        "supprimée 7 jours après leur utilisation ou leur expiration",
        "au plus 30 jours",
        "30 jours; courriels non remis : 90 jours",
        "Journal d'audit : 180 jours",
        "30 jours après la dernière tentative",
    ] {
        assert!(page.contains(line), "{line:?} missing:\n{page}");
    }
    assert!(page.contains("communiquez avec votre Centre de services informatiques"));

    let app = cisss().await;
    let (_, page) = app.get("/privacy?org=demo&lang=en").await;
    assert!(page.contains("staff of the CISSS de Lanaudière"), "{page}");
    assert!(page.contains("Me Julie Lacasse"));
    assert!(page.contains("prp@cisss-lanaudiere.example"));
    assert!(page.contains("Audit log: 365 days."));
}

#[test]
fn words_in_a_language_the_service_does_not_speak_are_refused() {
    let words: octopus_teams::org::Words =
        toml::from_str(r#"username_hint = { fr-CA = "x", de = "y" }"#).unwrap();
    assert_eq!(words.username_hint.unknown_languages(), vec!["de"]);
}
