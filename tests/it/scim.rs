//! SCIM provisioning as Entra ID drives it, through the real server: the request sequence of
//! Microsoft's "develop and plan provisioning for a SCIM endpoint" (capitalised ops, string
//! booleans, `emails[type eq "work"].value`), what a disabled account can still do (nothing),
//! paging, the errors, the tokens and their organisations.

use std::time::Duration;

use octopus_teams::clock::Clock;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{TENANT, TestApp};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const WAIT: Duration = Duration::from_secs(10);

/// Léa Côté's Entra object id, mapped to `externalId`.
const LEA_OID: &str = "7c1e5b2a-94d3-4f60-8a1b-2c3d4e5f6a7b";

/// A provisioning token of the organisation, as `scim token` makes it.
pub async fn token_of(app: &TestApp, org: &octopus_teams::org::Organisation) -> String {
    octopus_teams::scim::token::issue(&app.store, org, None, app.clock.unix())
        .await
        .expect("a token")
        .expose()
        .to_string()
}

/// A SCIM request with `token`: the status, the content type and the body (JSON, or null).
pub async fn scim(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, String, Value) {
    let mut req = app
        .client
        .request(method, app.url(&format!("/scim/v2{path}")));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    let res = req.send().await.expect("SCIM request");
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = res.text().await.unwrap_or_default();
    (
        status,
        kind,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn filter(expr: &str) -> String {
    format!(
        "/Users?filter={}",
        url::form_urlencoded::byte_serialize(expr.as_bytes()).collect::<String>()
    )
}

/// Léa Côté as Entra's "Create User" sends her (default mappings, objectId → externalId).
fn lea() -> Value {
    json!({
        "schemas": [CORE, ENTERPRISE],
        "externalId": LEA_OID,
        "userName": "Lea.Cote@cegepsi.ca",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Lea.Cote@cegepsi.ca"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Léa Côté", "familyName": "Côté", "givenName": "Léa"},
        "displayName": "Léa Côté",
        "title": "Technicienne en loisirs",
        "preferredLanguage": "fr-CA",
        ENTERPRISE: {"employeeNumber": "40912", "department": "Loisirs"},
        "roles": []
    })
}

fn replace(path: &str, value: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": path, "value": value}]})
}

/// « nom d'utilisateur oublié » from Léa's Teams identity: the card the bot posts back.
async fn teams_reminder(app: &TestApp) -> String {
    let mut a = app.personal("nom d'utilisateur oublié");
    a["from"] = json!({"id": "29:lea", "name": "Léa Côté", "aadObjectId": LEA_OID});
    let before = app.connector.posted().len();
    assert_eq!(app.bot(&a).await.status(), 200);
    app.connector.wait_for(before + 1).await[before].text()
}

#[tokio::test]
async fn the_entra_provisioning_cycle_creates_finds_updates_disables_and_deletes() {
    let app = TestApp::spawn().await;
    let token = token_of(&app, &app.org).await;
    let t = Some(token.as_str());

    // "Test Connection": a user that cannot exist.
    let (status, kind, list) = scim(
        &app,
        t,
        Method::GET,
        &filter(&format!("userName eq \"{}\"", uuid::Uuid::new_v4())),
        None,
    )
    .await;
    assert_eq!((status, kind.as_str()), (200, "application/scim+json"));
    assert_eq!(list["totalResults"], 0);
    assert_eq!(list["Resources"], json!([]));
    assert_eq!(
        list["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(list["startIndex"], 1);

    // Create User.
    let res = app
        .client
        .post(app.url("/scim/v2/Users"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/scim+json")
        .body(lea().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(location, app.url(&format!("/scim/v2/Users/{id}")));
    assert_eq!(created["meta"]["location"], location);
    assert_eq!(created["meta"]["resourceType"], "User");
    assert_eq!(created["externalId"], LEA_OID);
    assert_eq!(created["userName"], "lea.cote@cegepsi.ca");
    assert_eq!(created["active"], true);
    assert_eq!(created["displayName"], "Léa Côté");
    assert_eq!(created["emails"][0]["value"], "lea.cote@cegepsi.ca");
    assert_eq!(created["preferredLanguage"], "fr-CA");

    // Get User; Get User by query (userName without case, externalId, both).
    let (status, _, got) = scim(&app, t, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!((status, &got), (200, &created));
    for q in [
        "userName eq \"LEA.COTE@cegepsi.ca\"".to_string(),
        format!("externalId eq \"{LEA_OID}\""),
        format!("externalId eq \"{LEA_OID}\" and userName eq \"lea.cote@cegepsi.ca\""),
    ] {
        let (status, _, list) = scim(&app, t, Method::GET, &filter(&q), None).await;
        assert_eq!(status, 200, "{q}");
        assert_eq!(list["totalResults"], 1, "{q}: {list}");
        assert_eq!(list["Resources"][0]["id"], id.as_str());
    }
    let (_, _, none) = scim(
        &app,
        t,
        Method::GET,
        &filter(&format!(
            "externalId eq \"{LEA_OID}\" and userName eq \"someone@cegepsi.ca\""
        )),
        None,
    )
    .await;
    assert_eq!(none["totalResults"], 0);

    // The account works: a link for « lea.cote », mailed to her address.
    let mail = app.link_mail("reset", "lea.cote", 1).await;
    assert_eq!(mail.to, ["<lea.cote@cegepsi.ca>"]);

    // Update User [Multi-valued properties], as Entra writes it.
    let multi = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "lea.cote-gagne@cegepsi.ca"},
        {"op": "Replace", "path": "name.familyName", "value": "Côté-Gagné"},
        {"op": "Add", "path": "displayName", "value": "Léa Côté-Gagné"},
        {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "40913"},
    ]});
    let (status, _, patched) = scim(
        &app,
        t,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(&multi),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["emails"][0]["value"], "lea.cote-gagne@cegepsi.ca");
    assert_eq!(patched["displayName"], "Léa Côté-Gagné");
    // A new address: the link mailed to the old one stops working.
    let old_link = app.reset_link(&mail);
    assert_eq!(
        app.get(&app.path_of(&old_link)).await.0,
        410,
        "the old address's link no longer works"
    );

    // Update User [Single-valued properties]: a new UPN, so a new username.
    let (status, _, renamed) = scim(
        &app,
        t,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(&replace("userName", json!("lea.gagne@cegepsi.ca"))),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["userName"], "lea.gagne@cegepsi.ca");

    // Disable User, Entra's way: the string "False".
    let (status, _, disabled) = scim(
        &app,
        t,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(&replace("active", json!("False"))),
    )
    .await;
    assert_eq!((status, &disabled["active"]), (200, &json!(false)));
    // Inactive users are still found by Entra's queries.
    let (_, _, found) = scim(
        &app,
        t,
        Method::GET,
        &filter("userName eq \"lea.gagne@cegepsi.ca\""),
        None,
    )
    .await;
    assert_eq!(found["Resources"][0]["active"], false);
    // Nothing for a disabled account: no link, no Teams answer but « Compte non trouvé ».
    let mails_before = app.smtp.received().len();
    assert_eq!(app.request_link("reset", "lea.gagne").await.status(), 200);
    let card = teams_reminder(&app).await;
    assert!(card.contains("Compte non trouvé"), "{card}");
    assert!(!card.contains("lea.gagne"), "{card}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.smtp.received().len(), mails_before, "no mail at all");
    let rows = crate::unlock::audited(&app, "account_disabled").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0.as_deref(), Some("scim"));
    assert!(
        rows[0]
            .1
            .as_deref()
            .unwrap_or_default()
            .starts_with("inactive"),
        "{rows:?}"
    );

    // Back: "True".
    let (status, _, enabled) = scim(
        &app,
        t,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(&replace("active", json!("True"))),
    )
    .await;
    assert_eq!((status, &enabled["active"]), (200, &json!(true)));
    let mail = app.link_mail("reset", "lea.gagne", mails_before + 1).await;
    assert_eq!(mail.to, ["<lea.cote-gagne@cegepsi.ca>"]);
    assert_eq!(
        crate::unlock::audited(&app, "account_enabled").await.len(),
        1
    );

    // Delete User: 204, then 404; her history stays, she is disabled.
    let (status, _, _) = scim(&app, t, Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, kind, gone) = scim(&app, t, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!((status, kind.as_str()), (404, "application/scim+json"));
    assert_eq!(gone["schemas"], json!([ERROR]));
    assert_eq!(gone["status"], "404");
    let (_, _, none) = scim(
        &app,
        t,
        Method::GET,
        &filter("userName eq \"lea.gagne@cegepsi.ca\""),
        None,
    )
    .await;
    assert_eq!(none["totalResults"], 0);
    let mails_before = app.smtp.received().len();
    assert_eq!(app.request_link("reset", "lea.gagne").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.smtp.received().len(), mails_before);
    let (status, _, _) = scim(&app, t, Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, 404);

    // Created again later (same UPN): the same account comes back, enabled, with its history.
    let mut again = lea();
    again["userName"] = json!("lea.gagne@cegepsi.ca");
    let (status, _, back) = scim(&app, t, Method::POST, "/Users", Some(&again)).await;
    assert_eq!(status, 201, "{back}");
    assert_eq!(back["id"], id.as_str());
    assert_eq!(back["active"], true);
}

#[tokio::test]
async fn a_provisioned_user_is_recognised_in_teams_by_object_id_alone() {
    // No name fallback (the default): only the bound object id can reach the account.
    let app = TestApp::spawn().await;
    let token = token_of(&app, &app.org).await;
    let (status, _, _) = scim(&app, Some(&token), Method::POST, "/Users", Some(&lea())).await;
    assert_eq!(status, 201);

    let card = teams_reminder(&app).await;
    assert!(card.contains("lea.cote"), "the account is hers: {card}");

    // « mot de passe oublié » → the form → submitted → the mail.
    let mut ask = app.personal("mot de passe oublié");
    ask["from"] = json!({"id": "29:lea", "name": "Léa Côté", "aadObjectId": LEA_OID});
    let before = app.connector.posted().len();
    assert_eq!(app.bot(&ask).await.status(), 200);
    app.connector.wait_for(before + 1).await;
    let mut submit = crate::harness::card_action(
        &app.connector.service_url,
        "submit",
        json!({"purpose": "reset", "username": "lea.cote"}),
    );
    submit["from"] = json!({"id": "29:lea", "name": "Léa Côté", "aadObjectId": LEA_OID});
    let res = app.bot(&submit).await;
    assert_eq!(res.status(), 200);
    let mails = app.smtp.wait_for(1, WAIT).await;
    assert_eq!(mails[0].to, ["<lea.cote@cegepsi.ca>"]);
}

#[tokio::test]
async fn entra_pages_through_every_user() {
    let app = TestApp::spawn().await;
    let token = token_of(&app, &app.org).await;
    let t = Some(token.as_str());
    for n in 0..260 {
        let user = json!({
            "schemas": [CORE],
            "externalId": uuid::Uuid::new_v4().to_string(),
            "userName": format!("agent{n:03}@cegepsi.ca"),
            "active": true,
            "emails": [{"type": "work", "value": format!("agent{n:03}@cegepsi.ca")}],
            "displayName": format!("Agent {n}"),
        });
        let (status, _, body) = scim(&app, t, Method::POST, "/Users", Some(&user)).await;
        assert_eq!(status, 201, "{body}");
    }
    let mut seen = std::collections::HashSet::new();
    // The two accounts of the usual import are in the directory too.
    let total = 262;
    for (start, expected) in [(1, 100), (101, 100), (201, 62), (263, 0)] {
        let (status, _, page) = scim(
            &app,
            t,
            Method::GET,
            &format!("/Users?startIndex={start}&count=100"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(page["totalResults"], total);
        assert_eq!(page["startIndex"], start);
        assert_eq!(page["itemsPerPage"], expected, "page at {start}");
        for r in page["Resources"].as_array().unwrap() {
            assert!(seen.insert(r["id"].as_str().unwrap().to_string()));
        }
    }
    assert_eq!(seen.len(), total);
    // More than the most one answer holds is lowered; count=0 says how many only.
    let (_, _, big) = scim(&app, t, Method::GET, "/Users?count=1000", None).await;
    assert_eq!(big["itemsPerPage"], 200);
    let (_, _, zero) = scim(&app, t, Method::GET, "/Users?count=0", None).await;
    assert_eq!(
        (&zero["totalResults"], &zero["itemsPerPage"]),
        (&json!(total), &json!(0))
    );
    // POST /Users/.search answers the same query.
    let (status, _, searched) = scim(
        &app,
        t,
        Method::POST,
        "/Users/.search",
        Some(
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                     "filter": "userName eq \"agent007@cegepsi.ca\"", "attributes": ["userName"]}),
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(searched["totalResults"], 1);
    let only = &searched["Resources"][0];
    assert_eq!(only["userName"], "agent007@cegepsi.ca");
    assert!(
        only.get("emails").is_none() && only.get("id").is_some(),
        "{only}"
    );
}

#[tokio::test]
async fn what_is_wrong_gets_the_scim_error_that_names_it() {
    let app = TestApp::spawn().await;
    let token = token_of(&app, &app.org).await;
    let t = Some(token.as_str());
    let (_, _, created) = scim(&app, t, Method::POST, "/Users", Some(&lea())).await;
    let id = created["id"].as_str().unwrap().to_string();

    let raw = |body: &'static str| {
        let req = app
            .client
            .post(app.url("/scim/v2/Users"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/scim+json")
            .body(body);
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = raw("{\"userName\": ").await;
    assert_eq!((status, &body["scimType"]), (400, &json!("invalidSyntax")));
    assert_eq!(body["status"], "400");
    assert_eq!(body["schemas"], json!([ERROR]));

    let mut unknown = lea();
    unknown["userName"] = json!("someone@cegepsi.ca");
    unknown["favouriteColour"] = json!("bleu");
    let (status, _, body) = scim(&app, t, Method::POST, "/Users", Some(&unknown)).await;
    assert_eq!((status, &body["scimType"]), (400, &json!("invalidPath")));
    assert!(body["detail"].as_str().unwrap().contains("favouriteColour"));

    let mut no_mail = lea();
    no_mail["userName"] = json!("someone@cegepsi.ca");
    no_mail["emails"] = json!([]);
    let (status, _, body) = scim(&app, t, Method::POST, "/Users", Some(&no_mail)).await;
    assert_eq!((status, &body["scimType"]), (400, &json!("invalidValue")));

    let (status, _, body) = scim(&app, t, Method::POST, "/Users", Some(&lea())).await;
    assert_eq!((status, &body["scimType"]), (409, &json!("uniqueness")));
    let mut same_oid = lea();
    same_oid["userName"] = json!("other@cegepsi.ca");
    let (status, _, body) = scim(&app, t, Method::POST, "/Users", Some(&same_oid)).await;
    assert_eq!((status, &body["scimType"]), (409, &json!("uniqueness")));

    for bad in [
        "userName co \"lea\"",
        "userName eq \"a\" or userName eq \"b\"",
        "title eq \"x\"",
        "userName eq lea",
    ] {
        let (status, kind, body) = scim(&app, t, Method::GET, &filter(bad), None).await;
        assert_eq!(
            (status, kind.as_str(), &body["scimType"]),
            (400, "application/scim+json", &json!("invalidFilter")),
            "{bad}"
        );
    }

    let path = format!("/Users/{id}");
    let wrong_op = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Copy", "path": "userName", "value": "x"}]});
    let (status, _, body) = scim(&app, t, Method::PATCH, &path, Some(&wrong_op)).await;
    assert_eq!((status, &body["scimType"]), (400, &json!("invalidSyntax")));
    let (status, _, body) = scim(
        &app,
        t,
        Method::PATCH,
        &path,
        Some(&replace("favouriteColour", json!("vert"))),
    )
    .await;
    assert_eq!((status, &body["scimType"]), (400, &json!("invalidPath")));
    let (status, _, body) = scim(
        &app,
        t,
        Method::PATCH,
        &path,
        Some(&replace("active", json!("peut-être"))),
    )
    .await;
    assert_eq!((status, &body["scimType"]), (400, &json!("invalidValue")));
    let remove_name =
        json!({"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "userName"}]});
    let (status, _, body) = scim(&app, t, Method::PATCH, &path, Some(&remove_name)).await;
    assert_eq!((status, &body["scimType"]), (400, &json!("mutability")));
    let (status, _, _) = scim(&app, t, Method::GET, "/Users/not-an-id", None).await;
    assert_eq!(status, 404);

    // Groups are not provisioned, and say so as SCIM.
    let (status, kind, body) = scim(&app, t, Method::GET, "/Groups", None).await;
    assert_eq!((status, kind.as_str()), (404, "application/scim+json"));
    assert!(body["detail"].as_str().unwrap().contains("Groups"));
    let (_, _, types) = scim(&app, t, Method::GET, "/ResourceTypes", None).await;
    assert_eq!(types["totalResults"], 1);
    assert_eq!(types["Resources"][0]["name"], "User");
    let (status, _, config) = scim(&app, t, Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(status, 200);
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["bulk"]["supported"], false);
    let (_, _, schemas) = scim(&app, t, Method::GET, "/Schemas", None).await;
    assert_eq!(schemas["Resources"][0]["id"], CORE);

    // No token, a wrong one, one that looks right: the same 401, nothing learned.
    let forged = format!("octscim_{}", "A".repeat(43));
    for presented in [None, Some("wrong"), Some(forged.as_str())] {
        let (status, kind, body) = scim(&app, presented, Method::GET, &path, None).await;
        assert_eq!((status, kind.as_str()), (401, "application/scim+json"));
        assert_eq!(body["status"], "401");
        assert!(!body.to_string().contains("lea"), "{body}");
    }
    let (status, _, _) = scim(&app, None, Method::GET, "/Schemas", None).await;
    assert_eq!(status, 401);

    // A body over the limit is refused before it is read.
    let huge = json!({"userName": "x".repeat(100_000)});
    let (status, _, _) = scim(&app, t, Method::POST, "/Users", Some(&huge)).await;
    assert_eq!(status, 413);
}

const TENANT_B: &str = "7b3d9e21-4c6a-4f8b-9d0e-1a2b3c4d5e6f";

#[tokio::test]
async fn one_organisations_token_never_reaches_anothers_users() {
    let app = TestApp::builder()
        .config(|c| {
            c.organisations.push(crate::harness::cisss(TENANT_B));
        })
        .spawn()
        .await;
    // What a token is issued for: the organisation's tenant.
    let mut org_b = app.org.clone();
    org_b.tenant_id = TENANT_B.into();
    org_b.slug = "cisss".into();
    let token_a = token_of(&app, &app.org).await;
    let token_b = token_of(&app, &org_b).await;
    let (_, _, created) = scim(&app, Some(&token_a), Method::POST, "/Users", Some(&lea())).await;
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    let b = Some(token_b.as_str());

    let (_, _, list) = scim(&app, b, Method::GET, "/Users", None).await;
    assert_eq!(list["totalResults"], 0, "{list}");
    let (_, _, by_name) = scim(
        &app,
        b,
        Method::GET,
        &filter("userName eq \"lea.cote@cegepsi.ca\""),
        None,
    )
    .await;
    assert_eq!(by_name["totalResults"], 0);
    assert_eq!(scim(&app, b, Method::GET, &path, None).await.0, 404);
    let off = replace("active", json!(false));
    assert_eq!(scim(&app, b, Method::PATCH, &path, Some(&off)).await.0, 404);
    assert_eq!(scim(&app, b, Method::PUT, &path, Some(&lea())).await.0, 404);
    assert_eq!(scim(&app, b, Method::DELETE, &path, None).await.0, 404);
    // B creating the same person makes B's own account, not A's.
    let (status, _, theirs) = scim(&app, b, Method::POST, "/Users", Some(&lea())).await;
    assert_eq!(status, 201);
    assert_ne!(theirs["id"], id.as_str());

    let (_, _, still) = scim(&app, Some(&token_a), Method::GET, &path, None).await;
    assert_eq!(still["active"], true);
    assert_eq!(still["userName"], "lea.cote@cegepsi.ca");
    assert_eq!(app.org.tenant_id, TENANT);
}

#[tokio::test]
async fn a_rotated_token_keeps_working_for_its_grace_period_only() {
    let app = TestApp::spawn().await;
    let first = token_of(&app, &app.org).await;
    let get = |t: String| {
        let app = &app;
        async move {
            scim(app, Some(&t), Method::GET, "/Users?count=1", None)
                .await
                .0
        }
    };
    assert_eq!(get(first.clone()).await, 200);
    // A second token without --rotate is refused: the first would be forgotten silently.
    let again =
        octopus_teams::scim::token::issue(&app.store, &app.org, None, app.clock.unix()).await;
    assert!(again.is_err());
    let second = octopus_teams::scim::token::issue(
        &app.store,
        &app.org,
        Some(Duration::from_secs(3600)),
        app.clock.unix(),
    )
    .await
    .unwrap()
    .expose()
    .to_string();
    assert_eq!(
        (get(first.clone()).await, get(second.clone()).await),
        (200, 200)
    );
    app.advance(Duration::from_secs(3601));
    assert_eq!(
        (get(first.clone()).await, get(second.clone()).await),
        (401, 200)
    );
    octopus_teams::scim::token::revoke(&app.store, &app.org, app.clock.unix())
        .await
        .unwrap();
    assert_eq!(get(second).await, 401);
}

async fn entry(app: &TestApp, username: &str) -> octopus_teams::store::directory::Entry {
    let mut conn = app.store.conn().await.unwrap();
    octopus_teams::store::directory::by_username(&mut conn, TENANT, username)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn accounts_imported_from_a_file_are_taken_over_not_duplicated() {
    // The Cégep imported its directory before turning provisioning on; usernames there are
    // what Entra's mailNickname holds, mapped onto userName.
    let app = TestApp::builder()
        .config(|c| {
            c.organisations[0].scim.username = octopus_teams::org::UsernameFrom::UserName;
        })
        .spawn()
        .await;
    let token = token_of(&app, &app.org).await;
    let t = Some(token.as_str());
    let oid = "9a8b7c6d-0000-4000-8000-000000000001";
    // Entra's first cycle: the query finds Marc's account, so Entra updates it.
    let (_, _, list) = scim(&app, t, Method::GET, &filter("userName eq \"gagm\""), None).await;
    assert_eq!(list["totalResults"], 1);
    let id = list["Resources"][0]["id"].as_str().unwrap().to_string();
    let (status, _, body) = scim(
        &app,
        t,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(&replace("externalId", json!(oid))),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let marc = entry(&app, "gagm").await;
    assert_eq!(marc.account.entra_object_id.as_deref(), Some(oid));
    assert_eq!(marc.external_id.as_deref(), Some(oid));

    // An account the query cannot find (userName is the UPN, the file had none) but whose
    // username the mapping gives: Entra creates, the account is taken over.
    let upn_app = TestApp::spawn().await;
    upn_app
        .import("username,email,display_name\nlea.cote,lea.cote@cegepsi.ca,Léa Côté\n")
        .await;
    let before = entry(&upn_app, "lea.cote").await;
    let token = token_of(&upn_app, &upn_app.org).await;
    let (status, _, created) =
        scim(&upn_app, Some(&token), Method::POST, "/Users", Some(&lea())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], before.account.id.0.as_str());
    let after = entry(&upn_app, "lea.cote").await;
    assert_eq!(after.account.entra_object_id.as_deref(), Some(LEA_OID));
    assert_eq!(after.account.upn.as_deref(), Some("lea.cote@cegepsi.ca"));
    // Taken over once: another provisioned user cannot take it again.
    let mut other = lea();
    other["userName"] = json!("lea.cote@autre.example");
    other["externalId"] = json!(uuid::Uuid::new_v4().to_string());
    let (status, _, body) =
        scim(&upn_app, Some(&token), Method::POST, "/Users", Some(&other)).await;
    assert_eq!((status, &body["scimType"]), (409, &json!("uniqueness")));
}

#[tokio::test]
async fn a_username_alone_never_takes_over_someone_elses_account() {
    let app = TestApp::spawn().await;
    app.import("username,email,display_name\nlea.cote,lea.cote@cegepsi.ca,Léa Côté\n")
        .await;
    let token = token_of(&app, &app.org).await;
    // Another Léa Côté, of another domain, comes first in Entra's cycle.
    let mut other = lea();
    other["userName"] = json!("lea.cote@autre.example");
    other["externalId"] = json!(uuid::Uuid::new_v4().to_string());
    other["emails"] = json!([{"type": "work", "value": "lea.cote@autre.example"}]);
    let (status, _, body) = scim(&app, Some(&token), Method::POST, "/Users", Some(&other)).await;
    assert_eq!((status, &body["scimType"]), (409, &json!("uniqueness")));
    let kept = entry(&app, "lea.cote").await;
    assert_eq!(kept.account.email.full(), "lea.cote@cegepsi.ca");
    assert_eq!(kept.account.entra_object_id, None);
    // The real one is recognised by her address and takes it over.
    let (status, _, _) = scim(&app, Some(&token), Method::POST, "/Users", Some(&lea())).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn what_entra_s_default_mappings_send_is_taken_and_what_it_leaves_out_stays() {
    let app = TestApp::spawn().await;
    let token = token_of(&app, &app.org).await;
    let t = Some(token.as_str());
    let (_, _, created) = scim(&app, t, Method::POST, "/Users", Some(&lea())).await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    // Attributes that are accepted and not kept, beside the one that matters.
    let ops = json!({"schemas": [PATCH_OP], "Operations": [
        {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "418-962-9848"},
        {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Sept-Îles"},
        {"op": "Replace", "path": "title", "value": "Coordonnatrice"},
        {"op": "Remove", "path": "phoneNumbers[type eq \"mobile\"].value"},
        {"op": "Replace", "path": "active", "value": "False"},
    ]});
    let (status, _, body) = scim(&app, t, Method::PATCH, &path, Some(&ops)).await;
    assert_eq!((status, &body["active"]), (200, &json!(false)), "{body}");
    // A PUT that leaves `active` out does not enable her.
    let mut put = lea();
    put.as_object_mut().unwrap().remove("active");
    let (status, _, body) = scim(&app, t, Method::PUT, &path, Some(&put)).await;
    assert_eq!((status, &body["active"]), (200, &json!(false)), "{body}");
    // Nor does a file that lists her: provisioning decides for the accounts it holds.
    app.import("username,email,display_name\nlea.cote,lea.cote@cegepsi.ca,Léa Côté\n")
        .await;
    let (_, _, body) = scim(&app, t, Method::GET, &path, None).await;
    assert_eq!(
        (&body["active"], &body["externalId"]),
        (&json!(false), &json!(LEA_OID))
    );
}

#[tokio::test]
async fn another_person_on_an_account_does_not_inherit_its_password() {
    let app = TestApp::spawn().await;
    let token = token_of(&app, &app.org).await;
    let t = Some(token.as_str());
    let (_, _, created) = scim(&app, t, Method::POST, "/Users", Some(&lea())).await;
    let path = format!("/Users/{}", created["id"].as_str().unwrap());
    let link = app.reset_link(&app.link_mail("enroll", "lea.cote", 1).await);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
    assert_eq!(app.sign_in("lea.cote", "abc123", "").await.status(), 303);
    // Entra now says the account is another person's (another object id).
    let other = uuid::Uuid::new_v4().to_string();
    let (status, _, _) = scim(
        &app,
        t,
        Method::PATCH,
        &path,
        Some(&replace("externalId", json!(other))),
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(
        app.sign_in("lea.cote", "abc123", "").await.status(),
        303,
        "the former owner's password no longer opens it"
    );
    let rows = crate::unlock::audited(&app, "identity_changed").await;
    assert_eq!(rows[0].0.as_deref(), Some("scim"));
}
