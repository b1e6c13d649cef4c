//! Every state-changing route refuses a request without its proof of origin — the form's CSRF
//! value, the tab's header, the API key, the channel token — and changes nothing: no mail
//! queued, the link still usable, the session still signed in, the lock still in place.
//!
//! The routes come from the router's own source (every `.route(…)` with a `post(…)` under
//! `src/`), so a new POST route without a row here fails the test.

use std::{collections::BTreeSet, path::Path, time::Duration};

use serde_json::json;

use crate::{
    harness::{TestApp, csrf_of},
    unlock::{PASSWORD, enrolled_and_locked, verify},
};

/// How the request tries its luck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Forgery {
    /// The proof is left out.
    Missing,
    /// A value of the attacker's making.
    Forged,
}

const FORGERIES: [Forgery; 2] = [Forgery::Missing, Forgery::Forged];

/// The path of every route that takes POST, read from the routers' source.
fn post_routes() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.extend(routes_in(&std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    found
}

/// `.route("/path", …post(…)…)` calls of one file: the path of those whose method router
/// includes POST.
fn routes_in(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        let call = &rest[at + ".route(".len()..];
        // The call's arguments: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let end = call
            .char_indices()
            .find_map(|(i, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(i)
            })
            .unwrap_or(call.len());
        let args = &call[..end];
        if args.contains("post(")
            && let Some(path) = args.split('"').nth(1)
        {
            out.push(path.to_string());
        }
        rest = &call[end..];
    }
    out
}

#[test]
fn the_route_reader_finds_post_routes_written_across_lines() {
    let source = r#"Router::new()
        .route("/a", get(x))
        .route(
            "/b",
            get(show).post(submit),
        )
        .route("/c/{t}", post(f(g)))"#;
    assert_eq!(routes_in(source), vec!["/b", "/c/{t}"]);
}

