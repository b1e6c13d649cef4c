//! Channel-token conformance: every rule of Bot Framework inbound authentication, against a
//! local issuer with its own RSA keys. A refused request gets 401 and nothing is processed.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::harness::{
    BOT_ID, TestApp,
    idp::{CHANNEL_ISSUER, KEYS, channel_claims},
};

async fn status(app: &TestApp, token: &str) -> u16 {
    let a = app.personal("aide");
    app.bot_with(&a, Some(&format!("Bearer {token}")))
        .await
        .status()
        .as_u16()
}

fn claims(app: &TestApp) -> Value {
    channel_claims(BOT_ID, &app.connector.service_url, 0)
}

#[tokio::test]
async fn a_valid_channel_token_is_accepted_and_the_bot_answers() {
    let app = TestApp::spawn().await;
    assert_eq!(app.bot(&app.personal("aide")).await.status(), 200);
    let posted = app.connector.wait_for(1).await;
    assert_eq!(
        posted[0].authorization.as_deref(),
        Some("Bearer app-token-1"),
        "replies carry the app token"
    );
    assert_eq!(app.entra.token_hits(), 1);
}

#[tokio::test]
async fn wrong_audience_issuer_or_signature_is_refused_with_401() {
    let app = TestApp::spawn().await;
    let mut c = claims(&app);
    c["aud"] = json!("another-bot");
    assert_eq!(
        status(&app, &app.idp.sign(&KEYS[0], Algorithm::RS256, &c)).await,
        401,
        "audience"
    );

    let mut c = claims(&app);
    c["aud"] = json!(["another-bot", "yet-another"]);
    assert_eq!(
        status(&app, &app.idp.sign(&KEYS[0], Algorithm::RS256, &c)).await,
        401,
        "audience list without us"
    );

    let mut c = claims(&app);
    c["iss"] = json!("https://sts.windows.net/evil/");
    assert_eq!(
        status(&app, &app.idp.sign(&KEYS[0], Algorithm::RS256, &c)).await,
        401,
        "issuer"
    );

    // Signed by a key that is not published, under a published key's id.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEYS[0].kid.clone());
    let forged = jsonwebtoken::encode(
        &header,
        &claims(&app),
        &EncodingKey::from_rsa_pem(KEYS[3].private_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(status(&app, &forged).await, 401, "signature");

    assert_eq!(
        status(
            &app,
            &app.idp.sign(&KEYS[0], Algorithm::RS384, &claims(&app))
        )
        .await,
        200,
        "RS384 is allowed"
    );
    assert_eq!(
        status(
            &app,
            &app.idp.sign(&KEYS[0], Algorithm::RS512, &claims(&app))
        )
        .await,
        200,
        "RS512 is allowed"
    );
}

#[tokio::test]
async fn expiry_and_not_before_allow_five_minutes_of_clock_skew_and_no_more() {
    let app = TestApp::spawn().await;
    let at = |exp: i64, nbf: i64| {
        let mut c = claims(&app);
        let now = chrono::Utc::now().timestamp();
        c["exp"] = json!(now + exp);
        c["nbf"] = json!(now + nbf);
        app.idp.sign(&KEYS[0], Algorithm::RS256, &c)
    };
    assert_eq!(
        status(&app, &at(-240, -900)).await,
        200,
        "expired 4 min ago: within skew"
    );
    assert_eq!(
        status(&app, &at(-360, -900)).await,
        401,
        "expired 6 min ago"
    );
    assert_eq!(
        status(&app, &at(900, 240)).await,
        200,
        "valid in 4 min: within skew"
    );
    assert_eq!(
        status(&app, &at(900, 360)).await,
        401,
        "valid only in 6 min"
    );
    let mut c = claims(&app);
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        status(&app, &app.idp.sign(&KEYS[0], Algorithm::RS256, &c)).await,
        401,
        "no exp"
    );
}

#[tokio::test]
async fn an_unknown_key_id_triggers_one_refresh_and_a_rotated_key_is_accepted() {
    let app = TestApp::builder()
        .config(|c| c.bot.unknown_key_cooldown_secs = 0)
        .spawn()
        .await;
    assert_eq!(
        status(
            &app,
            &app.idp.channel_token(BOT_ID, &app.connector.service_url)
        )
        .await,
        200
    );
    let before = app.idp.jwks_hits();
    let new_key_token = app.idp.sign(&KEYS[1], Algorithm::RS256, &claims(&app));
    assert_eq!(status(&app, &new_key_token).await, 401, "not yet published");
    app.idp.rotate();
    assert_eq!(
        status(&app, &new_key_token).await,
        200,
        "published: fetched on the unknown kid"
    );
    assert_eq!(status(&app, &new_key_token).await, 200);
    assert_eq!(
        app.idp.jwks_hits(),
        before + 2,
        "one refresh per unknown kid, then cached"
    );
}

#[tokio::test]
async fn forged_key_ids_cannot_make_us_hammer_the_key_endpoint() {
    let app = TestApp::spawn().await; // cool-down: five minutes (the default)
    assert_eq!(
        status(
            &app,
            &app.idp.channel_token(BOT_ID, &app.connector.service_url)
        )
        .await,
        200
    );
    let before = app.idp.jwks_hits();
    for i in 0..20 {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(format!("forged-{i}"));
        let t = jsonwebtoken::encode(
            &header,
            &claims(&app),
            &EncodingKey::from_rsa_pem(KEYS[3].private_pem.as_bytes()).unwrap(),
        )
        .unwrap();
        assert_eq!(status(&app, &t).await, 401);
    }
    assert!(
        app.idp.jwks_hits() <= before + 1,
        "at most one refresh per cool-down: {} hits",
        app.idp.jwks_hits() - before
    );
    assert_eq!(
        status(
            &app,
            &app.idp.channel_token(BOT_ID, &app.connector.service_url)
        )
        .await,
        200
    );
}

#[tokio::test]
async fn a_key_not_endorsed_for_the_channel_is_refused() {
    let app = TestApp::spawn().await;
    let t = app.idp.sign(&KEYS[2], Algorithm::RS256, &claims(&app)); // endorsed for webchat only
    assert_eq!(status(&app, &t).await, 401);
}

#[tokio::test]
async fn alg_none_and_hs256_signed_with_the_public_key_are_refused() {
    let app = TestApp::spawn().await;
    let b64 = |v: &Value| {
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            v.to_string(),
        )
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": KEYS[0].kid})),
        b64(&claims(&app))
    );
    assert_eq!(status(&app, &none).await, 401, "alg none");

    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(KEYS[0].kid.clone());
    let hs = jsonwebtoken::encode(
        &header,
        &claims(&app),
        &EncodingKey::from_secret(KEYS[0].public_pem.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        status(&app, &hs).await,
        401,
        "HS256 with the public key as secret"
    );
}

#[tokio::test]
async fn the_service_url_claim_must_be_present_and_match() {
    let app = TestApp::spawn().await;
    let mut c = claims(&app);
    c.as_object_mut().unwrap().remove("serviceurl");
    assert_eq!(
        status(&app, &app.idp.sign(&KEYS[0], Algorithm::RS256, &c)).await,
        401,
        "missing"
    );

    let mut c = claims(&app);
    c["serviceurl"] = json!("https://attacker.example/");
    assert_eq!(
        status(&app, &app.idp.sign(&KEYS[0], Algorithm::RS256, &c)).await,
        401,
        "mismatch"
    );

    let mut c = claims(&app);
    c["serviceurl"] = json!(
        app.connector
            .service_url
            .to_uppercase()
            .replace("HTTP://", "http://")
    );
    assert_eq!(
        status(&app, &app.idp.sign(&KEYS[0], Algorithm::RS256, &c)).await,
        200,
        "case-insensitive"
    );
}

#[tokio::test]
async fn a_missing_or_malformed_header_is_refused_and_nothing_is_processed() {
    let app = TestApp::spawn().await;
    let mut a = app.personal("");
    a["value"] = json!({"action": "submit", "purpose": "reset", "username": "trej"});
    let token = app.idp.channel_token(BOT_ID, &app.connector.service_url);
    for header in [
        None,
        Some("".to_string()),
        Some(format!("Basic {token}")),
        Some(format!("bearer {token}")),
        Some("Bearer".to_string()),
        Some(format!("Bearer {token} extra")),
        Some("Bearer not.a.jwt".to_string()),
    ] {
        let res = app.bot_with(&a, header.as_deref()).await;
        assert_eq!(res.status(), 401, "{header:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.connector.posted().is_empty(), "nothing was processed");
    assert!(app.smtp.received().is_empty(), "no mail");
    let handled: i64 = sqlx::query_scalar("select count(*) from processed_activity")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(handled, 0);
    let res = app
        .client
        .post(app.url("/api/messages"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_metadata_endpoint_is_down() {
    let app = TestApp::spawn().await;
    assert_eq!(
        status(
            &app,
            &app.idp.channel_token(BOT_ID, &app.connector.service_url)
        )
        .await,
        200
    );
    app.idp.set_down(true);
    assert_eq!(
        status(
            &app,
            &app.idp.channel_token(BOT_ID, &app.connector.service_url)
        )
        .await,
        200
    );
    let unknown = app.idp.sign(&KEYS[1], Algorithm::RS256, &claims(&app));
    assert_eq!(
        status(&app, &unknown).await,
        401,
        "an unknown key stays unknown while the issuer is down"
    );
    app.idp.set_down(false);
}

#[tokio::test]
async fn with_the_issuer_down_from_the_start_requests_are_refused() {
    let app = TestApp::spawn().await;
    app.idp.set_down(true);
    assert_eq!(
        status(
            &app,
            &app.idp.channel_token(BOT_ID, &app.connector.service_url)
        )
        .await,
        401
    );
    let _ = CHANNEL_ISSUER;
}

#[tokio::test]
async fn without_an_app_id_the_bot_runs_unauthenticated_for_local_tools() {
    let app = TestApp::builder()
        .config(|c| c.bot.app_id = String::new())
        .spawn()
        .await;
    let res = app.bot_with(&app.personal("aide"), None).await;
    assert_eq!(res.status(), 200, "the Teams app test tool sends no token");
    let posted = app.connector.wait_for(1).await;
    assert_eq!(posted[0].authorization, None, "and gets none back");
    assert_eq!(app.entra.token_hits(), 0);
}

#[test]
fn local_development_mode_refuses_to_listen_beyond_loopback() {
    let out = crate::harness::process::command()
        .arg("check-config")
        .env("OCTOPUS__HTTP__LISTEN", "0.0.0.0:3978")
        .env_remove("OCTOPUS_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bot.app_id is empty") && err.contains("loopback"),
        "{err}"
    );
}

#[tokio::test]
async fn a_retired_key_s_token_is_refused_after_a_refresh_even_if_it_was_accepted_before() {
    let app = TestApp::builder()
        .config(|c| c.bot.unknown_key_cooldown_secs = 0)
        .spawn()
        .await;
    let old = app.idp.channel_token(BOT_ID, &app.connector.service_url);
    assert_eq!(status(&app, &old).await, 200);
    assert_eq!(status(&app, &old).await, 200, "the same token again");
    app.idp.rotate();
    app.idp.retire(&KEYS[0]);
    let new_key_token = app.idp.sign(&KEYS[1], Algorithm::RS256, &claims(&app));
    assert_eq!(
        status(&app, &new_key_token).await,
        200,
        "the unknown kid refreshes the keys"
    );
    assert_eq!(
        status(&app, &old).await,
        401,
        "its key is no longer published: the token verified before is not trusted anymore"
    );
}

#[tokio::test]
async fn a_token_accepted_before_is_still_checked_against_each_activity() {
    let app = TestApp::spawn().await;
    let token = app.idp.channel_token(BOT_ID, &app.connector.service_url);
    assert_eq!(status(&app, &token).await, 200);
    let mut other = app.personal("aide");
    other["serviceUrl"] = json!("https://elsewhere.example.org/");
    let res = app.bot_with(&other, Some(&format!("Bearer {token}"))).await;
    assert_eq!(res.status(), 401, "serviceurl of another activity");
    let mut webchat = app.personal("aide");
    webchat["channelId"] = json!("emulator");
    let res = app
        .bot_with(&webchat, Some(&format!("Bearer {token}")))
        .await;
    assert_eq!(res.status(), 401, "a channel the key is not endorsed for");
    assert_eq!(status(&app, &token).await, 200);
}
