//! The admin commands, run as the real binary.

use crate::harness::{TestApp, TestDb};

pub fn octopus(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = crate::harness::process::command()
        .args(args)
        .env("OCTOPUS__DATABASE__URL", &db.url)
        .env("OCTOPUS__DEMO__SEED", "false")
        .env("RUST_LOG", "warn")
        .env_remove("OCTOPUS_CONFIG")
        .output()
        .expect("run the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_csv_with_bad_rows_imports_nothing_and_names_each_line() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "username,email,display_name,entra_object_id,upn,locale\n\
         trej,julie.tremblay@cegepsi.ca,Julie Tremblay,,,\n\
         bad user,x@cegepsi.ca,Someone,,,\n\
         gagm,not-an-email,Marc Gagnon,,,\n\
         lavp,paul@cegepsi.ca,Paul Laval,not-a-guid,,de\n\
         trej,other@cegepsi.ca,Julie Again,,,\n",
    )
    .unwrap();
    let (code, out, _) = octopus(&db, &["users", "import", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("bad.csv:3: username characters not allowed"),
        "{out}"
    );
    assert!(
        out.contains("bad.csv:4: email is not a valid address"),
        "{out}"
    );
    assert!(
        out.contains("bad.csv:5: entra_object_id is not a GUID; locale must be fr-CA, en or pt"),
        "{out}"
    );
    assert!(out.contains("bad.csv:6: username repeats line 2"), "{out}");
    let (_, list, _) = octopus(&db, &["users", "list"]);
    assert!(
        list.contains("0 account(s)"),
        "nothing half-imported: {list}"
    );

    let good = dir.path().join("good.csv");
    std::fs::write(&good, "username,email,display_name\ntrej,julie.tremblay@cegepsi.ca,Julie Tremblay\ngagm,marc@cegepsi.ca,Marc Gagnon\n").unwrap();
    let (code, out, err) = octopus(&db, &["users", "import", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 created, 0 updated"), "{out}");
    std::fs::write(
        &good,
        "username,email,display_name,locale\nTREJ,julie.t@cegepsi.ca,Julie Tremblay-Roy,pt\n",
    )
    .unwrap();
    let (_, out, _) = octopus(&db, &["users", "import", good.to_str().unwrap()]);
    assert!(
        out.contains("0 created, 1 updated"),
        "upsert by username: {out}"
    );
    let (_, list, _) = octopus(&db, &["users", "list"]);
    assert!(
        list.contains("julie.t@cegepsi.ca") && list.contains("Julie Tremblay-Roy"),
        "{list}"
    );
    assert!(list.contains("2 account(s)"));
}

#[tokio::test]
async fn an_imported_account_can_enrol_through_the_service() {
    let app = TestApp::builder().spawn().await;
    app.import("username,email,display_name\nnewu,new.user@cegepsi.ca,New User\n")
        .await;
    let link = app.reset_link(&app.link_mail("enroll", "newu", 1).await);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
}

#[test]
fn check_config_prints_redacted_values_and_names_problems() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("octopus.toml");
    std::fs::write(
        &file,
        r#"
[mail]
transport = "smtps://bot:hunter2secret@mail.example.org:465"
[[organisations]]
tenant_id = "11111111-2222-3333-4444-555555555555"
slug = "cegep"
name = "Cégep de Sept-Îles"
portal_url = "https://cegepdeseptiles.octopus-itsm.com/Web/Login.aspx"
sender = "Soutien TI <supportTI@cegepsi.ca>"
time_zone = "America/Toronto"
default_locale = "fr-CA"
token_lifetime_minutes = 30
api_key = "a-very-long-api-key-that-is-secret-0001"
"#,
    )
    .unwrap();
    let out = crate::harness::process::command()
        .args(["--config", file.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("configuration OK"));
    assert!(stdout.contains("cegep") && stdout.contains("***"));
    assert!(
        !stdout.contains("hunter2secret") && !stdout.contains("a-very-long-api-key"),
        "{stdout}"
    );

    std::fs::write(&file, "[http]\nlisten = \"nowhere\"\n[[organisations]]\ntenant_id=\"\"\nslug=\"x\"\nname=\"X\"\nportal_url=\"javascript:alert(1)\"\nsender=\"nope\"\ntime_zone=\"Mars/Base\"\ndefault_locale=\"de\"\ntoken_lifetime_minutes=0\n").unwrap();
    let out = crate::harness::process::command()
        .args(["--config", file.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for problem in [
        "http.listen",
        "tenant_id",
        "portal_url",
        "sender",
        "time_zone",
        "default_locale",
        "token_lifetime_minutes",
    ] {
        assert!(
            stderr.contains(problem),
            "{problem} not named in:\n{stderr}"
        );
    }
}

#[test]
fn the_example_configuration_is_valid() {
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/octopus-teams.example.toml");
    let out = crate::harness::process::command()
        .args(["--config", file.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The placeholders (a key that is not base64 of 32 bytes, an API key left as "REPLACE-…")
    // are refused by check-config, and nothing else.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("security.secret_key"), "{stderr}");
    assert!(
        stderr.contains("api_key: looks like a placeholder"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("\n  - ").count(),
        2,
        "only the placeholders are refused: {stderr}{stdout}"
    );
}

#[test]
fn check_config_tells_and_checks_the_service_desk_sections() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("octopus.toml");
    let org = r#"
[[organisations]]
tenant_id = "11111111-2222-3333-4444-555555555555"
slug = "cegep"
name = "Cégep de Sept-Îles"
portal_url = "https://cegepdeseptiles.octopus-itsm.com/Web/Login.aspx"
sender = "Soutien TI <supportTI@cegepsi.ca>"
time_zone = "America/Toronto"
default_locale = "fr-CA"
token_lifetime_minutes = 30
"#;
    let check = |sections: &str| {
        std::fs::write(&file, format!("{org}{sections}")).unwrap();
        let out = crate::harness::process::command()
            .args(["--config", file.to_str().unwrap(), "check-config"])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, stdout, stderr) = check(
        r#"
[organisations.octopus_requests]
mailbox = "octopus-demandes@cegepsi.ca"
mode = "service_request"
enclosing_token = "CreateSR"
[organisations.desk_channel]
team_id = "19%3aequipe%40thread.tacv2"
channel_id = "19:canal@thread.tacv2"
"#,
    );
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains(
            "octopus-demandes@cegepsi.ca as service requests (body enclosed in CreateSR)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("alerts to channel 19:canal@thread.tacv2 of team 19:equipe@thread.tacv2"),
        "{stdout}"
    );

    let (ok, _, stderr) = check(
        r#"
[organisations.octopus_requests]
mailbox = "nope"
mode = "service_request"
window_hours = 48
[organisations.desk_channel]
team_id = "General"
channel_id = "19:canal@thread.tacv2"
min_interval_secs = 0
"#,
    );
    assert!(!ok);
    for problem in [
        "octopus_requests.mailbox",
        "octopus_requests.enclosing_token",
        "octopus_requests.window_hours",
        "desk_channel.team_id",
        "desk_channel.min_interval_secs",
    ] {
        assert!(
            stderr.contains(problem),
            "{problem} not named in:\n{stderr}"
        );
    }
}

/// The file an admin in a French-Canadian Excel gets with « Enregistrer sous → CSV »: Windows-1252,
/// semicolons, CRLF, French headers.
fn excel_fr(rows: &[&str]) -> Vec<u8> {
    let mut text = String::from("Nom d'utilisateur;Courriel;Nom complet\r\n");
    for r in rows {
        text.push_str(r);
        text.push_str("\r\n");
    }
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!unmappable);
    bytes.into_owned()
}

const FRENCH_ROWS: [&str; 4] = [
    "belm;Marie.Belanger@cegepsi.ca;Marie Bélanger",
    "cotj;jean.cote@cegepsi.ca;Jean Côté",
    "gagl;luc.gagne@cegepsi.ca;Luc Gagné",
    "noea;anne.noel@cegepsi.ca;Anne Noël",
];

#[tokio::test]
async fn excel_s_french_csv_imports_with_its_accents_and_says_how_it_was_read() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("employes.csv");
    std::fs::write(&file, excel_fr(&FRENCH_ROWS)).unwrap();

    let (code, out, err) = octopus(
        &db,
        &["users", "import", "--dry-run", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 would be created"), "{out}");
    assert!(out.contains("dry run: nothing written"), "{out}");
    let (_, list, _) = octopus(&db, &["users", "list"]);
    assert!(
        list.contains("0 account(s)"),
        "a dry run writes nothing: {list}"
    );

    let (code, out, err) = octopus(&db, &["users", "import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Windows-1252, semicolons"), "{out}");
    assert!(out.contains("4 created, 0 updated, 0 unchanged"), "{out}");
    assert!(out.contains("demo ("), "names the organisation: {out}");
    let (_, list, _) = octopus(&db, &["users", "list"]);
    for name in ["Marie Bélanger", "Jean Côté", "Luc Gagné", "Anne Noël"] {
        assert!(list.contains(name), "{name} intact: {list}");
    }
    assert!(
        list.contains("marie.belanger@cegepsi.ca"),
        "addresses in lower case: {list}"
    );
    // Columns line up whatever the accents: the state starts at one column on every row.
    let columns: std::collections::BTreeSet<usize> = list
        .lines()
        .filter(|l| l.ends_with(" ok"))
        .map(|l| l.chars().count())
        .collect();
    assert_eq!(columns.len(), 1, "aligned:\n{list}");

    // The same directory again: nothing changes, and it says so.
    let (_, out, _) = octopus(&db, &["users", "import", file.to_str().unwrap()]);
    assert!(out.contains("0 created, 0 updated, 4 unchanged"), "{out}");

    // English headers, UTF-8 with a byte-order mark, commas: the same accounts.
    let english = dir.path().join("staff.csv");
    let mut bytes = b"\xef\xbb\xbfUsername,Email,Display Name\n".to_vec();
    bytes.extend_from_slice("belm,marie.belanger@cegepsi.ca,Marie Bélanger-Roy\n".as_bytes());
    std::fs::write(&english, bytes).unwrap();
    let (code, out, err) = octopus(&db, &["users", "import", english.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("UTF-8, commas") && out.contains("0 created, 1 updated"),
        "{out}"
    );
}

#[tokio::test]
async fn bad_rows_are_named_at_their_true_line_twenty_at_most() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("employes.csv");
    let mut rows: Vec<&str> = FRENCH_ROWS.to_vec();
    rows.push("belm;autre@cegepsi.ca;Marie Bis"); // line 6 repeats line 2
    rows.push("vide;;Sans Courriel"); // line 7
    std::fs::write(&file, excel_fr(&rows)).unwrap();
    let (code, out, _) = octopus(&db, &["users", "import", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("employes.csv:6: username repeats line 2"),
        "{out}"
    );
    assert!(
        out.contains("employes.csv:7: courriel manquant / email missing"),
        "{out}"
    );

    let many: Vec<String> = (0..30).map(|i| format!("bad user {i};x@y.ca;X")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    std::fs::write(&file, excel_fr(&many)).unwrap();
    let (_, out, _) = octopus(&db, &["users", "import", file.to_str().unwrap()]);
    assert_eq!(out.matches("employes.csv:").count(), 20, "{out}");
    assert!(out.contains("… and 10 more bad row(s)"), "{out}");
}

#[tokio::test]
async fn an_ambiguous_or_damaged_file_is_refused_with_what_to_fix() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.csv");
    std::fs::write(
        &file,
        "Nom d'utilisateur;Courriel;Nom complet;Nom affiché\nbelm;m@cegepsi.ca;Marie;Marie B\n",
    )
    .unwrap();
    let (code, out, err) = octopus(&db, &["users", "import", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("more than one column for display_name (Nom complet, Nom affiché)"),
        "{out}{err}"
    );

    let mut damaged = "username,email,display_name\nbelm,m@cegepsi.ca,Marie Bélanger\n"
        .as_bytes()
        .to_vec();
    damaged.extend_from_slice(b"cotj,j@cegepsi.ca,Jean C\xf4t\xe9\n");
    std::fs::write(&file, damaged).unwrap();
    let (code, out, err) = octopus(&db, &["users", "import", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("CSV UTF-8"), "{out}{err}");
    let (_, list, _) = octopus(&db, &["users", "list"]);
    assert!(list.contains("0 account(s)"), "{list}");
}

#[tokio::test]
async fn the_import_summary_names_the_database_without_its_credentials() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.csv");
    std::fs::write(
        &file,
        "username,email,display_name\nbelm,m@cegepsi.ca,Marie\n",
    )
    .unwrap();
    // PostgreSQL takes a password as a URL parameter; SQLite takes none, but its URL has
    // parameters too (`mode=rwc`): the summary shows neither.
    let (url, hidden) = if db.is_postgres() {
        (format!("{}?password=s3cret-in-query", db.url), "s3cret")
    } else {
        (db.url.clone(), "mode=rwc")
    };
    let out = crate::harness::process::command()
        .args(["users", "import", file.to_str().unwrap()])
        .env("OCTOPUS__DATABASE__URL", &url)
        .env("OCTOPUS__DEMO__SEED", "false")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 created"), "{text}");
    assert!(!text.contains(hidden), "{text}");
}

#[tokio::test]
async fn disable_missing_disables_exactly_the_leavers_and_refuses_an_empty_file() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("employes.csv");
    std::fs::write(&file, excel_fr(&FRENCH_ROWS)).unwrap();
    let path = file.to_str().unwrap();
    assert_eq!(octopus(&db, &["users", "import", path]).0, 0);

    // Luc Gagné left: the file no longer lists him.
    let stayers = [FRENCH_ROWS[0], FRENCH_ROWS[1], FRENCH_ROWS[3]];
    std::fs::write(&file, excel_fr(&stayers)).unwrap();
    let (code, out, err) = octopus(
        &db,
        &["users", "import", "--disable-missing", "--dry-run", path],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 would be disabled"), "{out}");
    let (_, list, _) = octopus(&db, &["users", "list"]);
    assert!(
        !list.contains("disabled"),
        "a dry run writes nothing: {list}"
    );

    let (code, out, err) = octopus(&db, &["users", "import", "--disable-missing", path]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("3 unchanged, 0 enabled again, 1 disabled"),
        "{out}"
    );
    let (_, list, _) = octopus(&db, &["users", "list"]);
    let gagl = list.lines().find(|l| l.starts_with("gagl")).unwrap();
    assert!(gagl.ends_with("disabled (import)"), "{list}");
    assert_eq!(
        list.matches("disabled").count(),
        1,
        "only the leaver: {list}"
    );

    // An empty file (or a cut one) would disable most of the directory: refused.
    std::fs::write(&file, excel_fr(&[])).unwrap();
    let (code, out, err) = octopus(&db, &["users", "import", "--disable-missing", path]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("3 of the 3 enabled accounts are not in the file") && err.contains("--force"),
        "{err}"
    );
    let (_, list, _) = octopus(&db, &["users", "list"]);
    assert_eq!(
        list.matches("disabled").count(),
        1,
        "nothing written: {list}"
    );

    // Without --disable-missing the file is not the whole directory: Luc stays disabled.
    std::fs::write(&file, excel_fr(&FRENCH_ROWS)).unwrap();
    let (_, out, _) = octopus(&db, &["users", "import", path]);
    assert!(out.contains("4 unchanged, 0 enabled again"), "{out}");
    // Luc is back in the whole directory: his account is enabled again.
    let (_, out, _) = octopus(&db, &["users", "import", "--disable-missing", path]);
    assert!(out.contains("1 enabled again, 0 disabled"), "{out}");
    let (_, list, _) = octopus(&db, &["users", "list"]);
    assert!(!list.contains("disabled"), "{list}");
}

#[tokio::test]
async fn an_account_disabled_by_an_import_gets_no_link_and_cannot_sign_in() {
    let app = TestApp::builder().spawn().await;
    let link = app.reset_link(&app.link_mail("enroll", "gagm", 1).await);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
    // Mail 2 says the password changed; mail 3 carries a reset link.
    let pending = app.reset_link(&app.link_mail("reset", "gagm", 3).await);

    let report = octopus_teams::directory::import_csv_with(
        &app.store,
        &app.org,
        "username,email,display_name\ntrej,julie.tremblay@cegepsi.ca,Julie Tremblay\n".as_bytes(),
        octopus_teams::clock::Clock::unix(&app.clock),
        octopus_teams::directory::ImportOptions {
            disable_missing: true,
            force: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.disabled, 1);

    // The link mailed before no longer works; no new one is mailed; the password is refused.
    assert_eq!(app.get(&app.path_of(&pending)).await.0, 410);
    assert_eq!(app.request_link("reset", "gagm").await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.smtp.received().len(), 3);
    let res = app.sign_in("gagm", "abc123", "").await;
    assert_ne!(res.status(), 303, "no sign-in for a disabled account");
    let rows = crate::unlock::audited(&app, "account_disabled").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0.as_deref(), Some("import"));
    assert!(
        rows[0]
            .1
            .as_deref()
            .unwrap()
            .starts_with("missing_from_import links_revoked=1")
    );
}

#[tokio::test]
async fn scim_token_prints_the_tenant_url_and_a_token_once() {
    let db = TestDb::create().await;
    let (code, out, err) = octopus(&db, &["scim", "token", "--org", "demo"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Tenant URL:   http://127.0.0.1:3978/scim/v2"),
        "{out}"
    );
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("Secret Token: "))
        .expect("the token");
    assert!(token.starts_with("octscim_") && token.len() > 40);
    let (code, _, err) = octopus(&db, &["scim", "token", "--org", "demo"]);
    assert_eq!(code, 1);
    assert!(err.contains("--rotate"), "{err}");
    let (code, out, _) = octopus(&db, &["scim", "token", "--org", "demo", "--rotate"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("the previous token keeps working for 24 h"),
        "{out}"
    );
    assert!(!out.contains(token), "a new token");
    let (code, out, _) = octopus(&db, &["scim", "token", "--org", "demo", "--revoke"]);
    assert_eq!(code, 0);
    assert!(out.contains("every provisioning token ended"), "{out}");
}

#[test]
fn check_config_names_what_serve_would_refuse_and_no_false_problem() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("octopus.toml");
    std::fs::write(
        &file,
        r#"
[mail]
transport = "smtp://relay.cisss.example:587?tls=requierd&helo=x"
[[organisations]]
tenant_id = "cisss.onmicrosoft.com"
slug = "cisss"
name = "CISSS de Lanaudière"
portal_url = "https://cissslanaudiere.octopus-itsm.com/Web/Login.aspx"
sender = "Centre de services <csti@cisss-lanaudiere.example>"
time_zone = "Eastern"
default_locale = "fr-CA"
token_lifetime_minutes = 30
"#,
    )
    .unwrap();
    let out = crate::harness::process::command()
        .args(["--config", file.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    for named in [
        "tls=\"requierd\" is not a TLS mode",
        "unknown parameter \"helo\"",
        "\"cisss.onmicrosoft.com\" is not a GUID",
        "time_zone: unknown IANA zone \"Eastern\"",
    ] {
        assert!(text.contains(named), "{named}: {text}");
    }
    assert!(
        !text.contains("none configured"),
        "no cascading error: {text}"
    );
}

/// The bot's app id in a production-like configuration (its app package must build: a GUID).
const BOT_GUID: &str = "6f1c1a2e-0000-4000-8000-000000000b07";

/// A configuration file for `check-config --connect` against the given parts.
fn reachable_config(
    db: &str,
    mail: &str,
    ca: Option<&std::path::Path>,
    idp: &str,
    entra: &str,
    secret: &str,
) -> String {
    let ca = ca.map_or(String::new(), |f| {
        format!("tls_ca_file = {:?}\n", f.display().to_string())
    });
    format!(
        r#"
[http]
public_base_url = "https://octopus.cegepsi.ca"
[database]
url = "{db}"
[mail]
transport = "{mail}"
{ca}
[security]
secret_key = "{key}"
[bot]
app_id = "{app}"
app_password = "{secret}"
app_type = "single_tenant"
app_tenant_id = "{tenant}"
token_authority = "{entra}"
openid_metadata_url = "{idp}"
[[organisations]]
tenant_id = "{tenant}"
slug = "cegep"
name = "Cégep de Sept-Îles"
portal_url = "https://cegepdeseptiles.octopus-itsm.com/Web/Login.aspx"
sender = "Soutien TI <supportTI@cegepsi.ca>"
time_zone = "America/Toronto"
default_locale = "fr-CA"
token_lifetime_minutes = 30
"#,
        key = octopus_teams::service_key::ServiceKey::generate().to_base64(),
        app = BOT_GUID,
        tenant = crate::harness::TENANT,
    )
}

#[tokio::test]
async fn check_config_connect_tries_the_database_the_relay_and_the_bot_and_names_each_cause() {
    use crate::harness::{
        BOT_PASSWORD, Entra, Idp, SmtpSink, TENANT, entra::Registration, process,
    };
    let db = TestDb::create().await;
    let relay = SmtpSink::builder()
        .starttls()
        .auth("octopus", "relay-password-1")
        .start()
        .await;
    let idp = Idp::start().await;
    let entra = Entra::start(Registration {
        client_id: BOT_GUID.into(),
        secret: BOT_PASSWORD.into(),
        home_tenant: TENANT.into(),
        multi_tenant: false,
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("octopus.toml");
    let check = |text: String| {
        std::fs::write(&file, text).unwrap();
        let file = file.clone();
        async move { process::run_with_config(&file, &["check-config", "--connect"], "warn").await }
    };
    let metadata = idp.metadata_url();
    let good = reachable_config(
        &db.url,
        &relay.url(),
        relay.ca_file().as_deref(),
        &metadata,
        &entra.base,
        BOT_PASSWORD,
    );
    std::fs::write(&file, &good).unwrap();
    assert_eq!(
        process::run_with_config(&file, &["migrate"], "warn")
            .await
            .0,
        0
    );
    let (code, out) = check(good).await;
    assert_eq!(code, 0, "{out}");
    for line in [
        "ok   database",
        "schema up to date",
        "ok   mail relay",
        "ok   bot channel keys",
        "ok   bot app token",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    assert!(
        !out.contains(BOT_PASSWORD) && !out.contains("relay-password-1"),
        "{out}"
    );
    assert!(relay.received().is_empty(), "nothing is sent");

    // A relay that refuses the password, a wrong client secret, a database nobody listens on.
    let wrong_relay = relay.url().replace("relay-password-1", "not-the-password");
    let closed = process::free_addr();
    let (code, out) = check(reachable_config(
        &format!("postgres://octopus@{closed}/none"),
        &wrong_relay,
        relay.ca_file().as_deref(),
        &metadata,
        &entra.base,
        "not-the-bot-secret",
    ))
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL database") && out.to_lowercase().contains("connection refused"),
        "{out}"
    );
    assert!(out.contains("FAIL mail relay"), "{out}");
    assert!(
        out.contains("FAIL bot app token") && out.contains("AADSTS7000215"),
        "{out}"
    );
    assert!(out.contains("3 check(s) failed"), "{out}");
}

#[test]
fn init_writes_a_private_configuration_that_passes_check_config_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("etc/config.toml");
    let run = |extra: &[&str]| {
        let mut args = vec!["init", "--out", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = crate::harness::process::command()
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = run(&["--name", "Cégep de Sept-Îles", "--slug", "cegepsi"]);
    assert!(!ok);
    assert!(err.contains("missing: --tenant-id, --portal-url, --sender, --relay, --public-url, --bot-app-id, --bot-password"), "{err}");
    assert!(!file.exists());

    let data = dir.path().join("data");
    let everything = [
        "--name",
        "Cégep de Sept-Îles",
        "--slug",
        "cegepsi",
        "--tenant-id",
        "11111111-2222-3333-4444-555555555555",
        "--portal-url",
        "https://cegepdeseptiles.octopus-itsm.com/Web/Login.aspx",
        "--sender",
        "Soutien TI <supportTI@cegepsi.ca>",
        "--relay",
        "smtp://relay.cegepsi.ca:25",
        "--public-url",
        "https://octopus.cegepsi.ca",
        "--bot-app-id",
        BOT_GUID,
        "--bot-password",
        "a-long-bot-secret-value-0123456789",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let (ok, out, err) = run(&everything);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("check-config --connect") && out.contains("scim token --org cegepsi"),
        "{out}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("secret_key = \"") && text.contains("Cégep de Sept-Îles"),
        "{text}"
    );
    let check = crate::harness::process::command()
        .args(["--config", file.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && said.contains("configuration OK"),
        "{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(!said.contains("a-long-bot-secret-value"), "{said}");

    // Never over an existing configuration.
    let (ok, _, err) = run(&everything);
    assert!(!ok && err.contains("init never overwrites"), "{err}");
}