/// A form post to `action` with the browser's CSRF cookie and `fields`, the CSRF field left out
/// or forged.
async fn form(app: &TestApp, action: &str, forgery: Forgery, fields: &[(&str, &str)]) -> u16 {
    let (_, html) = app.get("/login?org=demo").await;
    let real = csrf_of(&html);
    // The real value with its last character changed: as close to it as a forgery gets.
    let last = if real.ends_with('A') { "B" } else { "A" };
    let forged = format!("{}{last}", &real[..real.len() - 1]);
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    if forgery == Forgery::Forged {
        form.push(("csrf", forged.as_str()));
    }
    app.client
        .post(app.url(action))
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// What the outbox holds: nothing new may be queued by a refused request.
async fn queued(app: &TestApp) -> usize {
    app.mails_queued().await.len()
}

/// The row of `route`: sends the request without its proof, checks the refusal and that
/// nothing changed.
async fn refused_and_unchanged(route: &str, forgery: Forgery) {
    let app = TestApp::spawn().await;
    let why = format!("POST {route} ({forgery:?})");
    match route {
        "/forgot" | "/enroll" => {
            let fields = [("org", "demo"), ("username", "trej")];
            assert_eq!(form(&app, route, forgery, &fields).await, 403, "{why}");
            assert_eq!(queued(&app).await, 0, "{why}: nothing queued");
        }
        "/forgot-username" => {
            let fields = [("org", "demo"), ("email", "julie.tremblay@cegepsi.ca")];
            assert_eq!(form(&app, route, forgery, &fields).await, 403, "{why}");
            assert_eq!(queued(&app).await, 0, "{why}: nothing queued");
        }
        "/login" => {
            let link = app.reset_link(&app.link_mail("enroll", "trej", 1).await);
            assert_eq!(
                app.set_password(&link, PASSWORD, PASSWORD).await.status(),
                303
            );
            let fields = [
                ("org", "demo"),
                ("username", "trej"),
                ("password", PASSWORD),
            ];
            assert_eq!(form(&app, route, forgery, &fields).await, 403, "{why}");
            let (status, _) = app.get("/account?org=demo").await;
            assert_ne!(status, 200, "{why}: not signed in");
        }
        "/logout" => {
            let link = app.reset_link(&app.link_mail("enroll", "trej", 1).await);
            assert_eq!(
                app.set_password(&link, PASSWORD, PASSWORD).await.status(),
                303
            );
            assert_eq!(app.sign_in("trej", PASSWORD, "").await.status(), 303);
            assert_eq!(app.get("/account?org=demo").await.0, 200);
            assert_eq!(
                form(&app, route, forgery, &[("org", "demo")]).await,
                403,
                "{why}"
            );
            assert_eq!(
                app.get("/account?org=demo").await.0,
                200,
                "{why}: still signed in"
            );
        }
        "/reset/{token}" | "/reset/{token}/cancel" => {
            let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);
            let path = app.path_of(&link);
            let action = route.replace("/reset/{token}", &path);
            let fields = [("password", "ete2026"), ("confirmation", "ete2026")];
            assert_eq!(form(&app, &action, forgery, &fields).await, 403, "{why}");
            let (status, page) = app.get(&path).await;
            assert_eq!(status, 200, "{why}: the link still works");
            assert!(page.contains("name=\"password\""), "{why}: {page}");
            assert_eq!(
                app.set_password(&link, "ete2026", "ete2026").await.status(),
                303
            );
        }
        "/api/v1/credentials/verify" => {
            let body = json!({"username": "trej", "password": "wrong1"});
            let mut req = app.client.post(app.url(route)).json(&body);
            if forgery == Forgery::Forged {
                req = req.bearer_auth("forged-api-key-0123456789abcdef-XXXXXXX");
            }
            assert_eq!(req.send().await.unwrap().status(), 401, "{why}");
            let audited = app.audit_events().await;
            assert!(
                !audited.iter().any(|e| e.starts_with("signin")),
                "{why}: no check counted: {audited:?}"
            );
        }
        "/api/tab/request" => {
            let mut req = app
                .client
                .post(app.url(route))
                .json(&json!({"purpose": "reset", "username": "trej", "org": "demo"}));
            if forgery == Forgery::Forged {
                req = req.header("x-octopus-tab", "0");
            }
            assert_eq!(req.send().await.unwrap().status(), 403, "{why}");
            assert_eq!(queued(&app).await, 0, "{why}: nothing queued");
        }
        "/api/tab/desk-request" => {
            let mut req = app
                .client
                .post(app.url(route))
                .bearer_auth("not-a-token")
                .json(&json!({"reason": "unlinked"}));
            if forgery == Forgery::Forged {
                req = req.header("x-octopus-tab", "0");
            }
            assert_eq!(req.send().await.unwrap().status(), 403, "{why}");
            assert_eq!(queued(&app).await, 0, "{why}: nothing queued");
            assert!(
                !app.audit_events()
                    .await
                    .iter()
                    .any(|e| e == "desk_request_sent"),
                "{why}"
            );
        }
        "/api/tab/unlock" => {
            enrolled_and_locked(&app).await;
            let mut req = app
                .client
                .post(app.url(route))
                .bearer_auth("not-a-token")
                .json(&json!({}));
            if forgery == Forgery::Forged {
                req = req.header("x-octopus-tab", "yes");
            }
            assert_eq!(req.send().await.unwrap().status(), 403, "{why}");
            assert_eq!(
                verify(&app, "trej", PASSWORD).await,
                json!({"result": "locked"}),
                "{why}: still locked"
            );
        }
        "/api/messages" => {
            let a = app.personal("mot de passe oublié");
            let auth = match forgery {
                Forgery::Missing => None,
                Forgery::Forged => Some("Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"),
            };
            assert_eq!(app.bot_with(&a, auth).await.status(), 401, "{why}");
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert!(app.connector.posted().is_empty(), "{why}: no answer posted");
        }
        "/scim/v2/Users" | "/scim/v2/Users/.search" | "/scim/v2/.search" => {
            let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "mallory@cegepsi.ca", "active": true, "displayName": "Mallory",
                "emails": [{"type": "work", "value": "mallory@cegepsi.ca"}]});
            let mut req = app.client.post(app.url(route)).json(&body);
            if forgery == Forgery::Forged {
                req = req.bearer_auth(format!("octscim_{}", "A".repeat(43)));
            }
            assert_eq!(req.send().await.unwrap().status(), 401, "{why}");
            let mut conn = app.store.conn().await.unwrap();
            let all = octopus_teams::store::directory::all(&mut conn, &app.org.tenant_id)
                .await
                .unwrap();
            assert_eq!(all.len(), 2, "{why}: no account created");
        }
        other => panic!(
            "POST {other} has no row in tests/it/forged_requests.rs: add one that sends it \
             without its proof of origin and checks that nothing changed"
        ),
    }
}

#[tokio::test]
async fn every_state_changing_route_refuses_a_request_without_its_proof_and_changes_nothing() {
    let routes = post_routes();
    for expected in ["/forgot", "/logout", "/api/messages", "/api/tab/unlock"] {
        assert!(routes.contains(expected), "{expected} in {routes:?}");
    }
    for route in &routes {
        for forgery in FORGERIES {
            refused_and_unchanged(route, forgery).await;
        }
    }
}
