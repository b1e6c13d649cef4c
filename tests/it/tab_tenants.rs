//! The tab's single sign-on picks the organisation by the token's `tid` before verifying it (the
//! tenant decides which keys and issuers count), then checks the verified `tid` again. Entra's
//! signing keys are the same for every tenant (the stand-in serves them so too): only the
//! issuer and the tenant checks keep organisation A's tokens away from organisation B.

use serde_json::{Value, json};

use crate::harness::{TENANT, TestApp, entra::ENTRA_KEYS, entra::SsoToken};

const TENANT_B: &str = "7b3d9e21-4c6a-4f8b-9d0e-1a2b3c4d5e6f";

/// The usual organisation (A, the Cégep) and a second one (B, a CISSS).
async fn two_organisations() -> TestApp {
    TestApp::builder()
        .config(|c| {
            c.organisations.push(crate::harness::cisss(TENANT_B));
        })
        .spawn()
        .await
}

/// Julie's token (v2 issuer of A, tid A), with `edit` applied.
fn token(app: &TestApp, edit: impl FnOnce(&mut Value)) -> String {
    let mut claims = SsoToken::julie().claims(&app.entra);
    edit(&mut claims);
    app.entra.sign(&ENTRA_KEYS[0], &claims)
}

fn v2_issuer(app: &TestApp, tenant: &str) -> Value {
    json!(format!("{}/{tenant}/v2.0", app.entra.base))
}

fn v1_issuer(tenant: &str) -> Value {
    json!(format!("https://sts.windows.net/{tenant}/"))
}

async fn me(app: &TestApp, token: &str) -> u16 {
    crate::tab::me(app, token).await.0
}

#[tokio::test]
async fn a_tenant_id_written_otherwise_than_entra_writes_it_is_refused() {
    let app = two_organisations().await;
    assert_eq!(
        me(&app, &token(&app, |_| {})).await,
        200,
        "Julie's own token"
    );
    for (why, tid) in [
        ("padded", format!(" {TENANT} ")),
        ("trailing space", format!("{TENANT} ")),
        ("upper case", TENANT_B.to_ascii_uppercase()),
    ] {
        let upper_b = why == "upper case";
        let t = token(&app, |c| {
            c["tid"] = json!(tid);
            if upper_b {
                c["iss"] = v2_issuer(&app, TENANT_B);
            }
        });
        assert_eq!(me(&app, &t).await, 401, "{why}");
    }
}

#[tokio::test]
async fn one_organisation_s_issuer_never_vouches_for_the_other_s_tenant() {
    let app = two_organisations().await;
    let cases = [
        ("v2: A's issuer, B's tid", v2_issuer(&app, TENANT), TENANT_B),
        ("v2: B's issuer, A's tid", v2_issuer(&app, TENANT_B), TENANT),
        ("v1: A's issuer, B's tid", v1_issuer(TENANT), TENANT_B),
        ("v1: B's issuer, A's tid", v1_issuer(TENANT_B), TENANT),
    ];
    for (why, iss, tid) in cases {
        let t = token(&app, |c| {
            c["iss"] = iss.clone();
            c["tid"] = json!(tid);
            if iss.as_str().is_some_and(|i| i.starts_with("https://sts")) {
                c["ver"] = json!("1.0");
            }
        });
        assert_eq!(me(&app, &t).await, 401, "{why}");
    }
    // Each organisation's own tokens, v1 and v2, are accepted (B has no account for Julie).
    for (iss, tid, status) in [
        (v1_issuer(TENANT), TENANT, 200),
        (v2_issuer(&app, TENANT_B), TENANT_B, 404),
        (v1_issuer(TENANT_B), TENANT_B, 404),
    ] {
        let t = token(&app, |c| {
            c["iss"] = iss;
            c["tid"] = json!(tid);
        });
        assert_eq!(me(&app, &t).await, status, "{tid}");
    }
}
