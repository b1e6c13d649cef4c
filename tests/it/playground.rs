//! Microsoft's own local Teams client, the Microsoft 365 Agents Playground (npm
//! `@microsoft/m365agentsplayground`, pinned in tests/playground/), against the real binary on its
//! embedded defaults (local-development mode, SQLite and the mail folder in a temporary working
//! directory), driven in headless Chromium: what a newcomer gets from the README's run command
//! and the playground command.
//!
//! Nothing leaves loopback: the playground runs with telemetry off (`--dt`), the Application
//! Insights "statsbeat" off (`APPLICATION_INSIGHTS_NO_STATSBEAT=true`: without it the playground
//! calls the Azure VM metadata address and westus-0.in.applicationinsights.azure.com even with
//! `--dt`) and no browser of its own (`TEAMSAPPTESTER_BROWSER=none`); `loopback-only.cjs` refuses
//! and reports any other connection its node process tries, and the test fails on a report.
//! Chromium resolves every host but loopback to nothing, so the playground's web fonts from
//! Microsoft's CDN fail quietly and the page falls back to local fonts.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::Locator;
use octopus_teams::i18n::{Locale, Strings};

use crate::harness::browser::{Browser, Options};

pub(crate) const WAIT: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process killed with the test.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_until_it_answers(url: &str, what: &str, log: &Path) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    loop {
        if client.get(url).send().await.is_ok() {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{what} did not answer at {url}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The binary under test, in `dir`, with no `OCTOPUS…` variable of the test's environment, and
/// `--config FILE` when given.
pub(crate) fn octopus(dir: &Path, config: Option<&Path>) -> Command {
    let mut cmd = crate::harness::process::command();
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    cmd.current_dir(dir).env("NO_COLOR", "1");
    cmd
}

/// `cargo run --release` as the README says, in `dir`: no configuration at all, or `config`.
pub(crate) async fn the_service(dir: &Path, config: Option<&Path>) -> (Running, u16) {
    let port = free_port();
    let log = std::fs::File::create(dir.join("service.log")).expect("log file");
    // Only the port differs from the README's run: 3978 may be taken on this machine.
    let child = octopus(dir, config)
        .env("OCTOPUS__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("OCTOPUS__METRICS__LISTEN", "127.0.0.1:0")
        .env(
            "OCTOPUS__HTTP__PUBLIC_BASE_URL",
            format!("http://127.0.0.1:{port}"),
        )
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start octopus-teams");
    let running = Running(child);
    wait_until_it_answers(
        &format!("http://127.0.0.1:{port}/healthz"),
        "the service",
        &dir.join("service.log"),
    )
    .await;
    (running, port)
}

/// The README's playground command, on a free port.
pub(crate) async fn the_playground(dir: &Path, service_port: u16) -> (Running, u16) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/playground");
    let cli = root.join("node_modules/@microsoft/m365agentsplayground/cli.js");
    assert!(
        cli.exists(),
        "{} is missing: run scripts/test-deps (npm ci in tests/playground)",
        cli.display()
    );
    let port = free_port();
    let log = std::fs::File::create(dir.join("playground.log")).expect("log file");
    let child = Command::new("node")
        .arg("--require")
        .arg(root.join("loopback-only.cjs"))
        .arg(&cli)
        .args([
            "start",
            "-e",
            &format!("http://127.0.0.1:{service_port}/api/messages"),
            "-c",
            "msteams",
            "--dt",
            "-p",
            &port.to_string(),
        ])
        .current_dir(dir)
        .env("TEAMSAPPTESTER_BROWSER", "none")
        // --dt turns the usage telemetry off but not the Application Insights SDK's "statsbeat",
        // which probes the Azure VM metadata address and posts to *.in.applicationinsights.azure.com.
        .env("APPLICATION_INSIGHTS_NO_STATSBEAT", "true")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start the Agents Playground (node)");
    let running = Running(child);
    wait_until_it_answers(
        &format!("http://127.0.0.1:{port}/"),
        "the playground",
        &dir.join("playground.log"),
    )
    .await;
    (running, port)
}

/// Headless Chromium on the playground's page, and the screenshot folder.
pub(crate) async fn open_the_playground(port: u16) -> (Browser, PathBuf) {
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/playground-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    // Every host but loopback resolves to nothing: the page cannot reach the internet.
    let browser = Browser::start_with(Options {
        extra_args: vec![
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1".into(),
            "--window-size=1400,1000".into(),
        ],
        ..Options::default()
    })
    .await;
    browser
        .client
        .goto(&format!("http://127.0.0.1:{port}/"))
        .await
        .expect("open the playground");
    (browser, shots)
}

pub(crate) struct Page<'a> {
    pub(crate) browser: &'a Browser,
    pub(crate) shots: PathBuf,
    pub(crate) dir: &'a Path,
}

impl Page<'_> {
    pub(crate) async fn text(&self) -> String {
        self.browser
            .client
            .execute("return document.body.innerText", vec![])
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Waits until `needle` shows `times` times on the page.
    pub(crate) async fn wait_for_text(&self, needle: &str, times: usize, step: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.text().await;
            if text.matches(needle).count() >= times {
                return;
            }
            if Instant::now() > deadline {
                self.shot(&format!("{step}-FAILED")).await;
                panic!(
                    "{step}: {needle:?} not shown {times} time(s) in the playground.\npage:\n{text}\n\
                     service log:\n{}\nplayground log:\n{}",
                    std::fs::read_to_string(self.dir.join("service.log")).unwrap_or_default(),
                    std::fs::read_to_string(self.dir.join("playground.log")).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub(crate) async fn shot(&self, name: &str) {
        if let Ok(png) = self.browser.client.screenshot().await {
            let _ = std::fs::write(self.shots.join(format!("{name}.png")), png);
        }
    }

    pub(crate) async fn click_xpath(&self, xpath: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self.browser.client.find_all(Locator::XPath(xpath)).await;
            if let Some(el) = found.ok().and_then(|v| v.into_iter().last())
                && el.click().await.is_ok()
            {
                return;
            }
            if Instant::now() > deadline {
                panic!("nothing to click at {xpath}:\n{}", self.text().await);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub(crate) async fn click_button(&self, label: &str) {
        self.click_xpath(&format!("//button[normalize-space(.)={label:?}]"))
            .await;
    }

    /// Types into the composer (the first one: in a channel, "start a new post").
    pub(crate) async fn type_in_composer(&self, text: &str) {
        let editor = self
            .browser
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("[data-lexical-editor='true']"))
            .await
            .expect("the playground's message box");
        editor.click().await.expect("focus the message box");
        editor.send_keys(text).await.expect("type");
    }

    pub(crate) async fn mails(&self) -> usize {
        std::fs::read_dir(self.dir.join("data/mail"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }

    pub(crate) async fn wait_for_mails(&self, n: usize, step: &str) -> String {
        let deadline = Instant::now() + WAIT;
        while self.mails().await < n {
            if Instant::now() > deadline {
                self.shot(&format!("{step}-FAILED")).await;
                panic!(
                    "{step}: no mail in data/mail after {WAIT:?}\nservice log:\n{}",
                    std::fs::read_to_string(self.dir.join("service.log")).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let mut newest: Vec<_> = std::fs::read_dir(self.dir.join("data/mail"))
            .expect("mail folder")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        newest.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        std::fs::read_to_string(newest.last().expect("a mail")).expect("read the mail")
    }

    /// « mot de passe oublié » in the personal chat, the card filled with `trej` and submitted,
    /// the mail in data/mail, the card turned into the status card; then the same asked with an
    /// @mention in the team's channel, answered in the 1:1 chat.
    async fn journey(&self, locale: Locale, words: &str, n: usize) {
        let s = |key: &str| Strings::load().unwrap().get(locale, key);
        let lang = locale.tag();

        self.click_xpath("//button[.//*[normalize-space(.)='Personal Chat']]")
            .await;
        self.type_in_composer(&format!("{words}\u{E007}")).await;
        self.wait_for_text(&s("cards.resetHeading"), 1, lang).await;
        self.wait_for_text(&s("cards.submitButton"), 1, lang).await;
        let input = self
            .browser
            .client
            .find_all(Locator::Css("input.fui-Input__input"))
            .await
            .expect("inputs")
            .into_iter()
            .last()
            .expect("the username input of the card");
        input.send_keys("trej").await.expect("type the username");
        self.shot(&format!("{lang}-2-request-card")).await;
        self.click_button(&s("cards.submitButton")).await;

        let mail = self.wait_for_mails(n, lang).await;
        assert!(
            mail.contains("\nTo: ") || mail.starts_with("To: "),
            "{mail}"
        );
        self.wait_for_text(&s("cards.sentTitle"), 1, lang).await;
        self.wait_for_text(&s("cards.sentUniformMessage"), 1, lang)
            .await;
        self.shot(&format!("{lang}-3-status-card")).await;

        // The same from the team's channel: the answer there says no more, the form comes 1:1.
        self.click_xpath("//button[.//*[normalize-space(.)='General']]")
            .await;
        self.type_in_composer("@Test").await;
        self.click_xpath("//*[@id='typeahead-menu']//*[@role='menuitem']")
            .await;
        // The mention is in; the caret after it.
        self.browser
            .client
            .active_element()
            .await
            .expect("the message box keeps the focus")
            .send_keys(&format!(" {words}"))
            .await
            .expect("type");
        self.click_button("Post").await;
        self.wait_for_text(&s("bot.moved_to_private"), 1, lang)
            .await;
        self.shot(&format!("{lang}-4-channel")).await;
        self.click_xpath("//button[.//*[normalize-space(.)='Personal Chat']]")
            .await;
        self.wait_for_text(&s("cards.resetHeading"), 2, lang).await;
        self.shot(&format!("{lang}-5-continued-in-the-personal-chat"))
            .await;
    }
}

#[tokio::test]
async fn the_agents_playground_gets_the_whole_journey_from_the_service_on_its_defaults() {
    if !crate::harness::node_packages("tests/playground") {
        return;
    }
    let dir = tempfile::tempdir().expect("working dir");
    let (_service, service_port) = the_service(dir.path(), None).await;
    let (_playground, port) = the_playground(dir.path(), service_port).await;

    let (browser, shots) = open_the_playground(port).await;
    let page = Page {
        browser: &browser,
        shots,
        dir: dir.path(),
    };

    // Installed: the welcome, in the language the install gave (the playground's is en-US).
    let en = |key: &str| Strings::load().unwrap().get(Locale::En, key);
    page.wait_for_text(&en("cards.welcomeTitle"), 1, "welcome")
        .await;
    page.wait_for_text(&en("cards.forgotButton"), 1, "welcome")
        .await;
    page.shot("1-welcome").await;

    page.journey(Locale::FrCa, "mot de passe oublié", 1).await;
    page.journey(Locale::En, "forgot password", 2).await;

    // The username reminder: the playground's made-up user is linked to no account (the demo
    // account has no Teams identity), so the answer is the uniform one.
    let fr = |key: &str| Strings::load().unwrap().get(Locale::FrCa, key);
    page.click_xpath("//button[.//*[normalize-space(.)='Personal Chat']]")
        .await;
    page.type_in_composer("nom d'utilisateur oublié\u{E007}")
        .await;
    page.wait_for_text(&fr("cards.unlinkedTitle"), 1, "username reminder")
        .await;
    page.shot("6-username-reminder").await;

    let playground_log = std::fs::read_to_string(dir.path().join("playground.log")).unwrap();
    assert!(
        !playground_log.contains("octopus-test: blocked"),
        "the playground tried to leave loopback:\n{playground_log}"
    );

    browser.close().await;
}
