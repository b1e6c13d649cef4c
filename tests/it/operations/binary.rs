//! What the README promises operators, checked on the real binary (`serve`, `migrate`,
//! `users list`) in a temp working directory, and `/readyz` with the database cut off.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use secrecy::SecretString;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::{TcpListener, TcpStream},
    process::{Child, Command},
    task::AbortHandle,
};

use crate::harness::{ReceivedMail, SmtpSink, TestApp, TestDb, csrf_of, process};

const WAIT: Duration = Duration::from_secs(30);
/// The demo account `serve` creates on an empty directory (src/app/build.rs, seed_demo).
const DEMO_EMAIL: &str = "julie.tremblay@example.org";

/// The real binary running `serve` in `dir`, its standard output and error captured.
struct Served {
    child: Child,
    output: Arc<Mutex<String>>,
    base: String,
}

impl Served {
    /// Starts `octopus-teams --log-format json serve` in `dir` on a free loopback port, with
    /// nothing from the caller's OCTOPUS_* environment, and waits for its "listening" line.
    async fn start(dir: &Path, env: &[(&str, &str)]) -> Served {
        let mut cmd = Command::from(process::command());
        cmd.args(["--log-format", "json", "serve"])
            .current_dir(dir)
            .env("OCTOPUS__HTTP__LISTEN", "127.0.0.1:0")
            .env("OCTOPUS__METRICS__LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start the binary");
        let output = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        tokio::spawn(collect(stdout, output.clone()));
        tokio::spawn(collect(stderr, output.clone()));

        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let addr = output
                .lock()
                .unwrap()
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|l| {
                    l["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("listening"))
                })
                .and_then(|l| l["addr"].as_str().map(str::to_string));
            if let Some(addr) = addr {
                return Served {
                    child,
                    output,
                    base: format!("http://{addr}"),
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the binary exited ({status}) before listening:\n{}",
                    output.lock().unwrap()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no \"listening\" line within {WAIT:?}:\n{}",
                output.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Kills the process (a crash, as far as the service can tell) and waits for it.
    async fn kill(mut self) -> String {
        self.child.kill().await.expect("kill the binary");
        // Let the readers drain what was written before the kill.
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.output()
    }
}

async fn collect(pipe: impl tokio::io::AsyncRead + Unpin, into: Arc<Mutex<String>>) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut out = into.lock().unwrap();
        out.push_str(&line);
        out.push('\n');
    }
}

/// A browser-like client: cookies kept, redirects not followed.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// GETs `page` for its CSRF value, then POSTs the form to the same path.
pub async fn submit(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> u16 {
    let html = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_of(&html);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    client
        .post(format!("{base}{path}"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The token of the first `/reset/…` link in the mail's text.
fn token_in(mail: &ReceivedMail) -> String {
    let text = mail.text();
    let start = text.find("/reset/").expect("a reset link in the mail") + "/reset/".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Waits until `dir` holds a `.eml` file and returns it.
async fn wait_for_eml(dir: &Path) -> PathBuf {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(entries) = std::fs::read_dir(dir) {
            let found = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "eml"));
            if let Some(p) = found {
                return p;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no .eml in {} within {WAIT:?}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn on_embedded_defaults_the_demo_account_enrols_through_an_eml_file() {
    // README line 1: no configuration at all (only a free port instead of 3978).
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), &[]).await;
    let client = browser();
    let status = submit(
        &client,
        &served.base,
        "/enroll",
        &[("org", "demo"), ("username", "trej")],
    )
    .await;
    assert_eq!(status, 200, "{}", served.output());

    let eml = wait_for_eml(&dir.path().join("data/mail")).await;
    let mail = ReceivedMail {
        from: String::new(),
        to: Vec::new(),
        data: std::fs::read(&eml).unwrap(),
    };
    assert_eq!(
        mail.header("To").as_deref(),
        Some(DEMO_EMAIL),
        "{}",
        eml.display()
    );
    assert_eq!(
        mail.subject(),
        "Inscription au portail Web du Centre de services"
    );
    assert!(mail.html().contains("Changement de mot de passe"));
    // The link names the default public URL; the path is served by this instance.
    let link = mail.link("http://127.0.0.1:3978/reset/");
    let path = link.trim_start_matches("http://127.0.0.1:3978");
    let res = client
        .get(format!("{}{path}", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(dir.path().join("data/octopus-teams.db").is_file());
    assert!(dir.path().join("data/secret.key").is_file());
    assert_eq!(
        submit(
            &client,
            &served.base,
            path,
            &[("password", "demo2026"), ("confirmation", "demo2026")]
        )
        .await,
        303,
        "the demo account sets its first password"
    );
    served.kill().await;
}

#[tokio::test]
async fn request_logs_name_the_route_never_the_token() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL needs the shared key in configuration (every instance opens the others' mail).
    let key = octopus_teams::service_key::ServiceKey::generate().to_base64();
    let mut env = vec![("OCTOPUS__DATABASE__URL", db.url.as_str())];
    if db.is_postgres() {
        env.push(("OCTOPUS__SECURITY__SECRET_KEY", key.as_str()));
    }
    let served = Served::start(dir.path(), &env).await;
    let client = browser();
    assert_eq!(
        submit(
            &client,
            &served.base,
            "/enroll",
            &[("org", "demo"), ("username", "trej")]
        )
        .await,
        200
    );
    let eml = wait_for_eml(&dir.path().join("data/mail")).await;
    let mail = ReceivedMail {
        from: String::new(),
        to: Vec::new(),
        data: std::fs::read(&eml).unwrap(),
    };
    let token = token_in(&mail);
    assert!(token.len() >= 40, "a 256-bit token: {token}");
    let path = format!("/reset/{token}");
    let res = client
        .get(format!("{}{path}", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A form whose CSRF value is not this browser's: refused, and logged once with its route.
    let forged = client
        .post(format!("{}{path}", served.base))
        .form(&[
            ("csrf", "forged"),
            ("password", "abc123"),
            ("confirmation", "abc123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(
        submit(
            &client,
            &served.base,
            &path,
            &[("password", "abc123"), ("confirmation", "abc123")]
        )
        .await,
        303
    );
    // A used link: the error path logs too.
    let res = client
        .get(format!("{}{path}", served.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);

    let logs = served.kill().await;
    let routes: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l.to_string().contains("\"route\":\"/reset/{token}\""))
        .collect();
    assert!(
        routes.len() >= 3,
        "the requests on /reset/{{token}} are logged by their route template:\n{logs}"
    );
    assert!(
        !logs.contains(&token),
        "the token appears in the logs (debug level, JSON):\n{logs}"
    );
    let refused: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("form refused") && l.contains("/reset/{token}"))
        .collect();
    assert_eq!(refused.len(), 1, "one line for the CSRF refusal:\n{logs}");
    assert!(refused[0].contains("\"INFO\""), "{}", refused[0]);
}

#[tokio::test]
async fn the_secret_key_is_created_once_and_pending_mail_survives_a_restart() {
    let db = TestDb::create().await;
    if db.is_postgres() {
        // With PostgreSQL the key must be configured and no file is made (in_process.rs tests that
        // the start is refused without it): this is the single-instance SQLite default.
        eprintln!("skipped on PostgreSQL: data/secret.key is the SQLite default's");
        return;
    }
    let smtp = SmtpSink::start().await;
    smtp.refuse();
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("OCTOPUS__DATABASE__URL", db.url.as_str()),
        ("OCTOPUS__MAIL__TRANSPORT", &smtp.url()),
        ("OCTOPUS__MAIL__POLL_INTERVAL_SECS", "1"),
    ];
    let key_file = dir.path().join("data/secret.key");

    let first = Served::start(dir.path(), &env).await;
    let key = std::fs::read_to_string(&key_file).expect("data/secret.key created at start");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner reads the key: {mode:o}");
    }
    let client = browser();
    assert_eq!(
        submit(
            &client,
            &first.base,
            "/forgot",
            &[("org", "demo"), ("username", "trej")]
        )
        .await,
        200
    );
    // The mail is queued, sealed with the key; the relay refuses it for now. Killed once that
    // refusal is on the row (killed mid-attempt, the row would stay leased for the lease's
    // two minutes: the single-instance SQLite path).
    let deadline = tokio::time::Instant::now() + WAIT;
    while scalar(
        &db,
        "select count(*) from outbox where last_error is not null",
    )
    .await
    .unwrap_or(0)
        < 1
    {
        assert!(tokio::time::Instant::now() < deadline, "no refused attempt");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs = first.kill().await;
    assert!(smtp.received().is_empty(), "{logs}");

    smtp.accept();
    let second = Served::start(dir.path(), &env).await;
    // The refused first attempt may have scheduled its retry already (30 s ± 20 %, on the real
    // clock of the real binary): wait past the longest first backoff.
    let mail = smtp.wait_for(1, Duration::from_secs(60)).await.remove(0);
    assert_eq!(mail.to, vec![format!("<{DEMO_EMAIL}>")]);
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        key,
        "the same key after the restart"
    );
    let token = token_in(&mail);
    let res = client
        .get(format!("{}/reset/{token}", second.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the link mailed after the restart opens");
    second.kill().await;
}

/// Runs an admin command of the real binary on `db`, with `config` as its file.
async fn admin(db: &TestDb, config: Option<&Path>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::from(process::command());
    if let Some(file) = config {
        cmd.arg("--config").arg(file);
    }
    let out = cmd
        .args(args)
        .env("OCTOPUS__DATABASE__URL", &db.url)
        .env("OCTOPUS__DEMO__SEED", "false")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn scalar(db: &TestDb, sql: &str) -> Result<i64, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await?;
    let n = sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await;
    pool.close().await;
    n
}

#[tokio::test]
async fn migrate_creates_the_schema_on_an_empty_database_and_is_idempotent() {
    let db = TestDb::create().await;
    assert!(
        scalar(&db, "select count(*) from account").await.is_err(),
        "the database starts empty"
    );
    let dialect = if db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    let files = std::fs::read_dir(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect),
    )
    .unwrap()
    .filter(|e| {
        e.as_ref()
            .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
    })
    .count() as i64;

    let (code, out, err) = admin(&db, None, &["migrate"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "applied {files} migration(s); the schema is up to date ({files})"
        )),
        "{out}"
    );
    assert_eq!(
        scalar(&db, "select count(*) from _sqlx_migrations where success")
            .await
            .unwrap(),
        files,
        "every migration of migrations/{dialect} applied"
    );
    assert_eq!(
        scalar(&db, "select count(*) from account").await.unwrap(),
        0
    );

    let csv = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        csv.path(),
        "username,email,display_name\ntrej,julie.tremblay@cegepsi.ca,Julie Tremblay\n",
    )
    .unwrap();
    let (code, out, err) = admin(
        &db,
        None,
        &["users", "import", csv.path().to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");

    let (code, out, err) = admin(&db, None, &["migrate"]).await;
    assert_eq!(code, 0, "a second run changes nothing: {out}{err}");
    assert!(out.contains("the schema was already up to date"), "{out}");
    assert_eq!(
        scalar(&db, "select count(*) from _sqlx_migrations")
            .await
            .unwrap(),
        files
    );
    assert_eq!(
        scalar(&db, "select count(*) from account").await.unwrap(),
        1,
        "data kept"
    );
}

#[tokio::test]
async fn migrate_brings_an_older_schema_up_to_date() {
    let db = TestDb::create().await;
    let dialect = if db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect),
    )
    .unwrap()
    .map(|e| e.unwrap().path())
    .filter(|p| p.extension().is_some_and(|x| x == "sql"))
    .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");

    // A database as an older release left it: only the first migration applied.
    let older = tempfile::tempdir().unwrap();
    std::fs::copy(&files[0], older.path().join(files[0].file_name().unwrap())).unwrap();
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(older.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(
        scalar(&db, "select count(*) from bot_request")
            .await
            .is_err(),
        "the bot's tables come with a later migration"
    );

    let (code, out, err) = admin(&db, None, &["migrate"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        scalar(&db, "select count(*) from _sqlx_migrations where success")
            .await
            .unwrap(),
        files.len() as i64
    );
    assert_eq!(
        scalar(&db, "select count(*) from bot_request")
            .await
            .unwrap(),
        0,
        "the later migrations applied"
    );
}

const TWO_ORGS: &str = r#"
[[organisations]]
tenant_id = "11111111-2222-3333-4444-555555555555"
slug = "cegep"
name = "Cégep de Sept-Îles"
portal_url = "https://cegepdeseptiles.octopus-itsm.com/Web/Login.aspx"
sender = "Soutien TI <supportTI@cegepsi.ca>"
time_zone = "America/Toronto"
default_locale = "fr-CA"
token_lifetime_minutes = 30

[[organisations]]
tenant_id = "66666666-7777-8888-9999-000000000000"
slug = "cisss"
name = "CISSS de la Côte-Nord"
portal_url = "https://cisss.octopus-itsm.com/Web/Login.aspx"
sender = "Centre de services <supportTI@cisss.example.org>"
time_zone = "America/Toronto"
default_locale = "fr-CA"
token_lifetime_minutes = 30
"#;

#[tokio::test]
async fn users_list_by_organisation_and_a_clear_error_for_an_unknown_one() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("octopus.toml");
    std::fs::write(&config, TWO_ORGS).unwrap();
    let cegep = dir.path().join("cegep.csv");
    std::fs::write(
        &cegep,
        "username,email,display_name\ntrej,julie.tremblay@cegepsi.ca,Julie Tremblay\ngagm,marc.gagnon@cegepsi.ca,Marc Gagnon\n",
    )
    .unwrap();
    let cisss = dir.path().join("cisss.csv");
    std::fs::write(
        &cisss,
        "username,email,display_name\nboua,alice.boucher@cisss.example.org,Alice Boucher\n",
    )
    .unwrap();
    for (file, org) in [(&cegep, "cegep"), (&cisss, "cisss")] {
        let (code, out, err) = admin(
            &db,
            Some(&config),
            &["users", "import", file.to_str().unwrap(), "--org", org],
        )
        .await;
        assert_eq!(code, 0, "{out}{err}");
    }

    let (code, out, err) = admin(&db, Some(&config), &["users", "list", "--org", "cegep"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("trej") && out.contains("gagm"), "{out}");
    assert!(!out.contains("boua"), "only the Cégep's accounts: {out}");
    assert!(out.contains("2 account(s)"), "{out}");

    // The tenant id names the organisation as well as the slug.
    let (code, out, err) = admin(
        &db,
        Some(&config),
        &[
            "users",
            "list",
            "--org",
            "66666666-7777-8888-9999-000000000000",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("alice.boucher@cisss.example.org"), "{out}");
    assert!(!out.contains("trej"), "{out}");
    assert!(out.contains("1 account(s)"), "{out}");

    let (_, all, _) = admin(&db, Some(&config), &["users", "list"]).await;
    assert!(all.contains("3 account(s)"), "{all}");

    let (code, out, err) = admin(&db, Some(&config), &["users", "list", "--org", "nowhere"]).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("no organisation \"nowhere\" in the configuration"),
        "{err}"
    );
    assert!(!out.contains("account(s)"), "nothing listed: {out}");
}

/// A TCP proxy in front of the database that the test can cut (every connection closed, new
/// ones closed as soon as they are accepted) and restore.
struct CuttableProxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<AbortHandle>>>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = CuttableProxy {
            addr: listener.local_addr().unwrap(),
            cut: Arc::default(),
            open: Arc::default(),
        };
        let (cut, open) = (proxy.cut.clone(), proxy.open.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                open.lock().unwrap().push(task.abort_handle());
            }
        });
        proxy
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for task in self.open.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

async fn wait_for_readyz(app: &TestApp, want: u16) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = app.get("/readyz").await;
        if status == want {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz still {status} ({body}) after {WAIT:?}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn readyz_fails_while_the_database_is_down_and_recovers() {
    // SQLite is a file inside the process: it cannot be "down". PostgreSQL can.
    let Some(upstream) = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .and_then(|u| url::Url::parse(&u).ok())
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or("127.0.0.1"),
                u.port().unwrap_or(5432)
            )
        })
    else {
        eprintln!("readyz_fails_while_the_database_is_down: PostgreSQL only (DATABASE_URL unset)");
        return;
    };
    let proxy = CuttableProxy::start(upstream).await;
    let through = proxy.addr;
    let app = TestApp::builder()
        .config(move |raw| {
            let mut url = url::Url::parse(secrecy::ExposeSecret::expose_secret(&raw.database.url))
                .expect("a database URL");
            url.set_ip_host(through.ip()).unwrap();
            url.set_port(Some(through.port())).unwrap();
            raw.database.url = SecretString::from(url.to_string());
        })
        .spawn()
        .await;
    assert_eq!(wait_for_readyz(&app, 200).await, "ready");
    assert_eq!(app.get("/healthz").await.0, 200);

    proxy.cut();
    assert_eq!(wait_for_readyz(&app, 503).await, "database unreachable");
    assert_eq!(app.get("/healthz").await.0, 200, "the process still runs");
    // Probes keep coming during the outage: the change is logged once.
    for _ in 0..3 {
        assert_eq!(app.get("/readyz").await.0, 503);
    }
    assert_eq!(
        crate::harness::logs::warnings_with("not ready: the database does not answer").len(),
        1
    );

    proxy.restore();
    assert_eq!(wait_for_readyz(&app, 200).await, "ready");
}
