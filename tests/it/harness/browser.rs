//! Headless Chromium driven through chromedriver (WebDriver), each test with its own driver
//! process and a fresh profile.

use std::{process::Stdio, time::Duration};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// How the browser is set up. By default third-party cookies are blocked, as Chromium's
/// "Block third-party cookies" setting does (and as Teams' own iframe may face).
#[derive(Default)]
pub struct Options {
    /// Chromium's `--host-resolver-rules` (with `--ignore-certificate-errors`): for a stand-in
    /// site that plays a public https name on loopback.
    pub host_resolver_rules: Option<String>,
    /// The negative control only: let third-party cookies through.
    pub allow_third_party_cookies: bool,
    /// More Chromium switches.
    pub extra_args: Vec<String>,
}

pub struct Browser {
    pub client: Client,
    driver: std::process::Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Browser {
    pub async fn start() -> Browser {
        Browser::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Browser {
        // fantoccini's TLS stack sees two rustls backends in this test binary: pick one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = free_port();
        let driver = std::process::Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {chromedriver} ({e}); install chromium-driver (scripts/test does)"
                )
            });
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--disable-quic".into(),
            "--window-size=1024,900".into(),
            "--lang=fr-CA".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(options.extra_args.iter().cloned());
        if let Some(rules) = &options.host_resolver_rules {
            args.push(format!("--host-resolver-rules={rules}"));
            args.push("--ignore-certificate-errors".into());
        }
        // Chromium's cookie setting (CookieControlsMode): 0 allow all, 1 block third-party.
        let cookie_controls_mode = if options.allow_third_party_cookies {
            0
        } else {
            1
        };
        let caps = json!({
            "acceptInsecureCerts": options.host_resolver_rules.is_some(),
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                "prefs": {
                    "intl.accept_languages": "fr-CA,fr",
                    "profile.cookie_controls_mode": cookie_controls_mode,
                }
            }
        });
        let caps = caps.as_object().cloned().expect("object");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::rustls()
                .expect("tls")
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("chromedriver did not start a session: {e}"),
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        el.clear().await.expect("clear");
        el.send_keys(text).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .expect("click");
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .text()
            .await
            .expect("text")
    }

    /// Waits for an element to appear (after a navigation).
    pub async fn wait_for(&self, css: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared: {e}"));
    }

    pub async fn path(&self) -> String {
        let u = self.client.current_url().await.expect("url");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    /// Saves a screenshot under target/screenshots/ (kept as test output).
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
