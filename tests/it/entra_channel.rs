//! Entra-issued channel tokens (`bot.accept_entra_channel_tokens`): accepted only from a Bot
//! Service tenant's issuer, with that tenant's `tid`, our app id as audience and an allowed
//! caller; the activity's serviceUrl must be a connector host when the token names none.

use serde_json::{Value, json};

use crate::harness::{BOT_ID, TENANT, TestApp, entra::ENTRA_KEYS};

/// The botframework.com tenant, the first Bot Service tenant (config/defaults.toml).
const BOT_SERVICE_TENANT: &str = "d6d49420-f39b-4df7-a1dc-d59a935871db";
/// Another Bot Service tenant of the defaults (its tokens are v2 below).
const BOT_SERVICE_TENANT_2: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
/// The app id the Bot Service calls with (what the admin allows).
const CALLER: &str = "0a1b2c3d-0000-4000-8000-00000000ca11";
const OTHER_TENANT: &str = "44444444-4444-4444-8444-444444444444";

/// With the option on, the caller allowed, and the loopback connector counted as Microsoft's.
async fn accepting(hosts: &[&str]) -> TestApp {
    let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    TestApp::builder()
        .config(move |c| {
            c.bot.accept_entra_channel_tokens = true;
            c.bot.entra_channel_callers = vec![CALLER.into()];
            c.bot.connector_hosts = hosts.clone();
        })
        .spawn()
        .await
}

/// A v1 token (`https://sts.windows.net/{tenant}/`, caller in `appid`), no serviceurl claim.
fn v1(tenant: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": format!("https://sts.windows.net/{tenant}/"), "aud": BOT_ID, "tid": tenant,
        "appid": CALLER, "ver": "1.0", "iat": now, "nbf": now - 5, "exp": now + 3600
    })
}

/// A v2 token (`{entra}/{tenant}/v2.0`, caller in `azp`), no serviceurl claim.
fn v2(app: &TestApp, tenant: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": format!("{}/{tenant}/v2.0", app.entra.base), "aud": BOT_ID, "tid": tenant,
        "azp": CALLER, "ver": "2.0", "iat": now, "nbf": now - 5, "exp": now + 3600
    })
}

async fn status(app: &TestApp, claims: &Value) -> u16 {
    let token = app.entra.sign(&ENTRA_KEYS[0], claims);
    app.bot_with(&app.personal("aide"), Some(&format!("Bearer {token}")))
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_entra_token_from_a_bot_service_tenant_with_its_tid_caller_and_audience_is_accepted() {
    let app = accepting(&["127.0.0.1"]).await;
    assert_eq!(status(&app, &v1(BOT_SERVICE_TENANT)).await, 200, "v1");
    let posted = app.connector.wait_for(1).await;
    assert_eq!(
        posted[0].authorization.as_deref(),
        Some("Bearer app-token-1"),
        "the bot answered"
    );
    assert_eq!(
        status(&app, &v2(&app, BOT_SERVICE_TENANT_2)).await,
        200,
        "v2"
    );
    let mut c = v1(BOT_SERVICE_TENANT);
    c["serviceurl"] = json!(app.connector.service_url);
    assert_eq!(status(&app, &c).await, 200, "with a matching serviceurl");
}

#[tokio::test]
async fn entra_channel_tokens_are_refused_while_the_option_is_off() {
    let app = TestApp::builder()
        .config(|c| {
            c.bot.entra_channel_callers = vec![CALLER.into()];
            c.bot.connector_hosts = vec!["127.0.0.1".into()];
        })
        .spawn()
        .await;
    assert_eq!(status(&app, &v1(BOT_SERVICE_TENANT)).await, 401);
    assert_eq!(status(&app, &v2(&app, BOT_SERVICE_TENANT)).await, 401);
    assert!(app.connector.posted().is_empty());
}

#[tokio::test]
async fn a_tid_other_than_the_issuers_tenant_is_refused() {
    let app = accepting(&["127.0.0.1"]).await;
    let mut c = v1(BOT_SERVICE_TENANT);
    c["tid"] = json!(OTHER_TENANT);
    assert_eq!(status(&app, &c).await, 401, "v1, another tenant's tid");
    let mut c = v2(&app, BOT_SERVICE_TENANT);
    c["tid"] = json!(BOT_SERVICE_TENANT_2);
    assert_eq!(
        status(&app, &c).await,
        401,
        "v2, another Bot Service tenant's tid"
    );
    c.as_object_mut().unwrap().remove("tid");
    assert_eq!(status(&app, &c).await, 401, "no tid");
}

#[tokio::test]
async fn the_bots_own_tenant_is_not_a_bot_service_issuer_and_other_callers_are_refused() {
    let app = accepting(&["127.0.0.1"]).await;
    // What any app of the bot's tenant can mint for our app id with client credentials.
    let mut c = v1(TENANT);
    c["appid"] = json!("9f9f9f9f-0000-4000-8000-00000000a99");
    assert_eq!(status(&app, &c).await, 401, "own tenant, another caller");
    assert_eq!(
        status(&app, &v1(TENANT)).await,
        401,
        "own tenant, even with the allowed caller"
    );
    // From a Bot Service tenant but by a caller that is not allowed.
    let mut c = v2(&app, BOT_SERVICE_TENANT);
    c["azp"] = json!("9f9f9f9f-0000-4000-8000-00000000a99");
    assert_eq!(status(&app, &c).await, 401, "caller not allowed");
    let mut c = v2(&app, BOT_SERVICE_TENANT);
    c.as_object_mut().unwrap().remove("azp");
    c["appid"] = json!(CALLER);
    assert_eq!(status(&app, &c).await, 401, "v2 names its caller in azp");
}

#[tokio::test]
async fn an_entra_token_for_the_bot_framework_api_audience_is_refused() {
    let app = accepting(&["127.0.0.1"]).await;
    let mut c = v1(BOT_SERVICE_TENANT);
    c["aud"] = json!("https://api.botframework.com");
    assert_eq!(status(&app, &c).await, 401);
    let mut c = v2(&app, BOT_SERVICE_TENANT);
    c["aud"] = json!(["https://api.botframework.com"]);
    assert_eq!(status(&app, &c).await, 401);
}

#[tokio::test]
async fn without_a_serviceurl_claim_the_service_url_host_must_be_a_connector_host() {
    let app = accepting(&["smba.trafficmanager.net"]).await;
    assert_eq!(
        status(&app, &v1(BOT_SERVICE_TENANT)).await,
        401,
        "127.0.0.1 is not a connector host here"
    );
    let mut c = v1(BOT_SERVICE_TENANT);
    c["serviceurl"] = json!(app.connector.service_url);
    assert_eq!(
        status(&app, &c).await,
        200,
        "a serviceurl claim naming the activity's serviceUrl is enough"
    );
    c["serviceurl"] = json!("https://smba.trafficmanager.net/amer/");
    assert_eq!(status(&app, &c).await, 401, "a serviceurl claim must match");
}

#[tokio::test]
async fn a_key_published_for_another_issuer_does_not_sign_for_a_bot_service_tenant() {
    let app = accepting(&["127.0.0.1"]).await;
    // Entra's keys are shared across tenants: the key must name the token's tenant.
    app.entra
        .set_key_issuer(Some(format!("{}/{OTHER_TENANT}/v2.0", app.entra.base)));
    assert_eq!(status(&app, &v1(BOT_SERVICE_TENANT)).await, 401, "v1");
    assert_eq!(status(&app, &v2(&app, BOT_SERVICE_TENANT)).await, 401, "v2");
    assert!(app.connector.posted().is_empty());
}
