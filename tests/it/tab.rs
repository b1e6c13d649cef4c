//! The Octopus tab: in headless Chromium inside a local page standing in for Teams (the npm
//! teams-js served in place of Microsoft's CDN, answering initialize, context and getAuthToken
//! with a token minted by the local issuer), outside Teams, and its token rules.

use std::{path::PathBuf, time::Duration};

use axum::{Router, http::header, response::IntoResponse, routing::get};
use base64::Engine;
use fantoccini::Locator;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use sha2::Digest;

use crate::harness::{
    JULIE_OID, TENANT, TestApp,
    browser::Browser,
    idp::{KEYS, sso_claims},
};

const SSO_APP: &str = "8d7f3c2a-1b4e-4c5d-9e6f-0a1b2c3d4e5f";
const WAIT: Duration = Duration::from_secs(10);

fn host_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tab-host")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(host_dir().join(rel)).unwrap_or_else(|e| {
        panic!("{rel}: {e} (run scripts/test-deps: npm ci --prefix tests/tab-host)")
    })
}

/// Serves the stand-in host page, the SDK and axe-core on its own origin.
async fn start_host() -> String {
    fn file(body: Vec<u8>, kind: &'static str) -> impl IntoResponse {
        (
            [
                (header::CONTENT_TYPE, kind),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            body,
        )
    }
    let (html, js) = (read("host.html"), read("host.js"));
    let sdk = read("node_modules/@microsoft/teams-js/dist/umd/MicrosoftTeams.min.js");
    let axe = read("node_modules/axe-core/axe.min.js");
    let app = Router::new()
        .route(
            "/host.html",
            get(move || {
                let b = html.clone();
                async move { file(b, "text/html; charset=utf-8") }
            }),
        )
        .route(
            "/host.js",
            get(move || {
                let b = js.clone();
                async move { file(b, "text/javascript") }
            }),
        )
        .route(
            "/teams-js.js",
            get(move || {
                let b = sdk.clone();
                async move { file(b, "text/javascript") }
            }),
        )
        .route(
            "/axe.min.js",
            get(move || {
                let b = axe.clone();
                async move { file(b, "text/javascript") }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    origin
}

async fn spawn_with_host() -> (TestApp, String) {
    let host = start_host().await;
    let integrity = format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(read(
            "node_modules/@microsoft/teams-js/dist/umd/MicrosoftTeams.min.js"
        )))
    );
    let h = host.clone();
    let app = TestApp::builder()
        .config(move |c| {
            c.teams_app.sso_app_id = Some(SSO_APP.into());
            c.tab.teams_js_url = format!("{h}/teams-js.js");
            c.tab.teams_js_integrity = Some(integrity);
            c.tab.frame_ancestors = vec![h.clone()];
            c.tab.valid_origins = vec![h.clone()];
        })
        .spawn()
        .await;
    (app, host)
}

fn sso_token(app: &TestApp, claims: &Value) -> String {
    app.idp.sign(&KEYS[0], Algorithm::RS256, claims)
}

fn julie(app: &TestApp) -> Value {
    sso_claims(
        &app.idp.base,
        TENANT,
        SSO_APP,
        JULIE_OID,
        "julie.tremblay@cegepsi.ca",
    )
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Opens the tab inside the stand-in host and enters its frame.
async fn open_in_teams(
    b: &Browser,
    app: &TestApp,
    host: &str,
    token: &str,
    locale: &str,
    theme: &str,
) {
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

/// axe-core in the tab frame: no serious or critical violation.
async fn accessible(b: &Browser, host: &str) {
    let script = format!(
        "return new Promise((resolve, reject) => {{
            const s = document.createElement('script'); s.src = '{host}/axe.min.js';
            s.onload = () => axe.run(document, {{ resultTypes: ['violations'] }}).then(r => resolve(r.violations.map(v => ({{id: v.id, impact: v.impact, nodes: v.nodes.length}})))).catch(e => reject(String(e)));
            s.onerror = () => reject('axe did not load');
            document.head.appendChild(s);
        }});"
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
    let (app, host) = spawn_with_host().await;
    let b = Browser::start().await;
    open_in_teams(
        &b,
        &app,
        &host,
        &sso_token(&app, &julie(&app)),
        "fr-CA",
        "default",
    )
    .await;
    visible(&b, "#sso").await;
    assert_eq!(b.text("#username").await, "trej");
    assert!(
        b.text("#portal")
            .await
            .contains("Accéder au portail Web Octopus")
    );
    accessible(&b, &host).await;
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
async fn without_single_sign_on_the_tab_falls_back_to_the_username_form() {
    let (app, host) = spawn_with_host().await;
    let b = Browser::start().await;
    open_in_teams(&b, &app, &host, "", "fr-CA", "default").await; // getAuthToken fails (consent)
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
    let (app, host) = spawn_with_host().await;
    let b = Browser::start().await;
    let stranger = sso_claims(
        &app.idp.base,
        TENANT,
        SSO_APP,
        "99999999-0000-0000-0000-000000000000",
        "someone@cegepsi.ca",
    );
    open_in_teams(
        &b,
        &app,
        &host,
        &sso_token(&app, &stranger),
        "fr-CA",
        "default",
    )
    .await;
    visible(&b, "#fallback").await;
    assert!(
        b.text("#fallback-reason")
            .await
            .contains("aucun compte Octopus")
    );
    b.close().await;
}

#[tokio::test]
async fn dark_theme_and_the_three_languages() {
    let (app, host) = spawn_with_host().await;
    let b = Browser::start().await;
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
        open_in_teams(
            &b,
            &app,
            &host,
            &sso_token(&app, &julie(&app)),
            locale,
            theme,
        )
        .await;
        visible(&b, "#sso").await;
        assert_eq!(b.text("#send-reset").await, expected);
        let class = b
            .client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .attr("class")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(class.contains(&format!("theme-{theme}")), "{class}");
        accessible(&b, &host).await;
        b.screenshot(&format!("tab-{locale}-{theme}")).await;
    }
    // Teams switches theme while the tab is open.
    b.client.enter_parent_frame().await.unwrap();
    b.client
        .execute("return window.setTheme('dark')", vec![])
        .await
        .unwrap();
    b.client.enter_frame(0).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let class = b
        .client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(class.contains("theme-dark"), "{class}");
    b.close().await;
}

#[tokio::test]
async fn the_channel_tab_configuration_page_saves_a_channel_content_url() {
    let (app, host) = spawn_with_host().await;
    let b = Browser::start().await;
    let url = format!(
        "{host}/host.html?tab={}&frameContext=settings&locale=fr-CA&tenant={TENANT}",
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

async fn me(app: &TestApp, token: &str) -> (u16, Value) {
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
    let (app, _) = spawn_with_host().await;
    let ok = julie(&app);
    assert_eq!(
        me(&app, &sso_token(&app, &ok)).await,
        (
            200,
            json!({"username": "trej", "orgName": "Cégep de Sept-Îles", "portalUrl": "https://demo.octopus-itsm.com/Web/Login.aspx"})
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

    let stranger = sso_claims(
        &app.idp.base,
        TENANT,
        SSO_APP,
        "99999999-0000-0000-0000-000000000000",
        "someone@cegepsi.ca",
    );
    let (status, body) = me(&app, &sso_token(&app, &stranger)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("no_account")),
        "unknown account"
    );

    // Found by sign-in name only when the account has no object id bound (Marc's has none)…
    let by_upn = sso_claims(
        &app.idp.base,
        TENANT,
        SSO_APP,
        "99999999-0000-0000-0000-000000000000",
        "Marc.Gagnon@cegepsi.ca",
    );
    let (status, body) = me(&app, &sso_token(&app, &by_upn)).await;
    assert_eq!((status, body["username"].as_str()), (200, Some("gagm")));
    // …never for an account bound to another object id (Julie's), whatever the name says.
    let other_oid = sso_claims(
        &app.idp.base,
        TENANT,
        SSO_APP,
        "99999999-0000-0000-0000-000000000000",
        "Julie.Tremblay@cegepsi.ca",
    );
    assert_eq!(me(&app, &sso_token(&app, &other_oid)).await.0, 404);
    // The unverified `email` claim names nobody.
    let mut by_email = sso_claims(
        &app.idp.base,
        TENANT,
        SSO_APP,
        "99999999-0000-0000-0000-000000000000",
        "x",
    );
    by_email
        .as_object_mut()
        .unwrap()
        .remove("preferred_username");
    by_email["email"] = json!("marc.gagnon@cegepsi.ca");
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
    assert!(
        csp.contains("script-src 'self' https://res.cdn.office.net"),
        "{csp}"
    );
    assert!(!tab.headers().contains_key("x-frame-options"));
    let html = tab.text().await.unwrap();
    assert!(html.contains("https://res.cdn.office.net/teams-js/2.58.0/js/MicrosoftTeams.min.js"));
    assert!(html.contains("integrity=\"sha384-"));

    let login = app.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.headers()["x-frame-options"], "DENY");
    assert!(
        login.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}
