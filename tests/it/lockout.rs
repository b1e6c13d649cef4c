//! The lockout holds under bursts: checks are reserved before hashing, so parallel guesses get
//! at most the threshold, and usernames that match no account answer the same way.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{API_KEY, TestApp};

async fn verify(app: &TestApp, body: Value) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/credentials/verify"))
        .bearer_auth(API_KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// 40 wrong guesses at once; returns how many were "invalid" and how many "locked".
async fn burst(app: &TestApp, username: &str) -> (usize, usize) {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40 {
        let req = app
            .client
            .post(app.url("/api/v1/credentials/verify"))
            .bearer_auth(API_KEY)
            .json(
                &json!({"username": username, "password": format!("wrong{i}"),
                          "client_ip": format!("198.51.100.{i}")}),
            );
        set.spawn(async move {
            let res = req.send().await.unwrap();
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap_or(Value::Null),
            )
        });
    }
    let (mut invalid, mut locked) = (0, 0);
    while let Some(answer) = set.join_next().await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
        match body["result"].as_str() {
            Some("invalid") => invalid += 1,
            Some("locked") => locked += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    (invalid, locked)
}

#[tokio::test]
async fn a_burst_of_wrong_guesses_gets_at_most_the_threshold_and_unknown_names_answer_alike() {
    let app = TestApp::spawn().await;
    let threshold = app.org.lockout.threshold as usize;
    let link = app.reset_link(&app.link_mail("enroll", "trej", 1).await);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );

    let known = burst(&app, "trej").await;
    assert_eq!(
        known,
        (threshold, 40 - threshold),
        "(invalid, locked) for trej"
    );
    let right = json!({"username": "trej", "password": "abc123"});
    assert_eq!(
        verify(&app, right.clone()).await.1,
        json!({"result": "locked"}),
        "the right password waits for the delay"
    );

    let unknown = burst(&app, "ghost").await;
    assert_eq!(unknown, known, "an unknown username answers the same");
    assert_eq!(
        verify(&app, json!({"username": "ghost", "password": "abc123"}))
            .await
            .1,
        json!({"result": "locked"}),
        "unknown usernames are locked too"
    );

    app.advance(Duration::from_secs(61));
    assert_eq!(verify(&app, right).await.1, json!({"result": "valid"}));
    assert_eq!(
        verify(&app, json!({"username": "ghost", "password": "abc123"}))
            .await
            .1,
        json!({"result": "invalid"})
    );
}

#[tokio::test]
async fn the_credential_api_limits_each_end_user_when_told_their_address() {
    let app = TestApp::builder()
        .config(|c| {
            c.limits.signins_per_ip = 3;
            c.limits.verify_per_key = 1000;
        })
        .spawn()
        .await;
    crate::rate_limits::start_of_window(&app, 300);
    let as_user = |ip: &str| json!({"username": "nobody", "password": "x1", "client_ip": ip});
    for _ in 0..3 {
        assert_eq!(verify(&app, as_user("203.0.113.5")).await.0, 200);
    }
    let res = app
        .client
        .post(app.url("/api/v1/credentials/verify"))
        .bearer_auth(API_KEY)
        .json(&as_user("203.0.113.5"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "the fourth check of one person");
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        verify(&app, as_user("203.0.113.6")).await.0,
        200,
        "another person still gets through the same key"
    );
    let (status, body) = verify(&app, as_user("not-an-address")).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "bad_request");
}
