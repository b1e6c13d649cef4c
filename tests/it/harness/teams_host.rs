//! Microsoft's side of a Teams tab, as the browser sees it: the Teams web client (the stand-in
//! page tests/tab-host/host.html) at `https://teams.cloud.microsoft`, and Microsoft's CDN at
//! `https://res.cdn.office.net`, which serves TeamsJS at the production URL of
//! config/defaults.toml and TeamsJS's own list of trusted hosts. One loopback https server with a
//! throw-away certificate answers every one of these names; the browser reaches it through
//! host-resolver rules that make every other name fail (tests/tab-host/README.md, option A).
//! The service stays at `http://127.0.0.1:<port>`: another site, so the tab is a third-party
//! frame, framed under the production CSP and started with the production `app.initialize()`.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    extract::{Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

/// The Teams web client (new Teams). Production `frame-ancestors` has `https://*.cloud.microsoft`
/// and TeamsJS's built-in list has `*.cloud.microsoft`.
pub const TEAMS_WEB: &str = "https://teams.cloud.microsoft";
/// A Microsoft 365 host that production `frame-ancestors` allows (`https://*.microsoft365.com`)
/// but that TeamsJS 2.58.0's built-in list does not: trusted only through the CDN's list.
pub const NEW_HOST: &str = "https://newhost.microsoft365.com";
/// A host that production `frame-ancestors` allows but that no list of TeamsJS trusts.
pub const UNTRUSTED_HOST: &str = "https://untrusted.microsoft365.com";
/// Where TeamsJS fetches its list of trusted hosts at start-up (hard-coded in the SDK).
pub const VALID_DOMAINS_URL: &str =
    "https://res.cdn.office.net/teams-js/validDomains/json/validDomains.json";
const NAMES: [&str; 4] = [
    "teams.cloud.microsoft",
    "res.cdn.office.net",
    "newhost.microsoft365.com",
    "untrusted.microsoft365.com",
];
pub const SDK_FILE: &str = "node_modules/@microsoft/teams-js/dist/umd/MicrosoftTeams.min.js";

pub fn host_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tab-host")
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(host_dir().join(rel)).unwrap_or_else(|e| {
        panic!("{rel}: {e} (run scripts/test-deps: npm ci --prefix tests/tab-host)")
    })
}

struct Files {
    html: Vec<u8>,
    js: Vec<u8>,
    sdk: Vec<u8>,
    sdk_path: String,
    valid_domains: String,
    requests: Mutex<Vec<String>>,
}

pub struct TeamsHost {
    addr: SocketAddr,
    files: Arc<Files>,
    _dir: tempfile::TempDir,
}

impl TeamsHost {
    /// Serves TeamsJS at the path of `teams_js_url` (the production one: config/defaults.toml).
    pub async fn start(teams_js_url: &str) -> TeamsHost {
        let sdk_path = url::Url::parse(teams_js_url)
            .expect("teams_js_url")
            .path()
            .to_string();
        // What the CDN would list: the hosts the tests use, and one host newer than the SDK.
        let valid_domains = serde_json::json!({
            "validOrigins": ["teams.microsoft.com", "*.cloud.microsoft", "newhost.microsoft365.com"]
        })
        .to_string();
        let files = Arc::new(Files {
            html: read("host.html"),
            js: read("host.js"),
            sdk: read(SDK_FILE),
            sdk_path,
            valid_domains,
            requests: Mutex::new(Vec::new()),
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let acceptor = tls_acceptor(&dir);
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel(16);
        // Each handshake in its own task: a connection that never speaks (a pre-connect) must
        // not hold up the others.
        tokio::spawn(async move {
            while let Ok((stream, peer)) = tcp.accept().await {
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        let app = Router::new().fallback(serve).with_state(files.clone());
        tokio::spawn(async move { axum::serve(TlsListener { rx, addr }, app).await });
        TeamsHost {
            addr,
            files,
            _dir: dir,
        }
    }

    /// Chromium's `--host-resolver-rules`: Microsoft's names to this server, nothing else
    /// resolves but loopback.
    pub fn resolver_rules(&self) -> String {
        let mut rules: Vec<String> = NAMES
            .iter()
            .map(|n| format!("MAP {n} 127.0.0.1:{}", self.addr.port()))
            .collect();
        rules.push("MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost".into());
        rules.join(", ")
    }

    /// Every request so far, as `https://<name><path>` (the query left out).
    pub fn requested(&self) -> Vec<String> {
        self.files
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn serve(State(files): State<Arc<Files>>, req: Request) -> Response {
    let name = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let path = req.uri().path().to_string();
    files
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!("https://{name}{path}"));
    let (kind, body): (&str, Vec<u8>) = match path.as_str() {
        "/host.html" => ("text/html; charset=utf-8", files.html.clone()),
        "/host.js" => ("text/javascript", files.js.clone()),
        "/teams-js/validDomains/json/validDomains.json" => {
            ("application/json", files.valid_domains.clone().into_bytes())
        }
        p if p == files.sdk_path => ("text/javascript", files.sdk.clone()),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            // As the CDN does: the tab loads TeamsJS with crossorigin="anonymous" (SRI).
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

/// A self-signed certificate for all the names, made with openssl (Chromium runs with
/// --ignore-certificate-errors: only its trust chain is ignored, https stays https).
fn tls_acceptor(dir: &tempfile::TempDir) -> TlsAcceptor {
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let san = NAMES.map(|n| format!("DNS:{n}")).join(",");
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=teams.cloud.microsoft", "-addext"])
        .arg(format!("subjectAltName={san}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (the Teams host's throw-away certificate)");
    assert!(status.success(), "openssl req failed");
    let chain = vec![CertificateDer::from_pem_file(&cert).expect("cert.pem")];
    let key = PrivateKeyDer::from_pem_file(&key).expect("key.pem");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("certificate");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

/// Connections whose TLS handshake is done, for `axum::serve`.
struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
