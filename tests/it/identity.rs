//! Identity providers as Microsoft runs them: the Bot Framework channel issuer and Entra are
//! separate issuers with separate keys, keys rotate and retire, the token endpoint refuses what
//! Entra refuses, and the key and app-token caches run on the test clock (no sleeping).

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::harness::{
    BOT_ID, BOT_PASSWORD, TENANT, TestApp,
    entra::{BOT_SCOPE, BOTFRAMEWORK_TENANT, ENTRA_KEYS, Issued, SsoToken},
    idp::{KEYS, channel_claims},
};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// Status of a bot message carrying a channel token signed with `key`.
async fn channel_status(app: &TestApp, key: &crate::harness::idp::SigningKey) -> u16 {
    let token = app.idp.sign(
        key,
        Algorithm::RS256,
        &channel_claims(BOT_ID, &app.connector.service_url, 0),
    );
    app.bot_with(&app.personal("aide"), Some(&format!("Bearer {token}")))
        .await
        .status()
        .as_u16()
}

/// A forged channel token under a key id nobody publishes.
async fn unknown_kid_status(app: &TestApp, kid: &str) -> u16 {
    let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let token = jsonwebtoken::encode(
        &header,
        &channel_claims(BOT_ID, &app.connector.service_url, 0),
        &jsonwebtoken::EncodingKey::from_rsa_pem(KEYS[3].private_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    app.bot_with(&app.personal("aide"), Some(&format!("Bearer {token}")))
        .await
        .status()
        .as_u16()
}

/// Status of `GET /api/tab/me` with Julie's SSO token signed with `key` (audience: the bot's
/// app id, which the tab accepts when no separate SSO app is configured).
async fn tab_status(app: &TestApp, key: &crate::harness::idp::SigningKey) -> u16 {
    let token = SsoToken::julie().signed_with(&app.entra, key);
    app.client
        .get(app.url("/api/tab/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ── Wiring: each validator trusts its own issuer's keys only ─────────────────────────────

#[tokio::test]
async fn a_tab_token_signed_with_a_channel_key_is_refused() {
    let app = TestApp::spawn().await;
    assert_eq!(
        tab_status(&app, &KEYS[0]).await,
        401,
        "signed by the Bot Framework's channel key"
    );
    assert_eq!(
        tab_status(&app, &ENTRA_KEYS[0]).await,
        200,
        "signed by Entra's key: Julie"
    );
}

#[tokio::test]
async fn a_channel_token_signed_with_an_entra_key_is_refused() {
    let app = TestApp::spawn().await;
    assert_eq!(
        channel_status(&app, &ENTRA_KEYS[0]).await,
        401,
        "signed by Entra's key"
    );
    assert_eq!(
        channel_status(&app, &KEYS[0]).await,
        200,
        "signed by the channel key"
    );
}

// ── Key rotation and the key cache on the test clock ─────────────────────────────────────

#[tokio::test]
async fn after_a_rotation_the_new_channel_key_is_accepted_and_the_retired_one_refused() {
    let app = TestApp::spawn().await;
    assert_eq!(channel_status(&app, &KEYS[0]).await, 200);

    // Microsoft publishes a new key and stops publishing the old one.
    app.idp.rotate();
    app.idp.retire(&KEYS[0]);
    assert_eq!(
        channel_status(&app, &KEYS[0]).await,
        200,
        "the cached set still holds the old key"
    );
    app.advance(5 * MINUTE);
    assert_eq!(
        channel_status(&app, &KEYS[1]).await,
        200,
        "the new key's unknown kid refreshes the set"
    );
    assert_eq!(
        channel_status(&app, &KEYS[0]).await,
        401,
        "the refreshed set no longer holds the retired key"
    );
}

#[tokio::test]
async fn a_retired_channel_key_is_refused_after_the_daily_refresh() {
    let app = TestApp::spawn().await;
    assert_eq!(channel_status(&app, &KEYS[0]).await, 200);
    app.idp.rotate();
    app.idp.retire(&KEYS[0]);
    app.advance(23 * HOUR);
    assert_eq!(
        channel_status(&app, &KEYS[0]).await,
        200,
        "cached for a day"
    );
    app.advance(HOUR);
    assert_eq!(
        channel_status(&app, &KEYS[0]).await,
        401,
        "refreshed after a day: retired"
    );
}

#[tokio::test]
async fn after_a_rotation_the_new_entra_key_is_accepted_and_the_retired_one_refused() {
    let app = TestApp::spawn().await;
    assert_eq!(tab_status(&app, &ENTRA_KEYS[0]).await, 200);
    let hits = app.entra.jwks_hits();
    app.entra.publish(&ENTRA_KEYS[1]);
    app.entra.retire(&ENTRA_KEYS[0]);
    assert_eq!(
        tab_status(&app, &ENTRA_KEYS[1]).await,
        401,
        "within the cool-down the new kid stays unknown"
    );
    assert_eq!(app.entra.jwks_hits(), hits);
    app.advance(5 * MINUTE);
    assert_eq!(
        tab_status(&app, &ENTRA_KEYS[1]).await,
        200,
        "new key fetched on its unknown kid"
    );
    assert_eq!(app.entra.jwks_hits(), hits + 1, "one refresh");
    assert_eq!(
        tab_status(&app, &ENTRA_KEYS[0]).await,
        401,
        "retired key refused"
    );
}

#[tokio::test]
async fn the_tab_keeps_entra_s_last_good_keys_while_entra_is_down() {
    let app = TestApp::spawn().await;
    assert_eq!(tab_status(&app, &ENTRA_KEYS[0]).await, 200);
    app.entra.set_down(true);
    app.advance(25 * HOUR);
    assert_eq!(
        tab_status(&app, &ENTRA_KEYS[0]).await,
        200,
        "stale, refresh failed, last good keys kept"
    );
    app.entra.set_down(false);
}

#[tokio::test]
async fn signing_keys_are_refreshed_after_a_day_and_not_before() {
    let app = TestApp::spawn().await;
    assert_eq!(channel_status(&app, &KEYS[0]).await, 200);
    let first = app.idp.jwks_hits();
    assert_eq!(first, 1);
    app.advance(23 * HOUR + 59 * MINUTE);
    assert_eq!(channel_status(&app, &KEYS[0]).await, 200);
    assert_eq!(app.idp.jwks_hits(), first, "still fresh after 23 h 59");
    app.advance(MINUTE);
    assert_eq!(channel_status(&app, &KEYS[0]).await, 200);
    assert_eq!(app.idp.jwks_hits(), first + 1, "refreshed after 24 h");
    assert_eq!(channel_status(&app, &KEYS[0]).await, 200);
    assert_eq!(app.idp.jwks_hits(), first + 1, "then cached again");
}

#[tokio::test]
async fn unknown_key_ids_refresh_at_most_once_per_five_minute_cool_down() {
    // The default configuration: the cool-down is Microsoft.IdentityModel's 5 minutes.
    let app = TestApp::spawn().await;
    assert_eq!(channel_status(&app, &KEYS[0]).await, 200);
    let hits = app.idp.jwks_hits();
    assert_eq!(
        unknown_kid_status(&app, "forged-0").await,
        401,
        "unknown kid"
    );
    assert_eq!(
        app.idp.jwks_hits(),
        hits,
        "the start-up fetch was the last attempt: within the cool-down"
    );

    app.advance(5 * MINUTE);
    assert_eq!(unknown_kid_status(&app, "forged-1").await, 401);
    assert_eq!(
        app.idp.jwks_hits(),
        hits + 1,
        "an unknown kid after the cool-down refreshes once"
    );
    assert_eq!(unknown_kid_status(&app, "forged-2").await, 401);
    app.advance(4 * MINUTE);
    assert_eq!(unknown_kid_status(&app, "forged-3").await, 401);
    assert_eq!(
        app.idp.jwks_hits(),
        hits + 1,
        "further unknown kids within the cool-down do not"
    );

    app.advance(MINUTE);
    assert_eq!(unknown_kid_status(&app, "forged-4").await, 401);
    assert_eq!(
        app.idp.jwks_hits(),
        hits + 2,
        "after the cool-down, one more refresh"
    );
    assert_eq!(
        channel_status(&app, &KEYS[0]).await,
        200,
        "known key served"
    );
}

#[tokio::test]
async fn after_a_day_with_the_issuer_down_the_last_good_keys_serve_and_retries_wait_for_the_cool_down()
 {
    let app = TestApp::spawn().await;
    assert_eq!(channel_status(&app, &KEYS[0]).await, 200);
    app.idp.set_down(true);
    app.advance(25 * HOUR);
    let asked = app.idp.metadata_hits();
    assert_eq!(
        channel_status(&app, &KEYS[0]).await,
        200,
        "stale but kept: the refresh failed"
    );
    assert_eq!(channel_status(&app, &KEYS[0]).await, 200);
    assert_eq!(
        app.idp.metadata_hits(),
        asked + 1,
        "a failed refresh is not retried on every request"
    );
    app.advance(5 * MINUTE);
    assert_eq!(channel_status(&app, &KEYS[0]).await, 200);
    assert_eq!(
        app.idp.metadata_hits(),
        asked + 2,
        "retried after the cool-down"
    );

    app.idp.set_down(false);
    app.idp.rotate();
    app.idp.retire(&KEYS[0]);
    app.advance(5 * MINUTE);
    assert_eq!(
        channel_status(&app, &KEYS[1]).await,
        200,
        "back up: refreshed"
    );
    assert_eq!(channel_status(&app, &KEYS[0]).await, 401);
}

// ── The app token: Entra's token endpoint, cached on the clock ───────────────────────────

/// Sends Julie's "aide" and returns the Authorization header of the connector call it caused.
async fn reply_authorization(app: &TestApp) -> String {
    let before = app.connector.posted().len();
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    let posted = app.connector.wait_for(before + 1).await;
    posted[before]
        .authorization
        .clone()
        .expect("replies carry the app token")
}

#[tokio::test]
async fn the_app_token_is_reused_until_five_minutes_before_it_expires_then_renewed() {
    let app = TestApp::spawn().await;
    let first = reply_authorization(&app).await;
    assert_eq!(app.entra.token_hits(), 1);

    app.advance(54 * MINUTE); // Entra's token: 3599 s; renewed 5 minutes before.
    assert_eq!(reply_authorization(&app).await, first, "reused");
    assert_eq!(app.entra.token_hits(), 1);

    app.advance(MINUTE);
    let second = reply_authorization(&app).await;
    assert_ne!(second, first, "renewed shortly before expiry");
    assert_eq!(app.entra.token_hits(), 2);
    let issued: Vec<String> = app
        .entra
        .issued()
        .into_iter()
        .map(|i| format!("Bearer {}", i.access_token))
        .collect();
    assert_eq!(issued, vec![first, second], "the tokens Entra granted");
}

#[tokio::test]
async fn a_single_tenant_bot_gets_its_app_token_from_its_own_tenant() {
    let app = TestApp::spawn().await;
    let auth = reply_authorization(&app).await;
    let issued = app.entra.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        (issued[0].tenant.as_str(), issued[0].client_id.as_str()),
        (TENANT, BOT_ID)
    );
    assert_eq!(auth, format!("Bearer {}", issued[0].access_token));
}

#[tokio::test]
async fn a_multi_tenant_bot_gets_its_app_token_from_botframework_com_and_replies() {
    let app = TestApp::builder().multi_tenant_bot().spawn().await;
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    let posted = app.connector.wait_for(1).await;
    let issued = app.entra.issued();
    assert_eq!(issued.len(), 1, "one app token");
    assert_eq!(
        (issued[0].tenant.as_str(), issued[0].client_id.as_str()),
        (BOTFRAMEWORK_TENANT, BOT_ID)
    );
    assert_eq!(
        posted[0].authorization.as_deref(),
        Some(format!("Bearer {}", issued[0].access_token).as_str()),
        "the reply reached the connector with that token"
    );
    assert!(
        posted[0].text().contains("mot de passe"),
        "the help answer: {}",
        posted[0].text()
    );
}

/// The bot configured in a way Entra refuses: the turn gets no token and posts nothing.
async fn refused_app_token(app: TestApp, why: &str) {
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200, "{why}");
    wait_until(why, || app.entra.token_hits() >= 1).await;
    assert!(
        app.entra.issued().is_empty(),
        "{why}: Entra granted nothing"
    );
    assert!(
        app.connector.posted().is_empty(),
        "{why}: nothing reached the connector"
    );
}

#[tokio::test]
async fn the_app_token_needs_the_right_secret_tenant_and_scope() {
    refused_app_token(
        TestApp::builder()
            .config(|c| c.bot.app_password = Some("not-the-secret".to_string().into()))
            .spawn()
            .await,
        "wrong client secret",
    )
    .await;
    refused_app_token(
        TestApp::builder()
            .config(|c| {
                c.bot.app_type = octopus_teams::config::AppType::MultiTenant;
                c.bot.app_tenant_id = None;
            })
            .spawn()
            .await,
        "single-tenant registration configured as multi_tenant (botframework.com)",
    )
    .await;
    refused_app_token(
        TestApp::builder()
            .config(|c| c.bot.token_scope = "https://api.botframework.com".into())
            .spawn()
            .await,
        "scope without /.default",
    )
    .await;
}

// ── The Entra stand-in itself refuses like Entra (so the tests above can fail) ───────────

async fn token_request(app: &TestApp, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(app.entra.token_url(tenant))
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn the_entra_token_endpoint_refuses_with_entra_s_errors() {
    let app = TestApp::spawn().await;
    let ok = [
        ("grant_type", "client_credentials"),
        ("client_id", BOT_ID),
        ("client_secret", BOT_PASSWORD),
        ("scope", BOT_SCOPE),
    ];
    let with = |k: &str, v: Option<&'static str>| -> Vec<(String, String)> {
        ok.iter()
            .filter(|(name, _)| *name != k)
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .chain(v.map(|v| (k.to_string(), v.to_string())))
            .collect()
    };
    type Case = (&'static str, Vec<(String, String)>, u16, &'static str, u32);
    let cases: Vec<Case> = vec![
        (
            TENANT,
            with("client_secret", Some("wrong")),
            401,
            "invalid_client",
            7000215,
        ),
        (
            TENANT,
            with("client_secret", None),
            401,
            "invalid_client",
            7000216,
        ),
        (
            TENANT,
            with("client_id", Some("00000000-dead-beef-0000-000000000000")),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            BOTFRAMEWORK_TENANT,
            with("grant_type", Some("client_credentials")),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            TENANT,
            with("scope", Some("https://api.botframework.com")),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            TENANT,
            with("scope", Some("https://graph.example/.default")),
            400,
            "invalid_resource",
            500011,
        ),
        (TENANT, with("scope", None), 400, "invalid_request", 900144),
        (
            TENANT,
            with("grant_type", Some("password")),
            400,
            "unsupported_grant_type",
            70003,
        ),
        (
            TENANT,
            with("grant_type", None),
            400,
            "invalid_request",
            900144,
        ),
        (
            "not-a-tenant",
            with("grant_type", Some("client_credentials")),
            400,
            "invalid_request",
            90002,
        ),
    ];
    for (tenant, form, status, error, code) in cases {
        let form: Vec<(&str, &str)> = form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let (got, body) = token_request(&app, tenant, &form).await;
        assert_eq!(
            (got, body["error"].as_str(), body["error_codes"][0].as_u64()),
            (status, Some(error), Some(u64::from(code))),
            "{tenant} {form:?}: {body}"
        );
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with(&format!("AADSTS{code}: "))),
            "{body}"
        );
        assert!(
            !body.to_string().contains(BOT_PASSWORD),
            "the secret is never echoed"
        );
    }
    assert!(app.entra.issued().is_empty());

    let (got, body) = token_request(&app, TENANT, &ok).await;
    assert_eq!(got, 200, "{body}");
    assert_eq!(body["token_type"], json!("Bearer"));
    let issued: Vec<Issued> = app.entra.issued();
    assert_eq!(
        body["access_token"].as_str(),
        Some(issued[0].access_token.as_str())
    );
}
