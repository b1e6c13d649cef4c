//! `octopus-teams campaign enroll`, run as the real binary against the local Bot Connector: one
//! card « M'inscrire au service » to each never-enrolled person found in Teams, never twice.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::harness::Activity;
use crate::harness::{BOT_ID, BOT_PASSWORD, JULIE_OID, TEAMEO, TENANT, TestApp, connector::Answer};

const PAUL_OID: &str = "22222222-2222-2222-2222-222222222222";
const MARTINE_OID: &str = "33333333-3333-3333-3333-333333333333";

/// Julie (trej) and Marc (gagm, enrolled below) of the harness, plus Paul (bound by object id,
/// English), Martine (no object id: matched by UPN, Portuguese) and Noémie (not in Teams).
const MORE: &str = "username,email,display_name,entra_object_id,upn,locale\n\
lavp,paul.laval@cegepsi.ca,Paul Laval,22222222-2222-2222-2222-222222222222,paul.laval@cegepsi.ca,en\n\
roym,martine.roy@cegepsi.ca,Martine Roy,,martine.roy@cegepsi.ca,pt\n\
nobn,noemie.nobert@cegepsi.ca,Noémie Nobert,,,\n";

/// The real binary (`harness::process::bin`) with a configuration file pointing at the test's
/// stand-ins.
/// Runs off the test's (single-threaded) runtime, which serves the stand-ins meanwhile.
async fn octopus(app: &TestApp, dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let config = write_config(app, dir);
    crate::harness::process::run_with_config(&config, args, "warn").await
}

/// The configuration file of `octopus`, in `dir`.
fn write_config(app: &TestApp, dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("octopus.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[database]
url = "{db}"
[security]
secret_key = "{key}"
[demo]
seed = false
[bot]
app_id = "{BOT_ID}"
app_password = "{BOT_PASSWORD}"
app_type = "single_tenant"
app_tenant_id = "{TENANT}"
token_authority = "{entra}"
openid_metadata_url = "{metadata}"
connector_retries = 3
[[organisations]]
tenant_id = "{TENANT}"
slug = "demo"
name = "Cégep de Sept-Îles"
portal_url = "https://cegepdeseptiles.octopus-itsm.com/Web/Login.aspx"
sender = "Soutien TI <supportTI@cegepsi.ca>"
time_zone = "America/Toronto"
default_locale = "fr-CA"
token_lifetime_minutes = 30
team_ids = ["{TEAMEO}"]
teams_name_fallback = true
"#,
            db = app.db.url,
            key = app.key.to_base64(),
            entra = app.entra.base,
            metadata = app.idp.metadata_url(),
        ),
    )
    .unwrap();
    config
}

/// The summary's figures (`name: n` lines).
fn figures(out: &str) -> BTreeMap<String, usize> {
    out.lines()
        .filter_map(|l| l.split_once(": "))
        .filter_map(|(k, v)| Some((k.to_string(), v.trim().parse().ok()?)))
        .collect()
}

/// The line for `username` in the per-account list.
fn line<'a>(out: &'a str, username: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(username))
        .unwrap_or_else(|| panic!("no line for {username} in:\n{out}"))
}

fn member(id: &str, oid: &str, upn: &str) -> Value {
    json!({"id": id, "objectId": oid, "userPrincipalName": upn, "email": upn, "name": id,
           "tenantId": TENANT, "userRole": "user"})
}

/// The usual accounts and those above, Marc enrolled; Julie has written to the bot (a stored
/// conversation); the Teaméo roster lists Paul, Martine, Julie, Marc and a stranger, two a page.
/// Martine's account has no object id: the organisation turned the name fallback on.
async fn setup() -> TestApp {
    let app = TestApp::builder()
        .config(|c| c.organisations[0].teams_name_fallback = true)
        .spawn()
        .await;
    app.import(MORE).await;
    let mut conn = app.store.conn().await.unwrap();
    sqlx::query("update account set password_hash = 'x' where username = 'gagm'")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(app.bot(&app.personal("bonjour")).await.status(), 200);
    app.connector.wait_for(1).await;
    app.connector.set_roster(
        vec![
            member(
                "29:stranger",
                "44444444-4444-4444-4444-444444444444",
                "x@cegepsi.ca",
            ),
            member("29:lavp", PAUL_OID, "paul.laval@cegepsi.ca"),
            member("29:julie", JULIE_OID, "julie.tremblay@cegepsi.ca"),
            member(
                "29:gagm",
                "55555555-5555-5555-5555-555555555555",
                "marc.gagnon@cegepsi.ca",
            ),
            member("29:roym", MARTINE_OID, "martine.roy@cegepsi.ca"),
        ],
        2,
    );
    app
}

