//! `TestApp::spawn()`: the real server on a loopback port, with its stand-ins.

pub mod browser;
pub mod connector;
pub mod db;
pub mod entra;
pub mod forms;
pub mod idp;
pub mod logs;
pub mod process;
pub mod smtp;
pub mod sql;
pub mod teams_host;

use std::{
    sync::{Arc, Mutex, Once},
    time::Duration,
};

use octopus_teams::{
    app::Application,
    clock::{Clock, ManualClock},
    config::{Config, RawConfig},
    directory,
    service_key::ServiceKey,
    store::Store,
};
use secrecy::SecretString;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use connector::Connector;
pub use db::TestDb;
pub use entra::Entra;
pub use forms::csrf_of;
pub use idp::Idp;
pub use smtp::{ReceivedMail, SmtpSink};

/// The Cégep de Sept-Îles's own words (`[organisations.words]`), as its configuration has them.
pub const CEGEP_WORDS: &str = r#"
username_hint = { fr-CA = "Le nom d'utilisateur correspond (sauf exception) aux 3 premières lettres du nom et à la première lettre du prénom.", en = "The username is (with some exceptions) the first 3 letters of your last name followed by the first letter of your first name.", pt = "O nome de usuário corresponde (salvo exceções) às 3 primeiras letras do sobrenome seguidas da primeira letra do nome." }
name_in_sentence = { fr-CA = "du Cégep de Sept-Îles", en = "the Cégep de Sept-Îles", pt = "do Cégep de Sept-Îles" }
"#;

/// A second organisation (the CISSS de Lanaudière) beside the Cégep, under `tenant_id`.
pub fn cisss(tenant_id: &str) -> octopus_teams::config::RawOrganisation {
    toml::from_str(&format!(
        r#"
tenant_id = "{tenant_id}"
slug = "cisss"
name = "CISSS de Lanaudière"
portal_url = "https://cissslanaudiere.octopus-itsm.com/Web/Login.aspx"
sender = "Centre de services <csti@cisss-lanaudiere.example>"
time_zone = "America/Toronto"
default_locale = "fr-CA"
token_lifetime_minutes = 30
"#
    ))
    .expect("the CISSS's block")
}

/// The scrapers' bearer token for /metrics.
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789abcdef-Pq7r";
pub const API_KEY: &str = "test-api-key-0123456789abcdef-Zq8wLx3v";
pub const TENANT: &str = "00000000-0000-0000-0000-000000000000";
pub const BOT_ID: &str = "6f1c1a2e-0000-4000-8000-00000000b07";
pub const BOT_PASSWORD: &str = "bot-client-secret-for-tests";
/// Julie Tremblay's Entra object id (in ACCOUNTS_CSV).
pub const JULIE_OID: &str = "11111111-1111-1111-1111-111111111111";

/// Julie Tremblay (trej) and Marc Gagnon (gagm), the accounts most tests use.
pub const ACCOUNTS_CSV: &str = "username,email,display_name,entra_object_id,upn,locale\n\
trej,julie.tremblay@cegepsi.ca,Julie Tremblay,11111111-1111-1111-1111-111111111111,julie.tremblay@cegepsi.ca,\n\
gagm,marc.gagnon@cegepsi.ca,Marc Gagnon,,,en\n";

static LOG: Once = Once::new();

fn init_logs() {
    use tracing_subscriber::{
        EnvFilter, Layer, filter, layer::SubscriberExt, util::SubscriberInitExt,
    };
    LOG.call_once(|| {
        // Warnings are always kept for the tests that read them (harness::logs); everything is
        // printed with TEST_LOG=1.
        let shown = std::env::var("TEST_LOG").is_ok().then(|| {
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(EnvFilter::new("octopus_teams=debug,info"))
        });
        let _ = tracing_subscriber::registry()
            .with(logs::Capture.with_filter(EnvFilter::new("octopus_teams=warn")))
            .with(shown)
            .with(sql::SqlCounter.with_filter(filter::filter_fn(|m| {
                m.is_span() || m.target() == "sqlx::query"
            })))
            .try_init();
    });
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub smtp: SmtpSink,
    /// The Bot Framework channel issuer (channel tokens' keys).
    pub idp: Idp,
    /// Entra: the tenants' keys (tab SSO) and the token endpoint (the bot's app token).
    pub entra: Entra,
    pub connector: Connector,
    pub clock: ManualClock,
    pub db: Arc<TestDb>,
    pub key: ServiceKey,
    pub store: Store,
    pub org: octopus_teams::org::Organisation,
    /// The server's reset domain, for what no surface offers yet (or only an agent's does).
    pub reset: octopus_teams::reset::ResetService,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
    /// Why the server task ended early (a panic, or `run_until` returning an error), if it did.
    failure: Arc<Mutex<Option<String>>>,
}

