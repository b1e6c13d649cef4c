//! What an organisation deploys, run here: the nginx configuration of `deploy/nginx/` in front of
//! the service (TLS from a test CA), the systemd unit of `deploy/systemd/` verified, and the real
//! binary keeping everything in its data directory, backed up while it serves and restored.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use serde_json::json;

use crate::harness::{BOT_ID, TestApp, entra::SsoToken, process};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A CA and a certificate for `localhost` signed by it: (CA PEM, certificate PEM, key PEM).
fn test_certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "octopus-teams deploy test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.use_authority_key_identifier_extension = true;
    let leaf_key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    (ca.pem(), cert.pem(), leaf_key.serialize_pem())
}

/// nginx with the shipped site configuration, its names and addresses made this test's; stopped
/// (and its folder removed) when dropped.
struct Nginx {
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// nginx serving TLS on `port` (and plain HTTP on `http_port`) in front of `upstream`, once it
    /// answers `/healthz` through TLS. A port chosen free can be taken by another test's connection
    /// before nginx binds it: then the error is nginx's own log, for the caller to try new ports.
    async fn start(
        port: u16,
        http_port: u16,
        upstream: &str,
        (ca, cert, key): (&str, &str, &str),
    ) -> Result<Nginx, String> {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("fullchain.pem"), cert).unwrap();
        std::fs::write(d.join("privkey.pem"), key).unwrap();
        let site = std::fs::read_to_string(repo("deploy/nginx/octopus-teams.conf")).unwrap();
        let site = site
            .replace("server 127.0.0.1:3978;", &format!("server {upstream};"))
            .replace("octopus.example.org", "localhost")
            .replace("/etc/ssl/octopus-teams/", &format!("{}/", d.display()))
            .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"))
            .replace("listen 80;", &format!("listen 127.0.0.1:{http_port};"))
            .lines()
            .filter(|l| !l.contains("listen [::]"))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(d.join("site.conf"), site).unwrap();
        let main = format!(
            "daemon off;\nmaster_process off;\nerror_log {d}/error.log warn;\npid {d}/nginx.pid;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n",
            d = d.display()
        );
        std::fs::write(d.join("nginx.conf"), main).unwrap();
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is installed (scripts/test-deps)");
        let test = std::process::Command::new(nginx)
            .args(["-t", "-p"])
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .output()
            .unwrap();
        assert!(
            test.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let mut child = tokio::process::Command::new(nginx)
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let log = || std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
        // Accepting TCP is not yet serving TLS on a loaded machine: wait for an answer through it.
        let probe = client_from(ca, Ipv4Addr::new(127, 0, 0, 9));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("nginx stopped ({status}): {}", log()));
            }
            let healthz = probe.get(format!("https://localhost:{port}/healthz"));
            if matches!(healthz.send().await, Ok(res) if res.status() == 200) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("nginx never answered on {port}: {}", log()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Nginx {
            _child: child,
            _dir: dir,
        })
    }
}

/// The service on its embedded defaults (changed by `config`) behind the shipped nginx, on free
/// ports; returns the public `https://localhost:port` address too. Tried on new ports up to three
/// times when nginx cannot bind the ones it was given.
async fn behind_nginx(
    certificates: (&str, &str, &str),
    config: impl Fn(&mut octopus_teams::config::RawConfig) + Clone + Send + 'static,
) -> (TestApp, Nginx, String) {
    let mut failures = Vec::new();
    for _ in 0..3 {
        let (port, http_port) = (process::free_addr().port(), process::free_addr().port());
        if port == http_port {
            continue;
        }
        let public = format!("https://localhost:{port}");
        let app = TestApp::builder()
            .config({
                let (public, config) = (public.clone(), config.clone());
                move |c| {
                    c.http.public_base_url = public;
                    config(c);
                }
            })
            .spawn()
            .await;
        let upstream = app.base.trim_start_matches("http://").to_string();
        match Nginx::start(port, http_port, &upstream, certificates).await {
            Ok(nginx) => return (app, nginx, public),
            Err(e) => failures.push(e),
        }
    }
    panic!("nginx did not start in three tries: {failures:#?}");
}

