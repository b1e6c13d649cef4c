//! The login page, its three choices, the lockout, hash upgrades and the credential API.

use std::time::Duration;

use octopus_teams::model::NewPassword;
use octopus_teams::{config::Argon2Params, reset::hasher::Hasher};
use serde_json::{Value, json};

use crate::harness::{API_KEY, TestApp};

async fn enrolled(app: &TestApp, user: &str, pw: &str, nth: usize) {
    let link = app.reset_link(&app.link_mail("enroll", user, nth).await);
    assert_eq!(app.set_password(&link, pw, pw).await.status(), 303);
}

fn cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_login_page_has_the_seed_s_words() {
    let app = TestApp::spawn().await;
    let (status, page) = app.get("/login").await;
    assert_eq!(status, 200);
    for s in [
        "Bienvenue sur le portail Web du Centre de services",
        "Nom d&#x27;utilisateur",
        "Mot de passe",
        "SOUMETTRE",
        "Mot de passe oublié\u{202f}?",
        "M&#x27;inscrire au service",
        "Se souvenir de moi",
        "Se souvenir uniquement de mon nom",
        "Ne pas se souvenir de moi",
    ] {
        assert!(page.contains(s), "missing {s:?}");
    }
}

#[tokio::test]
async fn the_three_choices_mean_what_they_say() {
    let app = TestApp::spawn().await;
    enrolled(&app, "trej", "abc123", 1).await;

    let res = app.sign_in("trej", "abc123", "me").await;
    let c = cookies(&res).join("\n");
    assert!(
        c.contains("octo_session=") && c.contains("Max-Age=2592000"),
        "persistent session: {c}"
    );
    assert!(c.contains("octo_user=trej"));

    let res = app.sign_in("trej", "abc123", "username").await;
    let c = cookies(&res);
    let session = c.iter().find(|c| c.starts_with("octo_session=")).unwrap();
    assert!(
        !session.contains("Max-Age"),
        "a browser session only: {session}"
    );
    assert!(c.iter().any(|c| c.starts_with("octo_user=trej")));
    let (_, page) = app.get("/login").await;
    assert!(
        page.contains("value=\"trej\""),
        "username prefilled next time"
    );
    assert!(page.contains("value=\"username\" checked"));

    let res = app.sign_in("trej", "abc123", "nothing").await;
    let c = cookies(&res);
    assert!(
        c.iter()
            .any(|c| c.starts_with("octo_user=;") && c.contains("Max-Age=0")),
        "username forgotten: {c:?}"
    );
    let (_, page) = app.get("/login").await;
    assert!(!page.contains("value=\"trej\""));
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = TestApp::spawn().await;
    enrolled(&app, "trej", "abc123", 1).await;
    let res = app.sign_in("trej", "abc123", "nothing").await;
    let session = cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("octo_session="))
        .and_then(|c| c.split(';').next().map(str::to_string))
        .expect("a session cookie");
    assert_eq!(app.get("/account?org=demo").await.0, 200);
    // Another browser replaying the cookie (say, a copy someone kept) is let in, for now.
    let replay = || async {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(app.url("/account?org=demo"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(
        replay().await,
        200,
        "the replayed cookie works while signed in"
    );

    let res = app
        .submit("/account?org=demo", "/logout", &[("org", "demo")])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    // Forgetting the cookie in this browser is not enough: the session itself has ended.
    assert_eq!(
        replay().await,
        303,
        "the old session cookie no longer signs anyone in"
    );
}

#[tokio::test]
async fn consecutive_failures_lock_the_account_for_a_growing_delay_and_a_reset_unlocks_it() {
    let app = TestApp::spawn().await;
    enrolled(&app, "trej", "abc123", 1).await;

    for _ in 0..5 {
        let res = app.sign_in("trej", "wrong1", "nothing").await;
        assert_eq!(res.status(), 401);
    }
    let res = app.sign_in("trej", "abc123", "nothing").await;
    assert_eq!(res.status(), 401, "locked even with the right password");
    assert!(res.text().await.unwrap().contains("id=\"error\""));
    assert!(
        app.audit_events()
            .await
            .contains(&"signin_locked".to_string())
    );

    app.advance(Duration::from_secs(61));
    assert_eq!(
        app.sign_in("trej", "abc123", "nothing").await.status(),
        303,
        "first lock lasts a minute"
    );

    for _ in 0..5 {
        app.sign_in("trej", "wrong1", "nothing").await;
    }
    app.advance(Duration::from_secs(61));
    app.sign_in("trej", "wrong1", "nothing").await;
    app.advance(Duration::from_secs(61));
    assert_eq!(
        app.sign_in("trej", "abc123", "nothing").await.status(),
        401,
        "the 6th failure locks for 2 min"
    );

    let link = app.reset_link(&app.link_mail("reset", "trej", 3).await);
    assert_eq!(
        app.set_password(&link, "new123", "new123").await.status(),
        303
    );
    assert_eq!(
        app.sign_in("trej", "new123", "nothing").await.status(),
        303,
        "a completed reset unlocks"
    );
}

#[tokio::test]
async fn old_hash_parameters_are_upgraded_at_the_next_sign_in() {
    let app = TestApp::spawn().await;
    let cheap = Hasher::new(
        Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        1,
    )
    .unwrap();
    let old = cheap
        .hash(&NewPassword::new("abc123".into()))
        .await
        .unwrap();
    sqlx::query("update account set password_hash = $1 where username = 'trej'")
        .bind(&old)
        .execute(app.store.pool())
        .await
        .unwrap();

    assert_eq!(app.sign_in("trej", "abc123", "nothing").await.status(), 303);
    let now: String =
        sqlx::query_scalar("select password_hash from account where username = 'trej'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert!(now.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{now}");
    assert_eq!(app.sign_in("trej", "abc123", "nothing").await.status(), 303);
}

async fn verify(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/credentials/verify"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_credential_api_says_only_valid_invalid_or_locked() {
    let app = TestApp::spawn().await;
    enrolled(&app, "trej", "abc123", 1).await;

    assert_eq!(
        verify(
            &app,
            API_KEY,
            json!({"username": "trej", "password": "abc123"})
        )
        .await,
        (200, json!({"result": "valid"}))
    );
    assert_eq!(
        verify(
            &app,
            API_KEY,
            json!({"username": "trej", "password": "nope1"})
        )
        .await,
        (200, json!({"result": "invalid"}))
    );
    assert_eq!(
        verify(
            &app,
            API_KEY,
            json!({"username": "ghost", "password": "x1"})
        )
        .await,
        (200, json!({"result": "invalid"}))
    );
    for _ in 0..5 {
        verify(
            &app,
            API_KEY,
            json!({"username": "gagm", "password": "nope1"}),
        )
        .await;
    }
    assert_eq!(
        verify(&app, API_KEY, json!({"username": "gagm", "password": "x"}))
            .await
            .1,
        json!({"result": "locked"})
    );

    let (status, body) = verify(
        &app,
        "wrong-key-wrong-key-wrong",
        json!({"username": "trej", "password": "abc123"}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "unauthorized");
    let res = app
        .client
        .post(app.url("/api/v1/credentials/verify"))
        .bearer_auth(API_KEY)
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn the_credential_api_is_rate_limited_per_organisation_key() {
    let app = TestApp::builder()
        .config(|c| c.limits.verify_per_key = 3)
        .spawn()
        .await;
    for _ in 0..3 {
        assert_eq!(
            verify(&app, API_KEY, json!({"username": "trej", "password": "x1"}))
                .await
                .0,
            200
        );
    }
    let res = app
        .client
        .post(app.url("/api/v1/credentials/verify"))
        .bearer_auth(API_KEY)
        .json(&json!({"username": "trej", "password": "x1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
}