type ConfigEdit = Box<dyn FnOnce(&mut RawConfig) + Send>;

#[derive(Default)]
pub struct Builder {
    db: Option<Arc<TestDb>>,
    smtp: Option<SmtpSink>,
    stand_ins: Option<(Idp, Connector)>,
    key: Option<ServiceKey>,
    addr: Option<std::net::SocketAddr>,
    clock: Option<ManualClock>,
    entra: Option<Entra>,
    multi_tenant: bool,
    edit: Vec<ConfigEdit>,
    seed: bool,
}

impl Builder {
    /// Reuse a database (and its key) as a restarted service would.
    pub fn restart_of(mut self, app: &TestApp) -> Self {
        self.db = Some(app.db.clone());
        self.key = Some(app.key.clone());
        self.smtp = Some(app.smtp.clone());
        self.stand_ins = Some((app.idp.clone(), app.connector.clone()));
        self.clock = Some(app.clock.clone());
        self.entra = Some(app.entra.clone());
        self.addr = app
            .base
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok());
        self.seed = false;
        self
    }

    /// A second instance of the same deployment running beside `app`: the same database, key,
    /// relay, stand-ins and clock, on an address of its own.
    pub fn sibling_of(mut self, app: &TestApp) -> Self {
        self = self.restart_of(app);
        self.addr = None;
        self
    }

    /// Use this mail relay (e.g. one with STARTTLS and AUTH) instead of the plain one.
    pub fn smtp(mut self, smtp: SmtpSink) -> Self {
        self.smtp = Some(smtp);
        self
    }

    pub fn config(mut self, f: impl FnOnce(&mut RawConfig) + Send + 'static) -> Self {
        self.edit.push(Box::new(f));
        self
    }

    /// The bot registered as a multi-tenant app (`app_type = "multi_tenant"`, no home tenant in
    /// the config): Entra grants its app token from the `botframework.com` tenant only.
    pub fn multi_tenant_bot(mut self) -> Self {
        self.multi_tenant = true;
        self.config(|c| {
            c.bot.app_type = octopus_teams::config::AppType::MultiTenant;
            c.bot.app_tenant_id = None;
        })
    }

    pub async fn spawn(self) -> TestApp {
        init_logs();
        let db = match self.db {
            Some(db) => db,
            None => Arc::new(TestDb::create().await),
        };
        let smtp = match self.smtp {
            Some(s) => s,
            None => SmtpSink::start().await,
        };
        let (idp, connector) = match self.stand_ins {
            Some(s) => s,
            None => (Idp::start().await, Connector::start().await),
        };
        let entra = match self.entra {
            Some(e) => e,
            None => {
                Entra::start(entra::Registration {
                    client_id: BOT_ID.into(),
                    secret: BOT_PASSWORD.into(),
                    home_tenant: match self.multi_tenant {
                        true => entra::PUBLISHER_TENANT.into(),
                        false => TENANT.into(),
                    },
                    multi_tenant: self.multi_tenant,
                })
                .await
            }
        };
        let key = self.key.unwrap_or_else(ServiceKey::generate);
        let clock = self.clock.unwrap_or_default();
        // A restarted service comes back on its address: links already mailed point there.
        let listener = match self.addr {
            Some(addr) => TcpListener::bind(addr)
                .await
                .expect("rebind the same address"),
            None => TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        };
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");

        let mut raw: RawConfig = Config::figment(None).extract().expect("defaults");
        raw.http.listen = addr.to_string();
        raw.http.public_base_url = base.clone();
        raw.database.url = db.secret_url();
        raw.mail.transport = SecretString::from(smtp.url());
        raw.mail.tls_ca_file = smtp.ca_file().map(|f| f.display().to_string());
        raw.security.secret_key = Some(SecretString::from(key.to_base64()));
        raw.demo.seed = Some(false);
        // /metrics on the server's own address, behind the token (`TestApp::metrics`).
        raw.metrics.listen = String::new();
        raw.metrics.token = Some(SecretString::from(METRICS_TOKEN));
        raw.organisations[0].api_key = Some(SecretString::from(API_KEY));
        raw.organisations[0].name = "Cégep de Sept-Îles".into();
        raw.organisations[0].sender = "Soutien TI <supportTI@cegepsi.ca>".into();
        raw.organisations[0].team_ids = vec![TEAMEO.into()];
        raw.organisations[0].words = toml::from_str(CEGEP_WORDS).expect("the Cégep's words");
        raw.bot.app_id = BOT_ID.into();
        raw.bot.app_password = Some(SecretString::from(BOT_PASSWORD));
        raw.bot.app_type = octopus_teams::config::AppType::SingleTenant;
        raw.bot.app_tenant_id = Some(TENANT.into());
        raw.bot.token_authority = entra.base.clone();
        raw.bot.openid_metadata_url = idp.metadata_url();
        raw.tab.entra_authority = entra.base.clone();
        for edit in self.edit {
            edit(&mut raw);
        }
        let mut config = raw.validate().expect("test config validates");
        config.mail.poll_interval = Duration::from_millis(100);

        let app = Application::build_on(config, Arc::new(clock.clone()), Some(listener))
            .await
            .expect("application builds");
        let store = app.state().store.clone();
        let org = app.state().orgs.default_org().clone();
        let reset = app.state().reset.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run_until(async move {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        // The server's panic would be swallowed by the runtime: keep it for `stop` and `drop`.
        let failure = Arc::new(Mutex::new(None));
        let seen = failure.clone();
        let handle = tokio::spawn(async move {
            if let Err(e) = server.await
                && e.is_panic()
            {
                *seen.lock().unwrap() = Some(panic_message(e.into_panic()));
            }
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .expect("client");
        let app = TestApp {
            base,
            client,
            smtp,
            idp,
            entra,
            connector,
            clock,
            db,
            key,
            store,
            org,
            reset,
            shutdown: Some(tx),
            handle: Some(handle),
            failure,
        };
        if self.seed {
            app.import(ACCOUNTS_CSV).await;
        }
        app
    }
}

impl TestApp {
    pub fn builder() -> Builder {
        Builder {
            seed: true,
            ..Builder::default()
        }
    }

    /// The server with the two usual accounts imported.
    pub async fn spawn() -> TestApp {
        Self::builder().spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn import(&self, csv: &str) {
        directory::import_csv(&self.store, &self.org, csv.as_bytes(), self.clock.unix())
            .await
            .expect("import accounts");
    }

    /// Stops the server and waits for it (and its mail worker) to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        if let Some(why) = self.failure.lock().unwrap().take() {
            panic!("the server panicked: {why}");
        }
    }

    /// GETs a page and returns (status, body); the cookie store keeps the CSRF cookie.
    /// `GET /metrics` with the scrapers' token: the exposition text.
    pub async fn metrics(&self) -> String {
        let res = self
            .client
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(res.status(), 200, "/metrics with the token");
        res.text().await.expect("metrics text")
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let res = self.client.get(self.url(path)).send().await.expect("GET");
        let status = res.status().as_u16();
        (status, res.text().await.expect("body"))
    }

    /// Submits a form like a browser: GETs `page` for its CSRF value, then POSTs to `action`.
    pub async fn submit(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let (_, html) = self.get(page).await;
        // An error page has no form; the browser's CSRF value is the same on every page.
        let csrf = match html.contains("name=\"csrf\"") {
            true => csrf_of(&html),
            false => csrf_of(&self.get("/login").await.1),
        };
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.client
            .post(self.url(action))
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    pub async fn request_link(&self, purpose: &str, username: &str) -> reqwest::Response {
        let page = if purpose == "enroll" {
            "/enroll"
        } else {
            "/forgot"
        };
        self.submit(page, page, &[("org", "demo"), ("username", username)])
            .await
    }

    /// Requests a link and returns the mail it produced (the `nth` mail overall, from 1).
    pub async fn link_mail(&self, purpose: &str, username: &str, nth: usize) -> ReceivedMail {
        let res = self.request_link(purpose, username).await;
        assert_eq!(res.status(), 200, "request answered");
        self.smtp.wait_for(nth, Duration::from_secs(10)).await[nth - 1].clone()
    }

    pub fn reset_link(&self, mail: &ReceivedMail) -> String {
        let link = mail.link(&format!("{}/reset/", self.base));
        link.trim_end_matches("/cancel").to_string()
    }

    /// Path part of a link of ours.
    pub fn path_of(&self, link: &str) -> String {
        link.strip_prefix(&self.base)
            .expect("link points at the test server")
            .to_string()
    }

    pub async fn set_password(&self, link: &str, pw: &str, confirm: &str) -> reqwest::Response {
        let path = self.path_of(link);
        self.submit(&path, &path, &[("password", pw), ("confirmation", confirm)])
            .await
    }

    pub async fn sign_in(&self, username: &str, pw: &str, remember: &str) -> reqwest::Response {
        self.submit(
            "/login?org=demo",
            "/login",
            &[
                ("org", "demo"),
                ("username", username),
                ("password", pw),
                ("remember", remember),
            ],
        )
        .await
    }

    /// The mails queued so far, newest first, sent or not: what `mail list` shows the operator,
    /// read at once (a refusal must have queued nothing, with no waiting for the relay).
    pub async fn mails_queued(&self) -> Vec<octopus_teams::store::outbox::MailSummary> {
        let mut conn = self.store.conn().await.expect("conn");
        octopus_teams::store::outbox::list(&mut conn, false, 1000)
            .await
            .expect("outbox")
    }

    /// The audit trail's event names, newest first: the one place the tests read it.
    pub async fn audit_events(&self) -> Vec<String> {
        self.audit_trail()
            .await
            .into_iter()
            .map(|r| r.event)
            .collect()
    }

    /// The audit rows of `event`, newest first.
    pub async fn audited(&self, event: &str) -> Vec<octopus_teams::store::audit::AuditRow> {
        let mut rows = self.audit_trail().await;
        rows.retain(|r| r.event == event);
        rows
    }

    async fn audit_trail(&self) -> Vec<octopus_teams::store::audit::AuditRow> {
        let mut conn = self.store.conn().await.expect("conn");
        octopus_teams::store::audit::recent(&mut conn, None, 1000)
            .await
            .expect("audit")
    }

    /// Posts an activity to the bot with a valid channel token.
    pub async fn bot(&self, activity: &serde_json::Value) -> reqwest::Response {
        let token = self.idp.channel_token(BOT_ID, &self.connector.service_url);
        self.bot_with(activity, Some(&format!("Bearer {token}")))
            .await
    }

    pub async fn bot_with(
        &self,
        activity: &serde_json::Value,
        authorization: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url("/api/messages")).json(activity);
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        req.send().await.expect("POST /api/messages")
    }

    /// A message from Julie in her personal chat with the bot.
    pub fn personal(&self, text: &str) -> serde_json::Value {
        Activity::message(text)
            .to(&self.connector.service_url)
            .json()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // A panic that already happened fails the test (unless it is failing already); one
        // during this last shutdown is only seen by `stop`.
        if !std::thread::panicking()
            && let Some(why) = self.failure.lock().unwrap().take()
        {
            panic!("the server panicked: {why}");
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast_ref::<&str>()
            .map_or("(no message)".to_string(), |s| s.to_string()),
    }
}

/// The Teaméo team of the Cégep (configured in the test organisation).
pub const TEAMEO: &str = "19:teameo@thread.tacv2";

static NEXT_ACTIVITY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// A Bot Framework activity as Teams sends it: from Julie (`29:julie`, her Entra object id), in
/// her 1:1 chat with the bot unless told otherwise, in the test tenant, in French.
/// `Activity::message("mot de passe oublié").to(url).in_conversation(id, "channel").in_team(team)`.
pub struct Activity {
    kind: String,
    service_url: String,
    conversation: String,
    conversation_type: String,
    team: Option<String>,
    text: Option<String>,
}

impl Activity {
    /// An activity of this `type`, without text.
    pub fn of(kind: &str) -> Self {
        Activity {
            kind: kind.into(),
            service_url: String::new(),
            conversation: "a:julie".into(),
            conversation_type: "personal".into(),
            team: None,
            text: None,
        }
    }

    /// A message saying `text`.
    pub fn message(text: &str) -> Self {
        Activity::of("message").text(text)
    }

    pub fn text(mut self, text: &str) -> Self {
        self.text = Some(text.into());
        self
    }

    /// The Bot Connector the bot answers to (the activity's `serviceUrl`).
    pub fn to(mut self, service_url: &str) -> Self {
        self.service_url = service_url.into();
        self
    }

    /// Another conversation than Julie's 1:1 chat: its id and type (`personal`, `channel`,
    /// `groupChat`).
    pub fn in_conversation(mut self, id: &str, kind: &str) -> Self {
        self.conversation = id.into();
        self.conversation_type = kind.into();
        self
    }

    /// Sent in a channel of this team.
    pub fn in_team(mut self, team: &str) -> Self {
        self.team = Some(team.into());
        self
    }

    /// The activity's JSON, with a fresh id.
    pub fn json(self) -> serde_json::Value {
        let n = NEXT_ACTIVITY.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut channel_data = serde_json::json!({"tenant": {"id": TENANT}});
        if let Some(team) = &self.team {
            channel_data["team"] = serde_json::json!({"id": team});
            channel_data["channel"] = serde_json::json!({"id": team});
        }
        let mut a = serde_json::json!({
            "type": self.kind,
            "id": format!("activity-{n}"),
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": {"id": "29:julie", "name": "Julie Tremblay", "aadObjectId": JULIE_OID},
            "recipient": {"id": format!("28:{BOT_ID}"), "name": "Octopus"},
            "conversation": {"id": self.conversation, "conversationType": self.conversation_type, "tenantId": TENANT, "isGroup": self.conversation_type != "personal"},
            "channelData": channel_data,
            "locale": "fr-CA",
        });
        if let Some(text) = self.text {
            a["text"] = serde_json::json!(text);
        }
        a
    }
}

/// Julie clicking `verb` (Universal Action) on the card `card-1` of her personal chat, with `data`:
/// `card_action(url, "submit", json!({"purpose": "reset", "username": "trej"}))`.
pub fn card_action(service_url: &str, verb: &str, data: serde_json::Value) -> serde_json::Value {
    let mut a = Activity::of("invoke").to(service_url).json();
    a["name"] = serde_json::json!("adaptiveCard/action");
    a["replyToId"] = serde_json::json!("card-1");
    a["value"] = serde_json::json!({"action": {"type": "Action.Execute", "verb": verb,
        "data": data}, "trigger": "manual"});
    a
}

/// The page body without the per-browser CSRF value, for comparing answers.
pub fn without_csrf(html: &str) -> String {
    match html.find("name=\"csrf\" value=\"") {
        None => html.to_string(),
        Some(_) => html.replace(&csrf_of(html), "CSRF"),
    }
}

/// Whether the Node packages of `dir` (a folder of the crate) are installed; `scripts/test-deps`
/// installs them. When they are not, the caller skips what needs them, and one line per folder
/// says so and what to run. `scripts/test` sets `OCTOPUS_TEST_NODE=required`: there a missing
/// folder fails the test, so the full suite always runs everything.
pub fn node_packages(dir: &str) -> bool {
    use std::io::Write;
    static TOLD: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    if root.join(dir).join("node_modules").is_dir() {
        return true;
    }
    assert!(
        std::env::var("OCTOPUS_TEST_NODE").as_deref() != Ok("required"),
        "{dir}/node_modules is missing: run scripts/test-deps"
    );
    let mut told = TOLD.lock().unwrap_or_else(|p| p.into_inner());
    if !told.iter().any(|d| d == dir) {
        told.push(dir.to_string());
        // Straight to the process's stderr: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: what needs {dir}/node_modules (run scripts/test-deps to install it)"
        );
    }
    false
}
