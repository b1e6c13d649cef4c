//! Issue 8, second half: password strength and own words, the argon2 pepper, cookies and
//! transport, data at rest, accounts.

use octopus_teams::clock::Clock;
use octopus_teams::model::NewPassword;
use octopus_teams::{
    config::Argon2Params,
    directory,
    reset::hasher::{Hasher, Pepper, Verified},
};
use secrecy::SecretString;

use crate::harness::TestApp;

const PEPPER: &str = "pepper-for-tests-3b9f0c2a7e5d41f8a6c2";

/// The page text as a reader sees it (the templates escape quotes and apostrophes).
fn unescape(html: &str) -> String {
    html.replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

fn policy_text(lang: &str, code: &str) -> String {
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("locales/{lang}.toml"));
    let table: toml::Table = std::fs::read_to_string(file).unwrap().parse().unwrap();
    table["policy"][code]
        .as_str()
        .unwrap_or_else(|| panic!("{lang}: no policy.{code}"))
        .to_string()
}

fn codes_of(html: &str) -> Vec<String> {
    html.split("data-code=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn weak_passwords_are_refused_with_feedback_in_the_pages_language() {
    let app = TestApp::builder()
        .config(|raw| {
            let p = raw.organisations[0].policy.get_or_insert_default();
            p.min_length = 8;
            p.min_strength = 3;
            p.block_own_words = true;
            p.blocked_words = vec!["Octopus".into()];
        })
        .spawn()
        .await;
    let mail = app.link_mail("reset", "trej", 1).await;
    let path = app.path_of(&app.reset_link(&mail));

    for lang in ["fr-CA", "en", "pt"] {
        let page = format!("{path}?lang={lang}");
        // A very common password: too guessable, with zxcvbn's feedback in the page's language.
        let res = app
            .submit(
                &page,
                &page,
                &[("password", "password1"), ("confirmation", "password1")],
            )
            .await;
        assert_eq!(res.status(), 422, "{lang}");
        let html = unescape(&res.text().await.unwrap());
        let codes = codes_of(&html);
        assert!(
            codes.contains(&"too_guessable".to_string()),
            "{lang}: {codes:?}"
        );
        let feedback: Vec<_> = codes
            .iter()
            .filter(|c| c.starts_with("warn_") || c.starts_with("hint_"))
            .collect();
        assert!(
            !feedback.is_empty(),
            "{lang}: no zxcvbn feedback in {codes:?}"
        );
        for code in codes.iter() {
            let text = policy_text(lang, code);
            assert!(html.contains(&text), "{lang}: {code} not shown as {text:?}");
        }
        assert!(
            !html.contains("This is a") || lang == "en",
            "{lang}: English feedback leaked"
        );

        // The organisation's own words and the username, whatever their case or width.
        for own in [
            "Sept-Iles-Marmotte-Bleue-42",
            "TREJ-marmotte-bleue-horizon-7",
            "ｏｃｔｏｐｕｓ-marmotte-bleue-7",
        ] {
            let res = app
                .submit(&page, &page, &[("password", own), ("confirmation", own)])
                .await;
            assert_eq!(res.status(), 422, "{lang}: {own}");
            let html = unescape(&res.text().await.unwrap());
            assert!(
                codes_of(&html).contains(&"blocked_word".to_string()),
                "{lang}: {own}"
            );
            assert!(
                html.contains(&policy_text(lang, "blocked_word")),
                "{lang}: {own}"
            );
        }
    }

    // A long unusual passphrase is accepted, and the link then works as always.
    let good = "marmotte bleue sous la pluie 9";
    let res = app.set_password(&app.reset_link(&mail), good, good).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.sign_in("trej", good, "nothing").await.status(), 303);
}

