//! Whose account a Teams identity reaches: the account its Entra object id is bound to. Names
//! count only where the organisation turns the fallback on, only the UPN, only for a member of
//! its own tenant, and the first match binds the object id for good.

use serde_json::{Value, json};

use crate::harness::{TENANT, TestApp, entra::ENTRA_KEYS};

/// Someone in Teams whose object id is bound to no account.
const NEWCOMER_OID: &str = "44444444-4444-4444-4444-444444444444";
const OTHER_OID: &str = "55555555-5555-5555-5555-555555555555";
const OTHER_TENANT: &str = "66666666-6666-6666-6666-666666666666";

/// Marc Gagnon's account (gagm) has no object id and no UPN recorded: its address is what a
/// UPN would match.
const MARC: &str = "marc.gagnon@cegepsi.ca";

fn with_fallback(on: bool) -> crate::harness::Builder {
    TestApp::builder().config(move |c| c.organisations[0].teams_name_fallback = on)
}

/// « nom d'utilisateur oublié » in the personal chat from `oid`, whom the connector describes as
/// `member`: the account card posted back.
async fn reminder_for(app: &TestApp, user: &str, oid: &str, member: Value) -> String {
    app.connector.add_member(user, member);
    let mut a = app.personal("nom d'utilisateur oublié");
    a["from"] = json!({"id": user, "name": "Marc Gagnon", "aadObjectId": oid});
    let before = app.connector.posted().len();
    assert_eq!(app.bot(&a).await.status(), 200);
    let posted = app.connector.wait_for(before + 1).await;
    posted[before].text()
}

fn member(upn: &str, email: &str, tenant: &str, role: &str) -> Value {
    json!({"id": "29:x", "objectId": NEWCOMER_OID, "userPrincipalName": upn, "email": email,
           "tenantId": tenant, "userRole": role})
}

async fn bound_object_id(app: &TestApp, username: &str) -> Option<String> {
    let mut conn = app.store.conn().await.unwrap();
    octopus_teams::store::accounts::by_username(
        &mut conn,
        &app.org.tenant_id,
        &octopus_teams::model::Username::parse(username).unwrap(),
    )
    .await
    .unwrap()
    .unwrap()
    .entra_object_id
}

fn unlinked(card: &str) -> bool {
    card.contains("Compte non trouvé") && !card.contains("gagm")
}

#[tokio::test]
async fn without_the_fallback_a_matching_email_reaches_nothing() {
    let app = with_fallback(false).spawn().await;
    // Anyone whose Exchange `mail` is set to Marc's address, even with his UPN.
    let card = reminder_for(
        &app,
        "29:mallory",
        NEWCOMER_OID,
        member(MARC, MARC, TENANT, "user"),
    )
    .await;
    assert!(unlinked(&card), "{card}");
    assert_eq!(bound_object_id(&app, "gagm").await, None);
    assert_eq!(
        app.connector.member_lookups(),
        0,
        "no name is even looked up"
    );
}

#[tokio::test]
async fn with_the_fallback_the_upn_of_a_member_binds_once_and_for_good() {
    let app = with_fallback(true).spawn().await;
    // The email alone never matches, whatever the fallback says.
    let other_upn = member("someone.else@cegepsi.ca", MARC, TENANT, "user");
    let card = reminder_for(&app, "29:mallory", OTHER_OID, other_upn).await;
    assert!(unlinked(&card), "email is never a match: {card}");
    // An account with a UPN recorded is matched by that UPN only, not by its address.
    app.import(
        "username,email,display_name,entra_object_id,upn,locale\n\
         roym,marc.roy@cegepsi.ca,Marc Roy,,m.roy@cegepsi.ca,\n",
    )
    .await;
    let by_address = member("marc.roy@cegepsi.ca", "", TENANT, "user");
    let card = reminder_for(&app, "29:roy", OTHER_OID, by_address).await;
    assert!(unlinked(&card) && !card.contains("roym"), "{card}");

    let card = reminder_for(
        &app,
        "29:marc",
        NEWCOMER_OID,
        member("Marc.Gagnon@cegepsi.ca", "", TENANT, "user"),
    )
    .await;
    assert!(card.contains("gagm"), "{card}");
    assert_eq!(
        bound_object_id(&app, "gagm").await.as_deref(),
        Some(NEWCOMER_OID)
    );
    assert_eq!(
        crate::unlock::audited(&app, "identity_bound").await,
        vec![(
            Some(format!("teams:{TENANT}:{NEWCOMER_OID}")),
            Some("upn".into())
        )]
    );

    // A new import of the directory without object ids keeps the binding.
    app.import(crate::harness::ACCOUNTS_CSV).await;
    assert_eq!(
        bound_object_id(&app, "gagm").await.as_deref(),
        Some(NEWCOMER_OID)
    );
    // Later, the same UPN on another identity is not Marc: the object id decides now.
    let card = reminder_for(
        &app,
        "29:reassigned",
        OTHER_OID,
        member(MARC, MARC, TENANT, "user"),
    )
    .await;
    assert!(unlinked(&card), "{card}");
    // And Marc himself is found by his object id, without a look-up.
    let lookups = app.connector.member_lookups();
    let card = reminder_for(&app, "29:marc", NEWCOMER_OID, json!({})).await;
    assert!(card.contains("gagm"), "{card}");
    assert_eq!(app.connector.member_lookups(), lookups);
    assert_eq!(
        crate::unlock::audited(&app, "identity_bound").await.len(),
        1
    );
}