/// A browser-like client that trusts the test CA, from the loopback address `from`.
fn client_from(ca: &str, from: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .local_address(IpAddr::V4(from))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn enrol_request(client: &reqwest::Client, base: &str) -> u16 {
    let fields = [("org", "demo"), ("username", "trej")];
    crate::operations::submit(client, base, "/enroll", &fields).await
}

#[tokio::test]
async fn behind_the_shipped_nginx_the_pages_bot_and_tab_work_and_clients_keep_their_own_limits() {
    let (ca, cert, key) = test_certificates();
    let (app, _nginx, public) = behind_nginx((&ca, &cert, &key), |c| {
        c.http.trusted_proxies = vec!["127.0.0.1/32".into()];
        c.limits.requests_per_ip = 2;
        c.limits.requests_per_account = 10;
        c.teams_app.sso_app_id = Some(crate::tab::SSO_APP.into());
    })
    .await;

    // The web journey through TLS: the form, the mail, the link, the new password.
    let alice = client_from(&ca, Ipv4Addr::new(127, 0, 0, 2));
    let res = alice
        .get(format!("{public}/enroll?org=demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get_all("strict-transport-security")
            .iter()
            .count(),
        1,
        "HSTS once, from the service"
    );
    assert_eq!(enrol_request(&alice, &public).await, 200);
    let mail = app.smtp.wait_for(1, Duration::from_secs(10)).await;
    let link = mail[0].link(&format!("{public}/reset/"));
    let page = alice.get(&link).send().await.unwrap().text().await.unwrap();
    let csrf = crate::harness::csrf_of(&page);
    let res = alice
        .post(&link)
        .form(&[
            ("password", "ete2026"),
            ("confirmation", "ete2026"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    // Two people behind the proxy: each has the per-address allowance of their own.
    assert_eq!(enrol_request(&alice, &public).await, 200);
    assert_eq!(
        enrol_request(&alice, &public).await,
        429,
        "Alice's third request"
    );
    let bob = client_from(&ca, Ipv4Addr::new(127, 0, 0, 3));
    assert_eq!(enrol_request(&bob, &public).await, 200, "Bob is not Alice");

    // A bot activity with a valid channel token.
    let token = app.idp.channel_token(BOT_ID, &app.connector.service_url);
    let res = bob
        .post(format!("{public}/api/messages"))
        .bearer_auth(token)
        .json(&app.personal("mot de passe oublié"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.connector.wait_for(1).await;

    // The tab's single sign-on call.
    let token = SsoToken::julie()
        .for_app(crate::tab::SSO_APP)
        .signed(&app.entra);
    let res = bob
        .get(format!("{public}/api/tab/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["username"], json!("trej"), "{me}");

    // Metrics are not published through the proxy.
    let res = bob.get(format!("{public}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(repo("deploy/systemd/octopus-teams.service"))
        .unwrap()
        .replace("/usr/local/bin/octopus-teams", &process::bin());
    let file = dir.path().join("octopus-teams.service");
    std::fs::write(&file, unit).unwrap();
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
        .expect("systemd-analyze is installed");
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let security = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&security.stdout);
    let exposure: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for").nth(1))
        .and_then(|rest| rest.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("an exposure level in:\n{text}"));
    println!("systemd-analyze security: exposure {exposure}");
    assert!(exposure <= 2.0, "exposure {exposure}:\n{text}");
}

/// The binary as the unit runs it: everything under `data` (the working directory elsewhere).
fn in_data_dir(dir: &Path, data: &Path) -> std::process::Command {
    let mut cmd = process::command();
    cmd.current_dir(dir)
        .env("OCTOPUS__DATA_DIR", data)
        .env("RUST_LOG", "warn");
    cmd
}

async fn output(mut cmd: std::process::Command) -> (bool, String) {
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn a_backup_taken_while_serving_holds_every_committed_account_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let (ok, out) = output({
        let mut c = in_data_dir(dir.path(), &data);
        c.args(["scim", "token", "--org", "demo"]);
        c
    })
    .await;
    assert!(ok, "{out}");
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("Secret Token: "))
        .unwrap()
        .to_string();
    let (child, base) = process::serve(in_data_dir(dir.path(), &data)).await;
    let listen = base.trim_start_matches("http://").to_string();
    let (ok, out) = output({
        let mut c = in_data_dir(dir.path(), &data);
        c.env("OCTOPUS__HTTP__LISTEN", &listen).arg("healthcheck");
        c
    })
    .await;
    assert!(ok, "healthcheck: {out}");

    // Accounts keep arriving while the backup is taken.
    let create = |n: usize| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("agent{n:03}@cegepsi.ca"), "active": true,
                "displayName": format!("Agent {n}"),
                "emails": [{"type": "work", "value": format!("agent{n:03}@cegepsi.ca")}]});
            let res = reqwest::Client::new()
                .post(format!("{base}/scim/v2/Users"))
                .bearer_auth(&token)
                .json(&user)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
        }
    };
    for n in 0..40 {
        create(n).await;
    }
    let backup_file = dir.path().join("octopus-teams-backup.db");
    let backup = tokio::spawn(output({
        let mut c = in_data_dir(dir.path(), &data);
        c.arg("backup").arg("--to").arg(&backup_file);
        c
    }));
    for n in 40..80 {
        create(n).await;
    }
    let (ok, out) = backup.await.unwrap();
    assert!(ok, "backup: {out}");
    let held: usize = out
        .split(" account(s)")
        .next()
        .and_then(|s| s.rsplit(", ").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("a count in {out:?}"));
    // The demo account and the first 40 were committed before the backup began.
    assert!((41..=81).contains(&held), "{held}: {out}");

    // Everything the service wrote is in the data directory, nothing beside it.
    assert!(data.join("octopus-teams.db").is_file());
    assert!(data.join("secret.key").is_file());
    assert!(!dir.path().join("data").exists(), "no ./data beside it");

    // Restore: stop, put the copy in place, start; the accounts are there and work.
    drop(child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(data.join(format!("octopus-teams.db{suffix}")));
    }
    std::fs::copy(&backup_file, data.join("octopus-teams.db")).unwrap();
    let (_child, base) = process::serve(in_data_dir(dir.path(), &data)).await;
    let (_, list) = output({
        let mut c = in_data_dir(dir.path(), &data);
        c.args(["users", "list"]);
        c
    })
    .await;
    for n in 0..40 {
        assert!(
            list.contains(&format!("agent{n:03}")),
            "agent{n:03} restored:\n{list}"
        );
    }
    assert!(list.contains(&format!("{held} account(s)")), "{list}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    assert_eq!(enrol_request(&client, &base).await, 200);
    let mail_dir = data.join("mail");
    let mut found = false;
    for _ in 0..100 {
        if std::fs::read_dir(&mail_dir).is_ok_and(|mut d| d.next().is_some()) {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the mail lands in {}", mail_dir.display());
}

#[tokio::test]
async fn serve_started_before_its_postgresql_waits_for_it() {
    if std::env::var("DATABASE_URL").is_err() {
        eprintln!("skipped on SQLite: a file needs no waiting for");
        return;
    }
    let db = crate::harness::TestDb::create().await;
    // PostgreSQL appears on this port 3 s after the service started: a forwarder to the real one.
    let late = process::free_addr();
    let real = db
        .url
        .split('@')
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    let late_url = db.url.replacen(&real, &late.to_string(), 1);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let listener = tokio::net::TcpListener::bind(late).await.unwrap();
        loop {
            let (mut inbound, _) = listener.accept().await.unwrap();
            let real = real.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&real).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let mut cmd = process::command();
    cmd.env("OCTOPUS__DATABASE__URL", &late_url)
        .env(
            "OCTOPUS__SECURITY__SECRET_KEY",
            octopus_teams::service_key::ServiceKey::generate().to_base64(),
        )
        .env("OCTOPUS__DEMO__SEED", "false")
        .env("RUST_LOG", "warn");
    let addr = process::free_addr();
    let base = format!("http://{addr}");
    cmd.arg("serve")
        .env("OCTOPUS__HTTP__LISTEN", addr.to_string())
        .env("OCTOPUS__METRICS__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _child = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // While it waits, the address answers: alive, not ready.
    let client = reqwest::Client::new();
    let mut answered = None;
    for _ in 0..40 {
        if let Ok(res) = client.get(format!("{base}/readyz")).send().await {
            answered = Some(res.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answered, Some(503), "not ready while the database is away");
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    process::ready(&base, Duration::from_secs(30)).await;
    let res = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(res.status(), 200, "then the whole service");
}
