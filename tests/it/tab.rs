//! The Octopus tab: in headless Chromium inside a local stand-in for Teams on another site, over
//! https (harness/teams_host.rs: the Teams web client at https://teams.cloud.microsoft and
//! Microsoft's CDN serving the npm teams-js at its production URL), with the production
//! configuration of the tab (CSP, TeamsJS URL and integrity, `app.initialize()` without extra
//! origins) and third-party cookies blocked; outside Teams; and its token rules.

use std::time::Duration;

use base64::Engine;
use fantoccini::Locator;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use sha2::Digest;

use crate::harness::{
    TENANT, TestApp,
    browser::{Browser, Options},
    entra::{ENTRA_KEYS, SsoToken},
    idp::KEYS,
    teams_host::{
        NEW_HOST, SDK_FILE, TEAMS_WEB, TeamsHost, UNTRUSTED_HOST, VALID_DOMAINS_URL, read,
    },
};

pub const SSO_APP: &str = "8d7f3c2a-1b4e-4c5d-9e6f-0a1b2c3d4e5f";
const WAIT: Duration = Duration::from_secs(10);

/// The production TeamsJS URL and integrity: config/defaults.toml, read as the file says.
fn production_tab() -> (String, String) {
    let defaults: toml::Table = toml::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/defaults.toml"),
        )
        .unwrap(),
    )
    .unwrap();
    let tab = &defaults["tab"];
    (
        tab["teams_js_url"].as_str().unwrap().to_string(),
        tab["teams_js_integrity"].as_str().unwrap().to_string(),
    )
}

/// `sha384-<base64>` of the TeamsJS file the stand-in CDN serves.
fn sdk_integrity() -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(read(SDK_FILE)))
    )
}

/// The service with the production tab settings (only the SSO app id is set, as an admin does),
/// the stand-in Teams and CDN, and a browser that reaches them.
async fn spawn_in_teams() -> Option<(TestApp, TeamsHost, Browser)> {
    spawn_in_teams_with(|_| {}, Options::default()).await
}

async fn spawn_in_teams_with(
    edit: impl FnOnce(&mut octopus_teams::config::RawConfig) + Send + 'static,
    options: Options,
) -> Option<(TestApp, TeamsHost, Browser)> {
    if !crate::harness::node_packages("tests/tab-host") {
        return None;
    }
    let host = TeamsHost::start(&production_tab().0).await;
    let app = TestApp::builder()
        .config(move |c| {
            c.teams_app.sso_app_id = Some(SSO_APP.into());
            edit(c);
        })
        .spawn()
        .await;
    let b = Browser::start_with(Options {
        host_resolver_rules: Some(host.resolver_rules()),
        ..options
    })
    .await;
    Some((app, host, b))
}

/// Signed by Entra's published key, as Teams' getAuthToken tokens are.
fn sso_token(app: &TestApp, claims: &Value) -> String {
    app.entra.sign(&ENTRA_KEYS[0], claims)
}

