//! « Nom d'utilisateur oublié ? » on the web pages: the username goes to the address's mailbox;
//! the answer is the same whether or not the address belongs to an account.

use std::time::Duration;

use crate::harness::{TestApp, without_csrf};

const WAIT: Duration = Duration::from_secs(10);

pub async fn remind(app: &TestApp, email: &str, lang: &str) -> reqwest::Response {
    let page = format!("/forgot-username?org=demo&lang={lang}");
    app.submit(
        &page,
        "/forgot-username",
        &[("org", "demo"), ("email", email)],
    )
    .await
}

/// The mails queued so far (templates), newest first: what the answer did, read without waiting.
async fn queued(app: &TestApp) -> Vec<(String, String)> {
    app.mails_queued()
        .await
        .into_iter()
        .map(|m| (m.template, m.recipient))
        .collect()
}

#[tokio::test]
async fn a_known_email_gets_its_username_by_mail_in_any_case() {
    let app = TestApp::spawn().await;

    let res = remind(&app, "  Julie.TREMBLAY@CegepSI.ca ", "fr-CA").await;

    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"sent\""), "{page}");
    assert!(
        page.contains("votre nom d'utilisateur vient de vous être envoyé par courriel")
            || page.contains("votre nom d&#x27;utilisateur vient de vous être envoyé par courriel"),
        "{page}"
    );
    let mail = app.smtp.wait_for(1, WAIT).await[0].clone();
    assert_eq!(mail.to, vec!["<julie.tremblay@cegepsi.ca>".to_string()]);
    assert_eq!(mail.subject(), "Votre nom d'utilisateur");
    let text = mail.text().replace("\r\n", "\n");
    assert!(text.contains("Bonjour Julie Tremblay,"), "{text}");
    assert!(text.contains("\n    trej\n"), "{text}");
    assert!(!text.contains("gagm"), "{text}");
    assert!(
        text.contains("Votre Centre de services informatiques"),
        "{text}"
    );
    assert!(
        !text.contains("/reset/"),
        "no link that grants anything: {text}"
    );
    let html = mail.html();
    assert!(html.contains(">trej</li>"), "{html}");
    assert!(!html.contains("/reset/"), "{html}");
    assert!(
        app.audit_events()
            .await
            .contains(&"username_reminder_requested".to_string())
    );
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_page_and_no_mail() {
    let app = TestApp::spawn().await;
    let known = remind(&app, "julie.tremblay@cegepsi.ca", "fr-CA").await;
    let (known_status, known_page) = (known.status(), known.text().await.unwrap());

    let unknown = remind(&app, "nobody@cegepsi.ca", "fr-CA").await;
    let (unknown_status, unknown_page) = (unknown.status(), unknown.text().await.unwrap());

    assert_eq!(known_status, unknown_status);
    assert_eq!(without_csrf(&known_page), without_csrf(&unknown_page));
    let mails = queued(&app).await;
    assert_eq!(
        mails,
        vec![(
            "username".to_string(),
            "julie.tremblay@cegepsi.ca".to_string()
        )],
        "one mail, for the known address only"
    );
    app.smtp.wait_for(1, WAIT).await;
    let reminders = app.audited("username_reminder_requested").await;
    assert_eq!(reminders.len(), 2, "both audited");
    for r in &reminders {
        let detail = r.detail.clone().unwrap_or_default();
        assert!(!detail.contains('@'), "no address in the audit: {detail}");
    }
    assert!(
        reminders
            .iter()
            .any(|r| r.account_id.is_none() && r.detail.as_deref() == Some("unknown_address"))
    );
}

#[tokio::test]
async fn an_address_shared_by_two_accounts_gets_both_usernames_in_one_mail() {
    let app = TestApp::spawn().await;
    app.import("username,email,display_name\ntrej-adm,Julie.Tremblay@cegepsi.ca,Julie Tremblay\n")
        .await;

    assert_eq!(
        remind(&app, "julie.tremblay@cegepsi.ca", "en")
            .await
            .status(),
        200
    );

    let mail = app.smtp.wait_for(1, WAIT).await[0].clone();
    let text = mail.text().replace("\r\n", "\n");
    assert!(text.contains("Here are the usernames"), "{text}");
    assert!(
        text.contains("\n    trej\n") && text.contains("\n    trej-adm\n"),
        "{text}"
    );
    assert!(text.contains("Hello Julie Tremblay,"), "{text}");
    assert_eq!(queued(&app).await.len(), 1, "one mail for both accounts");
}

