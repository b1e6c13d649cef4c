//! Rate limits: visible per client address, silent per account (or the answer would tell which
//! usernames exist).

use std::time::Duration;

use crate::harness::{TestApp, without_csrf};

#[tokio::test]
async fn too_many_requests_from_one_address_get_429_with_retry_after() {
    let app = TestApp::builder()
        .config(|c| c.limits.requests_per_ip = 3)
        .spawn()
        .await;
    for name in ["a1", "a2", "a3"] {
        assert_eq!(app.request_link("reset", name).await.status(), 200);
    }
    let res = app.request_link("reset", "a4").await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("data-error=\"rate_limited\"")
    );
    assert!(
        app.audit_events()
            .await
            .contains(&"request_rate_limited".to_string())
    );

    app.advance(Duration::from_secs(901));
    assert_eq!(
        app.request_link("reset", "a5").await.status(),
        200,
        "the window passes"
    );
}

#[tokio::test]
async fn the_per_account_limit_is_silent_and_sends_no_more_mail() {
    let app = TestApp::builder()
        .config(|c| c.limits.requests_per_account = 2)
        .spawn()
        .await;
    let first = app
        .request_link("reset", "trej")
        .await
        .text()
        .await
        .unwrap();
    app.request_link("reset", "trej").await;
    let third = app.request_link("reset", "trej").await;
    assert_eq!(third.status(), 200);
    assert_eq!(
        without_csrf(&third.text().await.unwrap()),
        without_csrf(&first)
    );
    app.smtp.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.smtp.received().len(), 2);
    assert!(
        app.audit_events()
            .await
            .contains(&"link_rate_limited".to_string())
    );
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address() {
    let app = TestApp::builder()
        .config(|c| c.limits.signins_per_ip = 2)
        .spawn()
        .await;
    assert_eq!(app.sign_in("x", "y1", "nothing").await.status(), 401);
    assert_eq!(app.sign_in("x", "y1", "nothing").await.status(), 401);
    assert_eq!(app.sign_in("x", "y1", "nothing").await.status(), 429);
}
