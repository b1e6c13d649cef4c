//! The seed procedures, followed in headless Chromium: forgot → mail → link → new password →
//! redirect to the login page → sign in; and the same for enrolment.

use std::time::Duration;

use crate::harness::{TestApp, browser::Browser};

async fn journey(purpose: &str, username: &str, password: &str) {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser;

    b.client.goto(&app.url("/login")).await.unwrap();
    b.wait_for("#username").await;
    b.screenshot(&format!("{purpose}-1-login")).await;
    let link_id = if purpose == "enroll" {
        "#enroll"
    } else {
        "#forgot"
    };
    b.click(link_id).await;
    b.wait_for("#username[placeholder]").await;
    let heading = b.text("h1").await;
    let expected = if purpose == "enroll" {
        "M'inscrire au service"
    } else {
        "Réinitialiser votre mot de passe"
    };
    assert_eq!(heading, expected);
    assert!(
        b.text("#username-hint")
            .await
            .contains("3 premières lettres du nom")
    );
    b.fill("#username", username).await;
    b.screenshot(&format!("{purpose}-2-request")).await;
    b.click("#submit").await;
    b.wait_for("#sent").await;
    b.screenshot(&format!("{purpose}-3-sent")).await;

    let mail = app
        .smtp
        .wait_for(1, Duration::from_secs(10))
        .await
        .remove(0);
    let link = app.reset_link(&mail);
    b.client.goto(&link).await.unwrap();
    b.wait_for("#confirmation").await;
    let title = if purpose == "enroll" {
        "Choisir mon mot de passe"
    } else {
        "Changer mon mot de passe"
    };
    assert_eq!(b.text("h1").await, title);

    // A mismatch first: the error shows inline, in French, and the link still works.
    b.fill("#password", password).await;
    b.fill("#confirmation", "autre999").await;
    b.click("#submit").await;
    b.wait_for("#errors").await;
    assert!(
        b.text("#errors")
            .await
            .contains("La confirmation ne correspond pas")
    );
    b.screenshot(&format!("{purpose}-4-mismatch")).await;

    b.fill("#password", password).await;
    b.fill("#confirmation", password).await;
    b.click("#submit").await;
    b.wait_for("#notice").await;
    assert!(
        b.path().await.starts_with("/login"),
        "redirected to the login page"
    );
    b.screenshot(&format!("{purpose}-5-back-to-login")).await;

    b.fill("#username", username).await;
    b.fill("#password", password).await;
    b.click("#submit").await;
    b.wait_for("#portal").await;
    assert!(b.text("#signed-in").await.contains(username));
    b.screenshot(&format!("{purpose}-6-signed-in")).await;
    browser.close().await;
}

#[tokio::test]
async fn the_forgotten_password_journey_in_a_browser() {
    journey("reset", "trej", "ete2026").await;
}

#[tokio::test]
async fn the_enrolment_journey_in_a_browser() {
    journey("enroll", "gagm", "bonjour1").await;
}

#[tokio::test]
async fn the_language_switch_shows_english_and_portuguese() {
    let app = TestApp::spawn().await;
    let browser = Browser::start().await;
    let b = &browser;
    b.client.goto(&app.url("/forgot")).await.unwrap();
    b.wait_for("nav.langs a").await;
    b.click("nav.langs a[hreflang=en]").await;
    b.wait_for("html[lang=en]").await;
    assert_eq!(b.text("h1").await, "Reset your password");
    assert!(
        b.text("#username-hint")
            .await
            .contains("first 3 letters of your last name")
    );
    b.screenshot("forgot-en").await;
    b.click("nav.langs a[hreflang=pt]").await;
    b.wait_for("html[lang=pt]").await;
    assert_eq!(b.text("h1").await, "Redefinir sua senha");
    assert!(
        b.text("#username-hint")
            .await
            .contains("3 primeiras letras do sobrenome")
    );
    b.screenshot("forgot-pt").await;
    browser.close().await;
}