/// The invitation cards posted, as (conversation path, card).
fn invitations(app: &TestApp) -> Vec<(String, Value)> {
    app.connector
        .posted()
        .into_iter()
        .filter_map(|r| {
            let card = r.card()?.clone();
            let invite = serde_json::to_string(&card).unwrap().contains("\"enroll\"")
                && card["body"].as_array().map(Vec::len) == Some(6);
            invite.then_some((r.path, card))
        })
        .collect()
}

fn count_to(cards: &[(String, Value)], conversation: &str) -> usize {
    cards
        .iter()
        .filter(|(p, _)| p.contains(&format!("/conversations/{conversation}/")))
        .count()
}

#[tokio::test]
async fn a_campaign_reaches_stored_chats_and_roster_members_once_across_runs() {
    let app = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let writes_before = app.connector.attempts().len();

    // Dry run: who would be reached, and how; nothing is written.
    let (code, out) = octopus(
        &app,
        dir.path(),
        &["campaign", "enroll", "--org", "demo", "--dry-run"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        line(&out, "trej").contains("would be reached (stored conversation)"),
        "{out}"
    );
    assert!(
        line(&out, "lavp").contains("would be reached (team roster)"),
        "{out}"
    );
    assert!(
        line(&out, "roym").contains("would be reached (team roster)"),
        "{out}"
    );
    assert!(line(&out, "nobn").contains("not found in Teams"), "{out}");
    assert!(
        !out.contains("gagm"),
        "enrolled accounts are not listed: {out}"
    );
    let f = figures(&out);
    assert_eq!(f["never enrolled"], 4, "{out}");
    assert_eq!(f["already enrolled"], 1, "{out}");
    assert_eq!(f["would be reached"], 3, "{out}");
    assert_eq!(f["reached"], 0, "{out}");
    assert_eq!(f["not found in Teams"], 1, "{out}");
    assert_eq!(
        app.connector.attempts().len(),
        writes_before,
        "a dry run writes nothing"
    );
    assert_eq!(app.connector.roster_reads(), 3, "five members, two a page");

    // A first run stopped after one person; Teams answers its first write 429 (Retry-After).
    app.connector.script(Answer::status(429).retry_after(0));
    let (code, out) = octopus(
        &app,
        dir.path(),
        &["campaign", "enroll", "--org", "demo", "--limit", "1"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let f = figures(&out);
    assert_eq!(f["reached"], 1, "{out}");
    assert_eq!(f["left for the next run"], 2, "{out}");
    assert_eq!(f["failed"], 0, "{out}");
    assert!(
        line(&out, "lavp").contains("reached (team roster)"),
        "{out}"
    );
    let throttled = app.connector.attempts();
    assert_eq!(
        throttled[writes_before].status, 429,
        "the first write was refused"
    );
    assert_eq!(
        throttled[writes_before + 1].path,
        throttled[writes_before].path,
        "and made again"
    );

    // The next run continues the same campaign: the two left, not Paul again.
    let (code, out) = octopus(&app, dir.path(), &["campaign", "enroll", "--org", "demo"]).await;
    assert_eq!(code, 0, "{out}");
    let f = figures(&out);
    assert_eq!(f["already reached by this campaign"], 1, "{out}");
    assert_eq!(f["reached"], 2, "{out}");
    assert_eq!(f["not found in Teams"], 1, "{out}");
    assert!(!out.contains("lavp"), "{out}");
    assert!(
        line(&out, "trej").contains("reached (stored conversation)"),
        "{out}"
    );
    assert!(
        line(&out, "roym").contains("reached (team roster)"),
        "{out}"
    );

    // Once more: nobody is written to twice.
    let writes = app.connector.attempts().len();
    let (code, out) = octopus(&app, dir.path(), &["campaign", "enroll", "--org", "demo"]).await;
    assert_eq!(code, 0, "{out}");
    let f = figures(&out);
    assert_eq!(
        (f["already reached by this campaign"], f["reached"]),
        (3, 0),
        "{out}"
    );
    assert_eq!(app.connector.attempts().len(), writes, "{out}");

    let cards = invitations(&app);
    assert_eq!(cards.len(), 3, "{cards:#?}");
    assert_eq!(count_to(&cards, "a%3Ajulie"), 1);
    assert_eq!(count_to(&cards, "a%3Apersonal-29%3Alavp"), 1);
    assert_eq!(count_to(&cards, "a%3Apersonal-29%3Aroym"), 1);
    let text = |conv: &str| {
        let (_, card) = cards.iter().find(|(p, _)| p.contains(conv)).unwrap();
        serde_json::to_string(card).unwrap()
    };
    assert!(
        text("a%3Ajulie").contains("M'inscrire au service"),
        "French by default"
    );
    assert!(
        text("lavp").contains("Sign up for the service"),
        "Paul's language"
    );
    assert!(
        text("roym").contains("Inscrever-me no serviço"),
        "Martine's language"
    );
    assert!(!text("a%3Ajulie").contains("${"));

    // The button is the welcome card's « M'inscrire au service »: the enrolment form, for her.
    let (_, card) = cards.iter().find(|(p, _)| p.contains("a%3Ajulie")).unwrap();
    let button = &card["body"][4]["actions"][0];
    assert_eq!(button["verb"], "enroll");
    let mut click = Activity::of("invoke").to(&app.connector.service_url).json();
    click["name"] = json!("adaptiveCard/action");
    click["value"] = json!({"action": {"type": "Action.Execute", "verb": "enroll", "data": button["data"]}, "trigger": "manual"});
    let res = app.bot(&click).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let form = serde_json::to_string(&body["value"]).unwrap();
    assert!(
        form.contains("\"trej\""),
        "the form, username prefilled: {form}"
    );
    assert!(form.contains("\"submit\""), "{form}");

    // The report counts the never-enrolled accounts the campaign is about.
    let (_, report) = octopus(
        &app,
        dir.path(),
        &["report", "--org", "demo", "--format", "csv"],
    )
    .await;
    assert!(report.contains("accounts_never_enrolled,4"), "{report}");
}

#[tokio::test]
async fn refusals_are_retried_by_the_next_run_and_teams_throttling_stops_the_run() {
    let app = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let writes_before = app.connector.attempts().len();

    // Teams keeps answering 429: the client's retries (3) run out on the first write, the run
    // stops there and leaves everyone to the next one.
    for _ in 0..4 {
        app.connector.script(Answer::status(429).retry_after(0));
    }
    let (code, out) = octopus(&app, dir.path(), &["campaign", "enroll", "--org", "demo"]).await;
    assert_eq!(code, 0, "{out}");
    let f = figures(&out);
    assert_eq!(
        (f["reached"], f["failed"], f["left for the next run"]),
        (0, 1, 2),
        "{out}"
    );
    assert!(
        out.contains("run the same command later to continue"),
        "{out}"
    );
    assert_eq!(
        app.connector.attempts().len(),
        writes_before + 4,
        "one write, four tries"
    );

    // Then Julie's stored chat is closed to the bot (403): not written, the reference forgotten.
    // Paul's post gets a 502 (perhaps delivered): never posted again in this campaign.
    app.connector.script(Answer::status(200)); // Paul's chat is created
    app.connector.script(Answer::status(502)); // Paul's card: maybe delivered
    app.connector.script(Answer::status(200)); // Martine's chat
    app.connector.script(Answer::status(200)); // Martine's card
    app.connector.script(Answer::status(403)); // Julie's card
    let (code, out) = octopus(&app, dir.path(), &["campaign", "enroll", "--org", "demo"]).await;
    assert_eq!(code, 0, "{out}");
    let f = figures(&out);
    assert_eq!((f["reached"], f["failed"]), (1, 2), "{out}");
    assert!(
        line(&out, "lavp").contains("perhaps delivered, not retried"),
        "{out}"
    );
    assert!(line(&out, "trej").contains("will be retried"), "{out}");

    // The next run reaches Julie through the roster (a new 1:1 chat), and only her.
    let (code, out) = octopus(&app, dir.path(), &["campaign", "enroll", "--org", "demo"]).await;
    assert_eq!(code, 0, "{out}");
    let f = figures(&out);
    assert_eq!(
        (f["already reached by this campaign"], f["reached"]),
        (2, 1),
        "{out}"
    );
    assert!(
        line(&out, "trej").contains("reached (team roster)"),
        "{out}"
    );
    let cards = invitations(&app);
    assert_eq!(count_to(&cards, "a%3Apersonal-29%3Ajulie"), 1, "{cards:#?}");
    assert_eq!(count_to(&cards, "a%3Ajulie"), 0);
    assert_eq!(count_to(&cards, "a%3Apersonal-29%3Aroym"), 1);
}

#[tokio::test]
async fn a_dry_run_says_the_figures_first_and_honours_the_limit() {
    let app = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = octopus(
        &app,
        dir.path(),
        &[
            "campaign",
            "enroll",
            "--org",
            "demo",
            "--dry-run",
            "--limit",
            "1",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let first_account = out
        .lines()
        .position(|l| l.starts_with("  "))
        .expect("account lines");
    let figures_at = out
        .lines()
        .position(|l| l.starts_with("would be reached: "))
        .unwrap();
    assert!(figures_at < first_account, "the figures come first:\n{out}");
    assert_eq!(figures(&out)["would be reached"], 1, "{out}");
    assert_eq!(figures(&out)["left for the next run"], 2, "{out}");
    assert!(invitations(&app).is_empty(), "a dry run sends nothing");
}

#[tokio::test]
async fn a_campaign_for_an_organisation_the_bot_never_heard_from_says_so_and_fails() {
    // Nobody ever wrote to the bot and no roster is known: no Teams address at all.
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = octopus(
        &app,
        dir.path(),
        &["campaign", "enroll", "--org", "demo", "--dry-run"],
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the bot has never heard from this organisation"),
        "{out}"
    );
    assert!(
        !out.contains("not found in Teams"),
        "no line per person first: {out}"
    );
}

#[tokio::test]
async fn a_run_says_how_far_it_is_and_honours_retry_after_for_every_request() {
    let app = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let writes_before = app.connector.attempts().len();

    // Teams asks to wait once (Retry-After: 1 s): the run waits, lowers its pace, goes on.
    app.connector.script(Answer::status(429).retry_after(1));
    let (code, out) = octopus(&app, dir.path(), &["campaign", "enroll", "--org", "demo"]).await;
    assert_eq!(code, 0, "{out}");
    let f = figures(&out);
    assert_eq!((f["reached"], f["failed"]), (3, 0), "{out}");
    assert!(
        out.contains(
            "Teams asked to slow down 1 times (429): the pace was lowered to 22.8 requests/s"
        ),
        "30 × 95 % × 80 %: {out}"
    );
    let attempts = app.connector.attempts();
    let after_429 = &attempts[writes_before + 1];
    assert!(
        after_429.at.duration_since(attempts[writes_before].at)
            >= std::time::Duration::from_secs(1),
        "the next request waited for Retry-After"
    );
    assert_eq!(
        attempts.len(),
        writes_before + 6,
        "two chats created, three cards posted, one request made again"
    );
    // Not a terminal: a line at the start and one per person (3 people: every 5 % is each one),
    // with the pace and the expected end in the organisation's time.
    for done in 0..=3 {
        assert!(
            out.contains(&format!(
                "campaign enroll-demo, {done} of 3 people written to"
            )),
            "{out}"
        );
    }
    assert!(out.contains("(America/Toronto)"), "{out}");
}

#[tokio::test]
async fn ctrl_c_ends_the_run_after_the_people_in_progress_and_the_next_run_continues() {
    let app = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&app, dir.path());

    // One request a second: the interruption comes while others are still to do.
    let mut cmd = crate::harness::process::command();
    cmd.arg("--config")
        .arg(&config)
        .args(["campaign", "enroll", "--org", "demo", "--rate", "1"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = tokio::process::Command::from(cmd).spawn().unwrap();
    let posts_before = invitations(&app).len();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while invitations(&app).len() == posts_before {
        assert!(tokio::time::Instant::now() < deadline, "no card posted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("stopped (Ctrl-C) after the people in progress"),
        "{text}"
    );
    let f = figures(&text);
    let (reached, left) = (f["reached"], f["left for the next run"]);
    assert!(reached >= 1 && left >= 1 && reached + left == 3, "{text}");

    // The next run writes to those left, and to nobody twice.
    let (code, out) = octopus(&app, dir.path(), &["campaign", "enroll", "--org", "demo"]).await;
    assert_eq!(code, 0, "{out}");
    let f = figures(&out);
    assert_eq!(
        (f["already reached by this campaign"], f["reached"]),
        (reached, left),
        "{out}"
    );
    let cards = invitations(&app);
    for conversation in [
        "a%3Ajulie",
        "a%3Apersonal-29%3Alavp",
        "a%3Apersonal-29%3Aroym",
    ] {
        assert_eq!(
            count_to(&cards, conversation),
            1,
            "{conversation}: {cards:#?}"
        );
    }
}