#[tokio::test]
async fn guests_and_external_members_are_never_matched_by_name() {
    let app = with_fallback(true).spawn().await;
    for (why, m) in [
        ("a guest", member(MARC, MARC, TENANT, "guest")),
        (
            "another home tenant",
            member(MARC, MARC, OTHER_TENANT, "user"),
        ),
        ("no home tenant said", json!({"userPrincipalName": MARC})),
    ] {
        let card = reminder_for(&app, "29:guest", NEWCOMER_OID, m).await;
        assert!(unlinked(&card), "{why}: {card}");
    }
    let mut a = app.personal("nom d'utilisateur oublié");
    a["from"] = json!({"id": "29:noid", "name": "Sans objet"});
    app.connector
        .add_member("29:noid", member(MARC, MARC, TENANT, "user"));
    let before = app.connector.posted().len();
    app.bot(&a).await;
    let card = app.connector.wait_for(before + 1).await[before].text();
    assert!(unlinked(&card), "no object id to bind: {card}");
    assert_eq!(bound_object_id(&app, "gagm").await, None);
}

/// `GET /api/tab/me` with a token of `claims` edits over a member's token for NEWCOMER_OID.
async fn tab_me(app: &TestApp, edit: impl FnOnce(&mut Value)) -> (u16, Value) {
    let mut claims = crate::harness::entra::SsoToken::of(NEWCOMER_OID, MARC).claims(&app.entra);
    edit(&mut claims);
    crate::tab::me(app, &app.entra.sign(&ENTRA_KEYS[0], &claims)).await
}

#[tokio::test]
async fn the_tab_matches_the_upn_claim_only_and_never_a_guest() {
    let app = with_fallback(true).spawn().await;
    // preferred_username (mutable) alone: nothing.
    assert_eq!(tab_me(&app, |_| {}).await.0, 404);
    // A guest carrying the upn claim: nothing.
    let (status, _) = tab_me(&app, |c| {
        c["upn"] = json!(MARC);
        c["acct"] = json!(1);
    })
    .await;
    assert_eq!(status, 404);
    let (status, _) = tab_me(&app, |c| {
        c["upn"] = json!(MARC);
        c["idp"] = json!(format!("https://sts.windows.net/{OTHER_TENANT}/"));
    })
    .await;
    assert_eq!(status, 404);
    assert_eq!(bound_object_id(&app, "gagm").await, None);
    // A member with the upn claim: found, and bound.
    let (status, body) = tab_me(&app, |c| c["upn"] = json!(MARC)).await;
    assert_eq!((status, body["username"].as_str()), (200, Some("gagm")));
    assert_eq!(
        bound_object_id(&app, "gagm").await.as_deref(),
        Some(NEWCOMER_OID)
    );
}

#[tokio::test]
async fn an_address_shared_by_two_accounts_names_nobody() {
    let app = with_fallback(true).spawn().await;
    app.import(
        "username,email,display_name,entra_object_id,upn,locale\n\
         gagm2,marc.gagnon@cegepsi.ca,Marc Gagnon (2),,,\n",
    )
    .await;
    let m = member(MARC, "", TENANT, "user");
    let card = reminder_for(&app, "29:marc", NEWCOMER_OID, m).await;
    assert!(unlinked(&card) && !card.contains("gagm2"), "{card}");
    assert_eq!(bound_object_id(&app, "gagm").await, None);
    assert_eq!(bound_object_id(&app, "gagm2").await, None);
}
