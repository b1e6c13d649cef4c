//! No enumeration by answer or by work: a known and an unknown username get the same status, the
//! same body, the same number of SQL statements, and the bot makes the same outbound calls.

use serde_json::{Value, json};

use crate::harness::{API_KEY, TestApp, card_action, sql::statements_of, without_csrf};

const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

#[tokio::test]
async fn forgot_does_the_same_work_for_known_and_unknown_usernames() {
    let app = TestApp::builder()
        .config(|c| c.limits.requests_per_account = 1)
        .spawn()
        .await;
    crate::rate_limits::start_of_window(&app, 900);
    let mut seen = Vec::new();
    // Known (a mail goes out), unknown, and known again past its silent per-account limit.
    for name in ["gagm", "nobody", "gagm"] {
        let res = app.request_link("reset", name).await;
        let status = res.status().as_u16();
        let body = without_csrf(&res.text().await.unwrap());
        let statements = statements_of("POST", "/forgot", 1).await[0];
        seen.push((name, status, body, statements));
    }
    assert_eq!(
        app.smtp.wait_for(1, WAIT).await.len(),
        1,
        "the known one got its mail"
    );
    let (_, status, body, statements) = &seen[0];
    assert_eq!(*status, 200);
    assert!(*statements > 0, "statements were counted");
    for (name, s, b, n) in &seen[1..] {
        assert_eq!((s, b), (status, body), "same answer for {name}");
        assert_eq!(n, statements, "same number of SQL statements for {name}");
    }
}

#[tokio::test]
async fn a_wrong_password_costs_the_same_statements_for_known_and_unknown_usernames() {
    let app = TestApp::spawn().await;
    let mut counts = Vec::new();
    for name in ["gagm", "nobody"] {
        let res = app
            .client
            .post(app.url("/api/v1/credentials/verify"))
            .bearer_auth(API_KEY)
            .json(&json!({"username": name, "password": "wrong1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"result": "invalid"})
        );
        counts.push(statements_of("POST", "/api/v1/credentials/verify", 1).await[0]);
    }
    assert_eq!(counts[0], counts[1], "gagm vs nobody");
}

fn submit(app: &TestApp, username: &str) -> Value {
    card_action(
        &app.connector.service_url,
        "submit",
        json!({"purpose": "reset", "username": username}),
    )
}

/// What the connector and the token endpoint saw.
fn outbound(app: &TestApp) -> (usize, usize, usize) {
    (
        app.connector.member_lookups(),
        app.connector.posted().len(),
        app.entra.token_hits(),
    )
}

#[tokio::test]
async fn action_execute_makes_the_same_outbound_calls_for_known_and_unknown_usernames() {
    let app = TestApp::spawn().await;
    // Someone else's account, bound to their own object id and with a UPN.
    app.import(
        "username,email,display_name,entra_object_id,upn,locale\n\
         roym,marc.roy@cegepsi.ca,Marc Roy,22222222-2222-2222-2222-222222222222,marc.roy@cegepsi.ca,\n",
    )
    .await;
    // The app token is fetched once and cached: warm it up first.
    assert_eq!(app.bot(&submit(&app, "warmup")).await.status(), 200);
    let mut answers = Vec::new();
    let mut calls = Vec::new();
    for name in ["roym", "nobody"] {
        let before = outbound(&app);
        let res = app.bot(&submit(&app, name)).await;
        assert_eq!(res.status(), 200);
        answers.push(res.json::<Value>().await.unwrap());
        let after = outbound(&app);
        calls.push((after.0 - before.0, after.1 - before.1, after.2 - before.2));
    }
    assert_eq!(answers[0], answers[1], "the same card");
    assert_eq!(
        calls[0], calls[1],
        "(member look-ups, posts, token fetches)"
    );
    assert_eq!(
        app.smtp.wait_for(1, WAIT).await[0].to,
        vec!["<marc.roy@cegepsi.ca>".to_string()]
    );
}