fn julie(app: &TestApp) -> Value {
    SsoToken::julie().for_app(SSO_APP).claims(&app.entra)
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Opens the tab inside the stand-in Teams client and enters its frame.
async fn open_in_teams(b: &Browser, app: &TestApp, token: &str, locale: &str, theme: &str) {
    open_at(b, TEAMS_WEB, app, token, locale, theme).await;
}

async fn open_at(b: &Browser, host: &str, app: &TestApp, token: &str, locale: &str, theme: &str) {
    let tab = app.url(&format!(
        "/tab?context=personal&locale={locale}&theme={theme}"
    ));
    let url = format!(
        "{host}/host.html?tab={}&token={}&locale={locale}&theme={theme}&tenant={TENANT}&upn=julie.tremblay%40cegepsi.ca",
        enc(&tab),
        enc(token)
    );
    b.client.goto(&url).await.unwrap();
    b.wait_for("iframe").await;
    b.client.enter_frame(0).await.unwrap();
}

/// What the stand-in host received from the tab (`window.hostLog`), by function name.
async fn host_calls(b: &Browser) -> Vec<String> {
    b.client.enter_parent_frame().await.unwrap();
    let log = b
        .client
        .execute("return window.hostLog", vec![])
        .await
        .unwrap();
    b.client.enter_frame(0).await.unwrap();
    log.as_array()
        .unwrap()
        .iter()
        .map(|m| m["func"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn body_class(b: &Browser) -> String {
    b.client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn visible(b: &Browser, css: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(el) = b.client.find(Locator::Css(css)).await
            && el.is_displayed().await.unwrap_or(false)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} never became visible"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// axe-core in the tab frame: no serious or critical violation. The tab's CSP rightly refuses
/// a script from elsewhere, so axe is passed through WebDriver (which CSP does not govern).
async fn accessible(b: &Browser) {
    let axe = String::from_utf8(read("node_modules/axe-core/axe.min.js")).unwrap();
    let script = format!(
        "{axe}
        ;return axe.run(document, {{ resultTypes: ['violations'] }})
            .then(r => r.violations.map(v => ({{id: v.id, impact: v.impact, nodes: v.nodes.length}})));"
    );
    let violations = b.client.execute(&script, vec![]).await.expect("axe runs");
    let serious: Vec<&Value> = violations
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(serious.is_empty(), "accessibility: {violations}");
}

#[tokio::test]
async fn single_sign_on_sends_the_link_with_one_button() {
    let Some((app, _host, b)) = spawn_in_teams().await else {
        return;
    };
    open_in_teams(&b, &app, &sso_token(&app, &julie(&app)), "fr-CA", "default").await;
    visible(&b, "#sso").await;
    assert_eq!(b.text("#username").await, "trej");
    assert!(
        b.text("#portal")
            .await
            .contains("Accéder au portail Web Octopus")
    );
    accessible(&b).await;
    b.screenshot("tab-sso-fr").await;
    b.click("#send-reset").await;
    visible(&b, "#status").await;
    let said = b.text("#status").await;
    assert!(
        said.contains("j***@c***.ca") && said.contains("valide jusqu'à"),
        "{said}"
    );
    b.screenshot("tab-sso-sent-fr").await;
    let mail = app.smtp.wait_for(1, WAIT).await.remove(0);
    let link = app.reset_link(&mail);
    assert_eq!(
        app.set_password(&link, "onglet1", "onglet1").await.status(),
        303
    );
    assert_eq!(
        app.sign_in("trej", "onglet1", "nothing").await.status(),
        303
    );
    b.close().await;
}

#[tokio::test]
async fn a_locked_account_gets_the_unlock_button_in_the_tab() {
    let Some((app, _host, b)) = spawn_in_teams().await else {
        return;
    };
    crate::unlock::enrolled_and_locked(&app).await;
    open_in_teams(&b, &app, &sso_token(&app, &julie(&app)), "fr-CA", "default").await;
    visible(&b, "#locked").await;
    assert_eq!(b.text("#unlock").await, "Déverrouiller mon compte");
    accessible(&b).await;
    b.screenshot("tab-locked-fr").await;

    b.click("#unlock").await;

    visible(&b, "#status").await;
    let said = b.text("#status").await;
    assert!(said.contains("Votre compte a été déverrouillé"), "{said}");
    assert_eq!(
        crate::unlock::verify(&app, "trej", crate::unlock::PASSWORD).await,
        json!({"result": "valid"})
    );
    b.close().await;
}

#[tokio::test]
async fn without_single_sign_on_the_tab_falls_back_to_the_username_form() {
    let Some((app, _host, b)) = spawn_in_teams().await else {
        return;
    };
    open_in_teams(&b, &app, "", "fr-CA", "default").await; // getAuthToken fails (consent)
    visible(&b, "#fallback").await;
    assert!(
        b.text("#fallback-reason")
            .await
            .contains("connexion automatique")
    );
    b.fill("#tab-username", "trej").await;
    b.click("#fallback-enroll").await;
    visible(&b, "#status").await;
    assert!(
        b.text("#status")
            .await
            .contains("Si ce nom d'utilisateur correspond à un compte"),
        "the uniform answer"
    );
    b.screenshot("tab-fallback-fr").await;
    assert_eq!(
        app.smtp.wait_for(1, WAIT).await[0].subject(),
        "Inscription au portail Web du Centre de services"
    );
    b.close().await;
}

#[tokio::test]
async fn an_unknown_teams_account_gets_the_form_too() {
    let Some((app, _host, b)) = spawn_in_teams().await else {
        return;
    };
    let stranger = SsoToken::of("99999999-0000-0000-0000-000000000000", "someone@cegepsi.ca")
        .for_app(SSO_APP)
        .claims(&app.entra);
    open_in_teams(&b, &app, &sso_token(&app, &stranger), "fr-CA", "default").await;
    visible(&b, "#fallback").await;
    assert!(
        b.text("#fallback-reason")
            .await
            .contains("aucun compte Octopus")
    );
    b.close().await;
}

#[tokio::test]
async fn an_unknown_teams_account_may_open_a_request_at_the_service_desk_from_the_tab() {
    let Some((app, _host, b)) = spawn_in_teams_with(
        |c| {
            c.organisations[0].octopus_requests = Some(octopus_teams::org::OctopusRequests {
                mailbox: "octopus-demandes@cegepsi.ca".into(),
                mode: octopus_teams::org::RequestMode::Incident,
                enclosing_token: None,
                field_lines: Vec::new(),
                window_hours: 24,
            });
        },
        Options::default(),
    )
    .await
    else {
        return;
    };
    let stranger = SsoToken::of("99999999-0000-4000-8000-000000000000", "someone@cegepsi.ca")
        .for_app(SSO_APP)
        .with("upn", json!("someone@cegepsi.ca"))
        .with("name", json!("Sophie Nouvelle"))
        .claims(&app.entra);
    open_in_teams(&b, &app, &sso_token(&app, &stranger), "fr-CA", "default").await;
    visible(&b, "#desk").await;
    assert_eq!(b.text("#desk-request").await, "Ouvrir une demande");
    accessible(&b).await;
    b.click("#desk-request").await;
    visible(&b, "#status").await;
    assert!(
        b.text("#status")
            .await
            .contains("transmise au Centre de services"),
        "{}",
        b.text("#status").await
    );
    b.screenshot("tab-desk-request-fr").await;
    let mail = app.smtp.wait_for(1, WAIT).await[0].clone();
    assert_eq!(mail.to, ["<octopus-demandes@cegepsi.ca>"]);
    let body = mail.text();
    assert!(body.contains("someone@cegepsi.ca"), "{body}");
    assert!(body.contains("Sophie Nouvelle"), "{body}");
    assert!(body.contains("aucun compte lié"), "{body}");
    assert!(!body.contains("http"), "{body}");

    // The API takes no other reason than where the tab's self-service ends, and no second one.
    let token = sso_token(&app, &stranger);
    let post = |reason: &'static str| {
        app.client
            .post(app.url("/api/tab/desk-request"))
            .header("x-octopus-tab", "1")
            .bearer_auth(&token)
            .json(&json!({"reason": reason}))
            .send()
    };
    assert_eq!(post("did_not_call").await.unwrap().status(), 400);
    let again: Value = post("unlinked").await.unwrap().json().await.unwrap();
    assert_eq!(again["code"], "desk_request_already");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.smtp.received().len(), 1);
    b.close().await;
}

#[tokio::test]
async fn dark_theme_and_the_three_languages() {
    let Some((app, _host, b)) = spawn_in_teams().await else {
        return;
    };
    for (locale, theme, expected) in [
        (
            "fr-CA",
            "dark",
            "Envoyer le lien de changement de mot de passe",
        ),
        ("en-US", "default", "Send the password change link"),
        ("pt-BR", "contrast", "Enviar o link de alteração de senha"),
    ] {
        b.client.enter_parent_frame().await.ok();
        open_in_teams(&b, &app, &sso_token(&app, &julie(&app)), locale, theme).await;
        visible(&b, "#sso").await;
        assert_eq!(b.text("#send-reset").await, expected);
        let class = body_class(&b).await;
        assert!(class.contains(&format!("theme-{theme}")), "{class}");
        accessible(&b).await;
        b.screenshot(&format!("tab-{locale}-{theme}")).await;
    }
    // Teams switches theme while the tab is open.
    b.client.enter_parent_frame().await.unwrap();
    b.client
        .execute("return window.setTheme('dark')", vec![])
        .await
        .unwrap();
    b.client.enter_frame(0).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !body_class(&b).await.contains("theme-dark") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the theme change never reached the tab: {}",
            body_class(&b).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.close().await;
}

#[tokio::test]
async fn the_channel_tab_configuration_page_saves_a_channel_content_url() {
    let Some((app, _host, b)) = spawn_in_teams().await else {
        return;
    };
    let url = format!(
        "{TEAMS_WEB}/host.html?tab={}&frameContext=settings&locale=fr-CA&tenant={TENANT}",
        enc(&app.url("/tab/config?locale=fr-CA"))
    );
    b.client.goto(&url).await.unwrap();
    b.wait_for("iframe").await;
    b.client
        .execute(
            "return window.waitForHostMessage('settings.setValidityState')",
            vec![],
        )
        .await
        .unwrap();
    let saved = b
        .client
        .execute("return window.triggerSave()", vec![])
        .await
        .unwrap();
    let content = saved["contentUrl"].as_str().unwrap_or_default().to_string();
    assert!(
        content.starts_with(&app.url("/tab?context=channel")),
        "{saved}"
    );
    assert_eq!(saved["entityId"], "octopus");
    b.close().await;
}

#[tokio::test]
async fn the_channel_tab_configuration_page_can_save_the_organisations_octopus_portal() {
    let Some((app, _host, b)) = spawn_in_teams_with(
        |c| {
            c.organisations[0].portal_url = "https://cegepsi.octopus-itsm.com/Web/Login.aspx".into()
        },
        Options::default(),
    )
    .await
    else {
        return;
    };
    let url = format!(
        "{TEAMS_WEB}/host.html?tab={}&frameContext=settings&locale=fr-CA&tenant={TENANT}",
        enc(&app.url("/tab/config?locale=fr-CA"))
    );
    b.client.goto(&url).await.unwrap();
    b.wait_for("iframe").await;
    b.client
        .execute(
            "return window.waitForHostMessage('settings.setValidityState')",
            vec![],
        )
        .await
        .unwrap();
    b.client.enter_frame(0).await.unwrap();
    let choices = b.text("fieldset.choices").await;
    assert!(
        choices.contains("Mot de passe en libre-service")
            && choices.contains("Portail Web Octopus")
            && choices.contains("cegepsi.octopus-itsm.com"),
        "{choices}"
    );
    b.click("#kind-portal").await;
    b.client.enter_parent_frame().await.unwrap();
    let saved = b
        .client
        .execute("return window.triggerSave()", vec![])
        .await
        .unwrap();
    assert_eq!(
        saved["contentUrl"], "https://cegepsi.octopus-itsm.com/Web/Login.aspx",
        "{saved}"
    );
    assert_eq!(
        saved["websiteUrl"],
        "https://cegepsi.octopus-itsm.com/Web/Login.aspx"
    );
    assert_eq!(saved["entityId"], "octopus-portal");
    assert_eq!(saved["suggestedDisplayName"], "Portail Octopus");
    b.close().await;
}

#[tokio::test]
async fn outside_teams_the_same_page_is_the_username_form() {
    let app = TestApp::spawn().await;
    let b = Browser::start().await;
    b.client.goto(&app.url("/tab")).await.unwrap();
    visible(&b, "#fallback").await;
    b.fill("#tab-username", "nobody").await;
    b.click("#fallback-reset").await;
    visible(&b, "#status").await;
    assert!(
        b.text("#status")
            .await
            .contains("Si ce nom d'utilisateur correspond à un compte")
    );
    b.close().await;
}

pub async fn me(app: &TestApp, token: &str) -> (u16, Value) {
    let res = app
        .client
        .get(app.url("/api/tab/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_tab_s_token_rules() {
    let app = TestApp::builder()
        .config(|c| c.teams_app.sso_app_id = Some(SSO_APP.into()))
        .spawn()
        .await;
    let ok = julie(&app);
    assert_eq!(
        me(&app, &sso_token(&app, &ok)).await,
        (
            200,
            json!({"username": "trej", "orgName": "Cégep de Sept-Îles", "portalUrl": "https://demo.octopus-itsm.com/Web/Login.aspx", "locked": false})
        )
    );

    let mut v1 = ok.clone();
    v1["iss"] = json!(format!("https://sts.windows.net/{TENANT}/"));
    v1["aud"] = json!(format!("api://127.0.0.1/{SSO_APP}"));
    v1["ver"] = json!("1.0");
    assert_eq!(
        me(&app, &sso_token(&app, &v1)).await.0,
        200,
        "v1 issuer and api:// audience"
    );

    let cases = [
        (
            "tid",
            json!("99999999-9999-9999-9999-999999999999"),
            "wrong tenant",
        ),
        (
            "aud",
            json!("00000000-1111-2222-3333-444444444444"),
            "wrong audience",
        ),
        (
            "exp",
            json!(chrono::Utc::now().timestamp() - 600),
            "expired",
        ),
        ("scp", json!("User.Read"), "missing scope"),
        (
            "iss",
            json!("https://login.microsoftonline.com/another/v2.0"),
            "wrong issuer",
        ),
    ];
    for (claim, value, why) in cases {
        let mut c = ok.clone();
        c[claim] = value;
        let (status, body) = me(&app, &sso_token(&app, &c)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("sso_invalid")),
            "{why}"
        );
    }
    let forged = app.idp.sign(&KEYS[3], Algorithm::RS256, &ok);
    assert_eq!(me(&app, &forged).await.0, 401, "unpublished key");

    let stranger = SsoToken::of("99999999-0000-0000-0000-000000000000", "someone@cegepsi.ca")
        .for_app(SSO_APP)
        .claims(&app.entra);
    let (status, body) = me(&app, &sso_token(&app, &stranger)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("no_account")),
        "unknown account"
    );

    // Never by a sign-in name unless the organisation turned the name fallback on (Marc's
    // account has no object id bound; teams_identity.rs has the fallback on)…
    let by_upn = SsoToken::of(
        "99999999-0000-0000-0000-000000000000",
        "Marc.Gagnon@cegepsi.ca",
    )
    .for_app(SSO_APP)
    .with("upn", json!("Marc.Gagnon@cegepsi.ca"))
    .claims(&app.entra);
    let (status, body) = me(&app, &sso_token(&app, &by_upn)).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("no_account")));
    // …and never for an account bound to another object id (Julie's), whatever the name says.
    let other_oid = SsoToken::of(
        "99999999-0000-0000-0000-000000000000",
        "Julie.Tremblay@cegepsi.ca",
    )
    .for_app(SSO_APP)
    .claims(&app.entra);
    assert_eq!(me(&app, &sso_token(&app, &other_oid)).await.0, 404);
    // The unverified `email` claim names nobody.
    let by_email = SsoToken::of("99999999-0000-0000-0000-000000000000", "x")
        .for_app(SSO_APP)
        .without("preferred_username")
        .with("email", json!("marc.gagnon@cegepsi.ca"))
        .claims(&app.entra);
    assert_eq!(me(&app, &sso_token(&app, &by_email)).await.0, 404);
}

#[tokio::test]
async fn the_tab_api_is_csrf_safe_and_rate_limited() {
    let app = TestApp::builder()
        .config(|c| c.limits.requests_per_ip = 2)
        .spawn()
        .await;
    let post = |with_header: bool| {
        let mut r = app
            .client
            .post(app.url("/api/tab/request"))
            .json(&json!({"purpose": "reset", "username": "trej"}));
        if with_header {
            r = r.header("x-octopus-tab", "1");
        }
        r.send()
    };
    assert_eq!(
        post(false).await.unwrap().status(),
        403,
        "no header: a cross-site form"
    );
    let form = app
        .client
        .post(app.url("/api/tab/request"))
        .header("x-octopus-tab", "1")
        .form(&[("purpose", "reset")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 400, "not JSON");
    assert_eq!(post(true).await.unwrap().status(), 200);
    assert_eq!(post(true).await.unwrap().status(), 200);
    let limited = post(true).await.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn only_teams_and_microsoft_365_may_frame_the_tab() {
    let app = TestApp::spawn().await;
    let tab = app.client.get(app.url("/tab")).send().await.unwrap();
    let csp = tab.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors https://teams.microsoft.com https://*.teams.microsoft.com https://*.cloud.microsoft"), "{csp}");
    let (teams_js, _) = production_tab();
    assert!(
        csp.contains(&format!("script-src 'self' {teams_js};")),
        "only the one TeamsJS file, not its whole CDN: {csp}"
    );
    assert!(!tab.headers().contains_key("x-frame-options"));

    let login = app.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.headers()["x-frame-options"], "DENY");
    assert!(
        login.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}

#[tokio::test]
async fn the_tab_may_fetch_teams_js_s_list_of_trusted_hosts_and_nothing_else() {
    let app = TestApp::spawn().await;
    for page in ["/tab", "/tab/config"] {
        let res = app.client.get(app.url(page)).send().await.unwrap();
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        let connect: Vec<&str> = csp
            .split(';')
            .map(str::trim)
            .find_map(|d| d.strip_prefix("connect-src "))
            .unwrap_or_else(|| panic!("{page}: no connect-src in {csp}"))
            .split(' ')
            .collect();
        assert_eq!(
            connect,
            ["'self'", "https://res.cdn.office.net"],
            "{page}: the origin of {VALID_DOMAINS_URL}"
        );
    }
}

#[tokio::test]
async fn the_tab_loads_the_published_teams_js_with_its_full_integrity_hash() {
    if !crate::harness::node_packages("tests/tab-host") {
        return;
    }
    let (url, configured) = production_tab();
    let served = sdk_integrity();
    assert_eq!(
        configured, served,
        "config/defaults.toml tab.teams_js_integrity must be the sha384 of {SDK_FILE}"
    );
    let app = TestApp::spawn().await;
    for page in ["/tab", "/tab/config"] {
        let html = app
            .client
            .get(app.url(page))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let tag = format!(
            "<script src=\"{url}\" integrity=\"{served}\" crossorigin=\"anonymous\" defer></script>"
        );
        assert!(html.contains(&tag), "{page} lacks {tag}:\n{html}");
    }
}

/// Waits until the page has run its scripts (deferred ones included).
async fn loaded(b: &Browser) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while b
        .client
        .execute("return document.readyState", vec![])
        .await
        .unwrap()
        != "complete"
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tab never loaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_wrong_integrity_hash_makes_the_browser_refuse_teams_js() {
    let wrong = format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 48])
    );
    let Some((app, host, b)) = spawn_in_teams_with(
        move |c| c.tab.teams_js_integrity = Some(wrong),
        Options::default(),
    )
    .await
    else {
        return;
    };
    open_in_teams(&b, &app, &sso_token(&app, &julie(&app)), "fr-CA", "default").await;
    loaded(&b).await;
    let (sdk_url, _) = production_tab();
    assert!(
        host.requested().contains(&sdk_url),
        "the browser fetched TeamsJS: {:?}",
        host.requested()
    );
    assert_eq!(
        b.client
            .execute("return typeof window.microsoftTeams", vec![])
            .await
            .unwrap(),
        "undefined",
        "TeamsJS must not run with a hash that does not match"
    );
    assert!(host_calls(&b).await.is_empty(), "the host heard nothing");
    assert!(
        b.client
            .find(Locator::Css("#fallback"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap(),
        "the page stays usable: the username form"
    );
    b.close().await;
}

/// Sets a third-party cookie from inside the tab frame and reads what the browser kept.
async fn cookie_kept_in_the_teams_frame(options: Options) -> Value {
    let Some((app, _host, b)) = spawn_in_teams_with(|_| {}, options).await else {
        unreachable!("the caller checked the Node packages");
    };
    open_in_teams(&b, &app, "", "fr-CA", "default").await;
    let kept = b
        .client
        .execute(
            "document.cookie = 'probe=1; SameSite=None; Secure; Path=/'; return document.cookie",
            vec![],
        )
        .await
        .unwrap();
    b.close().await;
    kept
}

#[tokio::test]
async fn third_party_cookies_are_blocked_in_the_teams_frame() {
    if !crate::harness::node_packages("tests/tab-host") {
        return;
    }
    assert_eq!(
        cookie_kept_in_the_teams_frame(Options::default()).await,
        "",
        "the tab frame is third-party: its cookies are blocked"
    );
    // Negative control: the same probe with third-party cookies allowed keeps the cookie, so
    // the empty answer above is the browser's setting, not the probe.
    assert_eq!(
        cookie_kept_in_the_teams_frame(Options {
            allow_third_party_cookies: true,
            ..Options::default()
        })
        .await,
        "probe=1"
    );
}

#[tokio::test]
async fn a_microsoft_host_newer_than_teams_js_is_trusted_through_the_cdn_list() {
    let Some((app, host, b)) = spawn_in_teams().await else {
        return;
    };
    open_at(
        &b,
        NEW_HOST,
        &app,
        &sso_token(&app, &julie(&app)),
        "fr-CA",
        "default",
    )
    .await;
    visible(&b, "#sso").await;
    assert_eq!(b.text("#username").await, "trej");
    assert!(
        host.requested().iter().any(|r| r == VALID_DOMAINS_URL),
        "TeamsJS fetched its list: {:?}",
        host.requested()
    );
    b.close().await;
}

#[tokio::test]
async fn a_host_that_teams_js_does_not_trust_gets_no_single_sign_on() {
    let Some((app, _host, b)) = spawn_in_teams().await else {
        return;
    };
    open_at(
        &b,
        UNTRUSTED_HOST,
        &app,
        &sso_token(&app, &julie(&app)),
        "fr-CA",
        "default",
    )
    .await;
    // initialize() is sent, its answer ignored; after its 5 s time-out the tab offers the form.
    let deadline = tokio::time::Instant::now() + 2 * WAIT;
    while !b
        .text("#fallback-reason")
        .await
        .contains("connexion automatique")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tab never gave up: {}",
            b.text("#fallback-reason").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = host_calls(&b).await;
    assert_eq!(calls, ["initialize"], "nothing after an untrusted answer");
    b.close().await;
}

/// POST to a tab API with the tab's header and Julie's single sign-on token.
async fn post_signed_in(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url(path))
        .header("x-octopus-tab", "1")
        .bearer_auth(sso_token(app, &julie(app)))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_database_failure_in_the_tab_is_unavailable_not_an_unknown_account() {
    let app = TestApp::builder()
        .config(|c| c.teams_app.sso_app_id = Some(SSO_APP.into()))
        .spawn()
        .await;
    // The account look-up now fails in the database, as when it is down.
    sqlx::query("alter table account rename to account_gone")
        .execute(&mut *app.store.conn().await.unwrap())
        .await
        .unwrap();

    for path in ["/api/tab/request", "/api/tab/unlock"] {
        let (status, body) =
            post_signed_in(&app, path, json!({"purpose": "reset", "locale": "en"})).await;
        assert!(status >= 500, "{path}: {status} {body}");
        assert_eq!(body["code"], "unavailable", "{path}");
    }
    let (status, body) = me(&app, &sso_token(&app, &julie(&app))).await;
    assert!(status >= 500, "me: {status} {body}");
    assert_eq!(body["code"], "unavailable");
}

#[tokio::test]
async fn a_malformed_tab_request_is_told_so() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .post(app.url("/api/tab/request"))
        .header("x-octopus-tab", "1")
        .header("content-type", "application/json")
        .header("accept-language", "en")
        .body("{\"purpose\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "bad_request");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("malformed"), "{message}");
    assert!(!message.contains("unavailable"), "{message}");
}

#[tokio::test]
async fn a_tab_request_with_an_unknown_purpose_is_refused_not_taken_for_a_reset() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .post(app.url("/api/tab/request"))
        .header("x-octopus-tab", "1")
        .json(&json!({"purpose": "delete", "username": "trej"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "bad_request");
    let queued = app.mails_queued().await.len();
    assert_eq!(queued, 0, "no link, no mail");
}