#[tokio::test]
async fn reminders_are_rate_limited_per_address_silently_and_per_client_visibly() {
    let app = TestApp::builder()
        .config(|c| {
            c.limits.requests_per_account = 2;
            c.limits.requests_per_ip = 4;
        })
        .spawn()
        .await;
    let first = remind(&app, "marc.gagnon@cegepsi.ca", "fr-CA")
        .await
        .text()
        .await
        .unwrap();
    remind(&app, "marc.gagnon@cegepsi.ca", "fr-CA").await;
    let third = remind(&app, "MARC.gagnon@cegepsi.ca", "fr-CA").await;
    assert_eq!(third.status(), 200, "the per-address limit is silent");
    assert_eq!(
        without_csrf(&third.text().await.unwrap()),
        without_csrf(&first)
    );
    assert_eq!(queued(&app).await.len(), 2, "no third mail");

    assert_eq!(
        remind(&app, "someone@cegepsi.ca", "fr-CA").await.status(),
        200
    );
    let res = remind(&app, "other@cegepsi.ca", "fr-CA").await;
    assert_eq!(res.status(), 429, "the fifth from this client");
    assert!(res.headers().contains_key("retry-after"));
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("data-error=\"rate_limited\"")
    );
    assert_eq!(queued(&app).await.len(), 2);

    app.advance(Duration::from_secs(901));
    assert_eq!(
        remind(&app, "marc.gagnon@cegepsi.ca", "fr-CA")
            .await
            .status(),
        200
    );
    assert_eq!(queued(&app).await.len(), 3, "the window passes");
}

#[tokio::test]
async fn the_login_and_request_pages_link_to_the_reminder() {
    let app = TestApp::spawn().await;
    for page in ["/login?org=demo", "/forgot?org=demo", "/enroll?org=demo"] {
        let (_, html) = app.get(page).await;
        assert!(
            html.contains("href=\"/forgot-username?org=demo\" id=\"forgot-username\""),
            "{page}: {html}"
        );
    }
    let (_, login) = app.get("/login?org=demo").await;
    assert!(
        login.contains("Nom d&#x27;utilisateur oublié\u{202f}?")
            || login.contains("Nom d'utilisateur oublié\u{202f}?")
    );
    let (status, html) = app.get("/forgot-username?org=demo").await;
    assert_eq!(status, 200);
    assert!(html.contains("name=\"email\""), "{html}");
}

#[tokio::test]
async fn the_reminder_speaks_french_english_and_portuguese() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "fr-CA",
            "Nom d",
            "Adresse courriel",
            "Votre nom d'utilisateur",
            "Votre Centre de services informatiques",
        ),
        (
            "en",
            "Forgot your username?",
            "Email address",
            "Your username",
            "Your IT Service Desk",
        ),
        (
            "pt",
            "Esqueceu o nome de usuário?",
            "Endereço de e-mail",
            "Seu nome de usuário",
            "Sua Central de Serviços de TI",
        ),
    ];
    for (n, (lang, title, label, subject, signature)) in cases.iter().enumerate() {
        let (_, html) = app
            .get(&format!("/forgot-username?org=demo&lang={lang}"))
            .await;
        assert!(
            html.contains(title) && html.contains(label),
            "{lang}: {html}"
        );
        remind(&app, "julie.tremblay@cegepsi.ca", lang).await;
        let mail = app.smtp.wait_for(n + 1, WAIT).await[n].clone();
        assert_eq!(&mail.subject(), subject, "{lang}");
        let text = mail.text().replace("\r\n", "\n");
        assert!(text.contains("\n    trej\n"), "{lang}: {text}");
        assert!(text.contains(signature), "{lang}: {text}");
    }
}