async fn stored_hash(app: &TestApp) -> String {
    sqlx::query_scalar("select password_hash from account where username = 'trej'")
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn with_a_pepper_old_hashes_are_upgraded_at_the_next_sign_in() {
    let app = TestApp::builder()
        .config(|raw| raw.security.password_pepper = Some(SecretString::from(PEPPER)))
        .spawn()
        .await;
    let pw = NewPassword::new("abc123".into());
    let unpeppered = Hasher::new(Argon2Params::OWASP, 1).unwrap();
    let peppered =
        Hasher::with_pepper(Argon2Params::OWASP, 1, Some(Pepper::new(PEPPER.as_bytes()))).unwrap();
    let old = unpeppered.hash(&pw).await.unwrap();
    sqlx::query("update account set password_hash = $1 where username = 'trej'")
        .bind(&old)
        .execute(app.store.pool())
        .await
        .unwrap();

    assert_eq!(app.sign_in("trej", "abc123", "nothing").await.status(), 303);

    let new = stored_hash(&app).await;
    assert_ne!(new, old, "the hash was re-made with the pepper");
    assert_eq!(
        peppered.verify(&pw, Some(&new)).await.unwrap(),
        Verified::Valid {
            needs_rehash: false
        }
    );
    assert_eq!(
        unpeppered.verify(&pw, Some(&new)).await.unwrap(),
        Verified::Invalid,
        "without the pepper the new hash verifies against nothing"
    );
    assert_eq!(app.sign_in("trej", "abc123", "nothing").await.status(), 303);
    assert_eq!(stored_hash(&app).await, new, "upgraded once");

    // The same database served without the pepper: the password no longer signs in.
    let plain = TestApp::builder()
        .restart_of(&app)
        .config(|raw| raw.security.password_pepper = None);
    app.stop().await;
    let app = plain.spawn().await;
    let res = app.sign_in("trej", "abc123", "nothing").await;
    assert_eq!(res.status(), 401, "refused without the pepper");
}

/// The `Set-Cookie` headers of a response, whole.
fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

fn cookie_value(set_cookies: &[String], name: &str) -> String {
    set_cookies
        .iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {set_cookies:?}"))
        .to_string()
}

async fn set_julies_password(app: &TestApp, pw: &str) {
    let hash = Hasher::new(Argon2Params::OWASP, 1)
        .unwrap()
        .hash(&NewPassword::new(pw.into()))
        .await
        .unwrap();
    sqlx::query("update account set password_hash = $1 where username = 'trej'")
        .bind(&hash)
        .execute(app.store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn behind_https_cookies_are_host_only_and_the_csrf_value_is_bound_to_the_cookie() {
    // The server speaks plain http on loopback, as behind a TLS-terminating proxy.
    let app = TestApp::builder()
        .config(|raw| raw.http.public_base_url = format!("https://{}", raw.http.listen))
        .spawn()
        .await;
    set_julies_password(&app, "abc123").await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let res = browser
        .get(app.url("/login?org=demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookies = set_cookies(&res);
    let csrf_cookie = cookies
        .iter()
        .find(|c| c.starts_with("__Host-octo_csrf="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    for attr in ["Secure", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(csrf_cookie.contains(attr), "{attr} missing: {csrf_cookie}");
    }
    assert!(
        !csrf_cookie.to_lowercase().contains("domain"),
        "{csrf_cookie}"
    );
    let raw_cookie = cookie_value(&cookies, "__Host-octo_csrf");
    let form_value = crate::harness::csrf_of(&res.text().await.unwrap());
    assert_ne!(
        form_value, raw_cookie,
        "the form carries the HMAC, not the cookie"
    );

    let login = |cookie: String, csrf: String| {
        let browser = browser.clone();
        let url = app.url("/login");
        async move {
            browser
                .post(url)
                .header("cookie", cookie)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("org", "demo"),
                    ("username", "trej"),
                    ("password", "abc123"),
                    ("remember", "me"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // Refused: the cookie's own value echoed (plain double submit), the right value with a
    // cookie that is not `__Host-` (a sibling sub-domain could plant it), a planted cookie.
    let planted = "A".repeat(43);
    for (cookie, csrf) in [
        (format!("__Host-octo_csrf={raw_cookie}"), raw_cookie.clone()),
        (format!("octo_csrf={raw_cookie}"), form_value.clone()),
        (format!("__Host-octo_csrf={planted}"), form_value.clone()),
    ] {
        let res = login(cookie.clone(), csrf).await;
        assert_eq!(res.status(), 403, "accepted with {cookie}");
    }

    let res = login(format!("__Host-octo_csrf={raw_cookie}"), form_value.clone()).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let cookies = set_cookies(&res);
    for c in &cookies {
        assert!(c.starts_with("__Host-"), "{c}");
        assert!(c.contains("Secure") && c.contains("Path=/"), "{c}");
        assert!(!c.to_lowercase().contains("domain"), "{c}");
    }
    let session = cookie_value(&cookies, "__Host-octo_session");
    let res = browser
        .get(app.url("/account?org=demo"))
        .header("cookie", format!("__Host-octo_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Julie Tremblay"));
    // The same value under a plain name is not a session.
    let res = browser
        .get(app.url("/account?org=demo"))
        .header("cookie", format!("octo_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn on_plain_http_there_is_no_hsts_and_cookies_keep_their_names() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/login?org=demo"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("strict-transport-security").is_none());
    let cookies = set_cookies(&res);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("octo_csrf=") && !c.contains("Secure")),
        "{cookies:?}"
    );
}

/// `octopus-teams serve` run as the real binary in `dir` (its `data/` folder is relative),
/// on its embedded defaults (SQLite, mail as `.eml` files, the demo account).
struct Served {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Served {
    fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        use std::{io::BufRead, process::Stdio};
        let mut cmd = crate::harness::process::command();
        cmd.current_dir(dir)
            .arg("serve")
            .env("OCTOPUS__HTTP__LISTEN", "127.0.0.1:0")
            .env("OCTOPUS__METRICS__LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "octopus_teams=info")
            .env_remove("OCTOPUS_CONFIG")
            .env_remove("OCTOPUS__DATABASE__URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("run the binary");
        let (tx, lines) = std::sync::mpsc::channel();
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(strip_ansi(&line));
                }
            });
        }
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first line containing `needle`, waiting at most 30 s.
    fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!(
                    "no {needle:?} in the output after 30 s:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the process to end (at most 30 s); its exit status and everything it printed.
    fn wait_exit(mut self) -> (std::process::ExitStatus, String) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still running after 30 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        while let Ok(l) = self.lines.recv_timeout(std::time::Duration::from_secs(2)) {
            self.seen.push(l);
        }
        (status, self.seen.join("\n"))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log line without its colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn data_files_are_private_to_the_service_after_start() {
    let dir = tempfile::tempdir().unwrap();
    // Without the service's care, this umask would leave files group- and world-readable.
    std::fs::write(dir.path().join("probe"), "x").unwrap();
    assert_ne!(
        mode(&dir.path().join("probe")) & 0o077,
        0,
        "needs a umask such as 022"
    );

    let mut served = Served::start(
        dir.path(),
        // A password in a URL that is logged: it must not reach the log.
        &[(
            "OCTOPUS__HTTP__PUBLIC_BASE_URL",
            "http://ops:hunter2@127.0.0.1:3978",
        )],
    );
    let line = served.wait_for_line("listening");
    let addr = line
        .split("addr=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();

    // The demo account asks for a link: the mail lands in data/mail as an .eml file.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let page = client
        .get(format!("http://{addr}/forgot?org=demo"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::harness::csrf_of(&page);
    let res = client
        .post(format!("http://{addr}/forgot"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("org", "demo"),
            ("username", "trej"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mail_dir = dir.path().join("data/mail");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let eml = loop {
        let found = std::fs::read_dir(&mail_dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "eml"))
            })
            .ok()
            .flatten();
        if let Some(p) = found {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "no .eml after 20 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };

    let data = dir.path().join("data");
    assert_eq!(mode(&data), 0o700, "data folder");
    assert_eq!(mode(&data.join("octopus-teams.db")), 0o600, "SQLite file");
    assert_eq!(mode(&data.join("secret.key")), 0o600, "key file");
    assert_eq!(mode(&mail_dir), 0o700, "mail folder");
    assert_eq!(mode(&eml), 0o600, "{}", eml.display());

    drop(served.lines.try_iter().collect::<Vec<_>>());
    let logged = served.seen.join("\n");
    assert!(logged.contains("ops:***@127.0.0.1"), "{logged}");
    assert!(!logged.contains("hunter2"), "{logged}");
}

#[tokio::test]
async fn a_key_file_readable_by_others_refuses_the_start_and_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let key = data.join("secret.key");
    std::fs::write(
        &key,
        octopus_teams::service_key::ServiceKey::generate().to_base64(),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let (status, output) = Served::start(dir.path(), &[]).wait_exit();
    assert!(!status.success(), "{output}");
    assert!(output.contains("data/secret.key"), "{output}");
    assert!(output.contains("chmod 600 data/secret.key"), "{output}");
    assert!(!output.contains("listening"), "{output}");

    // Once fixed, the service starts.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut served = Served::start(dir.path(), &[]);
    served.wait_for_line("listening");
}

async fn last_error_of(app: &TestApp, recipient: &str) -> Option<String> {
    sqlx::query_scalar("select last_error from outbox where recipient = $1")
        .bind(recipient)
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

async fn wait_for_error(app: &TestApp, recipient: &str, containing: &str) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(e) = last_error_of(app, recipient).await
            && e.contains(containing)
        {
            return e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {containing:?} error for {recipient}: {:?}",
            last_error_of(app, recipient).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_sealed_payload_copied_to_another_outbox_row_does_not_open() {
    let app = TestApp::spawn().await;
    app.smtp.refuse();
    app.request_link("reset", "trej").await;
    app.request_link("reset", "gagm").await;
    let (julie, marc) = ("julie.tremblay@cegepsi.ca", "marc.gagnon@cegepsi.ca");
    wait_for_error(&app, julie, "451").await;
    wait_for_error(&app, marc, "451").await;

    // Someone who can write to the database puts Julie's sealed link into Marc's row.
    sqlx::query(
        "update outbox set payload = (select payload from outbox where recipient = $1) \
         where recipient = $2",
    )
    .bind(julie)
    .bind(marc)
    .execute(app.store.pool())
    .await
    .unwrap();

    app.smtp.accept();
    app.advance(std::time::Duration::from_secs(60));
    let mails = app
        .smtp
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(mails[0].to, vec![format!("<{julie}>")]);
    wait_for_error(&app, marc, "could not be opened").await;
    assert!(
        app.smtp
            .received()
            .iter()
            .all(|m| m.to != vec![format!("<{marc}>")]),
        "Julie's link reached Marc"
    );
}

async fn import(
    app: &TestApp,
    csv: &str,
) -> Result<directory::ImportReport, directory::ImportError> {
    directory::import_csv(&app.store, &app.org, csv.as_bytes(), app.clock.unix()).await
}

#[tokio::test]
async fn usernames_are_one_account_whatever_their_spelling() {
    let app = TestApp::spawn().await;
    set_julies_password(&app, "abc123").await;

    // Full-width letters, as some input methods type them, are the same account.
    assert_eq!(
        app.sign_in("ＴＲＥＪ", "abc123", "nothing").await.status(),
        303
    );
    let mail = app.link_mail("reset", "Ｔｒｅｊ", 1).await;
    assert_eq!(mail.to, vec!["<julie.tremblay@cegepsi.ca>".to_string()]);

    // At import too: another spelling updates the account, it does not create a second one.
    let report = import(
        &app,
        "username,email,display_name\nＴＲＥＪ,julie.tremblay@cegepsi.ca,Julie Tremblay\n\
         STRAẞE,jean.strasse@cegepsi.ca,Jean Strasse\n",
    )
    .await
    .unwrap();
    assert_eq!((report.created, report.updated), (1, 1));
    let err = import(
        &app,
        "username,email,display_name\nstrasse,autre@cegepsi.ca,Autre\nSTRASSE,x@cegepsi.ca,X\n",
    )
    .await
    .unwrap_err();
    let directory::ImportError::BadRows(bad) = err else {
        panic!("{err}")
    };
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].line, 3);
    assert!(bad[0].reason.contains("username repeats line 2"), "{bad:?}");
}

#[tokio::test]
async fn an_import_that_changes_an_email_ends_the_accounts_links_and_sessions() {
    let app = TestApp::spawn().await;
    set_julies_password(&app, "abc123").await;
    let mail = app.link_mail("reset", "trej", 1).await;
    let link = app.path_of(&app.reset_link(&mail));
    assert_eq!(app.sign_in("trej", "abc123", "me").await.status(), 303);
    assert_eq!(app.get("/account?org=demo").await.0, 200);

    // The same directory again changes nothing.
    import(&app, crate::harness::ACCOUNTS_CSV).await.unwrap();
    assert_eq!(app.get(&link).await.0, 200);
    assert_eq!(app.get("/account?org=demo").await.0, 200);
    assert!(
        !app.audit_events()
            .await
            .contains(&"email_changed".to_string())
    );

    // A new address: the link mailed to the old one and the open session stop working.
    import(
        &app,
        "username,email,display_name\ntrej,julie.t@nouveau.example,Julie Tremblay\n",
    )
    .await
    .unwrap();
    assert_eq!(app.get(&link).await.0, 410, "the old link is revoked");
    let res = app
        .client
        .get(app.url("/account?org=demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the session ended");
    let events = app.audit_events().await;
    assert_eq!(
        events.iter().filter(|e| *e == "email_changed").count(),
        1,
        "{events:?}"
    );
    // Marc, whose address did not change, keeps his.
    let marc = app.link_mail("reset", "gagm", 2).await;
    import(
        &app,
        "username,email,display_name\ntrej,julie.t@nouveau.example,Julie Tremblay\n",
    )
    .await
    .unwrap();
    assert_eq!(app.get(&app.path_of(&app.reset_link(&marc))).await.0, 200);
}

#[tokio::test]
async fn one_account_per_entra_object_id() {
    let app = TestApp::spawn().await;
    let oid = crate::harness::JULIE_OID;

    // Twice in one file: the second row is refused, naming the first.
    let err = import(
        &app,
        "username,email,display_name,entra_object_id\n\
         lavp,paul@cegepsi.ca,Paul Laval,22222222-2222-2222-2222-222222222222\n\
         cotm,marie@cegepsi.ca,Marie Côté,22222222-2222-2222-2222-222222222222\n",
    )
    .await
    .unwrap_err();
    let directory::ImportError::BadRows(bad) = err else {
        panic!("{err}")
    };
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].line, 3);
    assert!(
        bad[0].reason.contains("entra_object_id repeats line 2"),
        "{bad:?}"
    );

    // Already Julie's (in upper case this time): refused, and nothing imported.
    let err = import(
        &app,
        &format!(
            "username,email,display_name,entra_object_id\n\
             lavp,paul@cegepsi.ca,Paul Laval,\n\
             cotm,marie@cegepsi.ca,Marie Côté,{}\n",
            oid.to_uppercase()
        ),
    )
    .await
    .unwrap_err();
    let directory::ImportError::BadRows(bad) = err else {
        panic!("{err}")
    };
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].line, 3);
    assert!(
        bad[0].reason.contains("already belongs to another account"),
        "{bad:?}"
    );
    let mut conn = app.store.conn().await.unwrap();
    assert_eq!(
        octopus_teams::store::accounts::count(&mut conn)
            .await
            .unwrap(),
        2
    );

    // Julie keeps hers on re-import; and the database itself refuses a second holder.
    import(&app, crate::harness::ACCOUNTS_CSV).await.unwrap();
    let dup = sqlx::query(
        "insert into account (account_id, tenant_id, username, email, display_name, entra_object_id, \
         failed_logins, created_at, updated_at) values ('x', $1, 'dup', 'd@cegepsi.ca', 'Dup', $2, 0, 0, 0)",
    )
    .bind(crate::harness::TENANT)
    .bind(oid)
    .execute(app.store.pool())
    .await;
    assert!(dup.is_err(), "unique index");
}

#[test]
fn check_config_warns_when_a_policy_is_weaker_than_nist() {
    let run = |min_length: &str| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("octopus.toml");
        let defaults = octopus_teams::config::DEFAULTS
            .replace("min_length = 4", &format!("min_length = {min_length}"));
        std::fs::write(&file, defaults).unwrap();
        let out = crate::harness::process::command()
            .args(["--config", file.to_str().unwrap(), "check-config"])
            .env("RUST_LOG", "warn")
            .env_remove("OCTOPUS_CONFIG")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let seed = run("4");
    assert!(
        seed.contains("warning: organisations[demo].policy: min_length 4 is below NIST SP 800-63B"),
        "{seed}"
    );
    assert!(!run("8").contains("NIST"));
}

#[tokio::test]
async fn an_import_that_gives_the_account_to_someone_else_ends_what_the_former_owner_had() {
    let app = TestApp::spawn().await;
    set_julies_password(&app, "abc123").await;
    let link = app.path_of(&app.reset_link(&app.link_mail("reset", "trej", 1).await));
    assert_eq!(app.sign_in("trej", "abc123", "me").await.status(), 303);

    // Another Teams identity for trej, the address unchanged.
    import(
        &app,
        "username,email,display_name,entra_object_id\n\
         trej,julie.tremblay@cegepsi.ca,Julie Tremblay,99999999-9999-4999-8999-999999999999\n",
    )
    .await
    .unwrap();
    assert_eq!(app.get(&link).await.0, 410, "the link is revoked");
    let res = app
        .client
        .get(app.url("/account?org=demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the session ended");
    assert!(
        app.audit_events()
            .await
            .contains(&"identity_changed".to_string())
    );

    // A new address and no object id: the former identity's binding goes too.
    import(
        &app,
        "username,email,display_name\ntrej,nouvelle.personne@cegepsi.ca,Nouvelle Personne\n",
    )
    .await
    .unwrap();
    let mut conn = app.store.conn().await.unwrap();
    let trej = octopus_teams::store::accounts::by_username(
        &mut conn,
        &app.org.tenant_id,
        &octopus_teams::model::Username::parse("trej").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(trej.entra_object_id, None);
}
