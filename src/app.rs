//! The application: state, router, and the running server with its mail worker.

use std::{net::SocketAddr, path::Path, sync::Arc};

use anyhow::Context;
use axum::{Router, extract::FromRef, middleware, routing::get};
use secrecy::ExposeSecret;
use tokio::{net::TcpListener, sync::Notify};
use tower_http::{limit::RequestBodyLimitLayer, trace::TraceLayer};
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::{
    auth::{
        entra_channel::EntraChannel,
        jwks::{OpenIdKeys, TenantKeys},
        verified::{self, VerifiedTokens},
    },
    bot::{
        self, Bot, BotCore, cards::Cards, channel_auth::ChannelAuth, connector::ConnectorClient,
    },
    clock::{SharedClock, SystemClock},
    config::{BotAuth, BotMode, Config},
    http::{csrf, middleware as mw},
    i18n::Strings,
    mail::{crypto::MailKey, transport::Transport, worker::MailWorker},
    org::Organisations,
    reset::{
        ResetService, SignInService,
        hasher::{Hasher, Pepper},
    },
    store::{Store, accounts},
    tab::{self, TabState, sso::SsoValidator},
    templates::Templates,
    web,
};

/// Where `serve` keeps the mail key when the configuration gives none.
pub const DEFAULT_KEY_FILE: &str = "data/secret.key";

#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    pub reset: ResetService,
    pub signin: SignInService,
    pub orgs: Organisations,
    pub templates: Templates,
    pub strings: Strings,
    pub store: Store,
    pub clock: SharedClock,
    pub bot: Bot,
    pub tab: Arc<TabState>,
    pub csrf: csrf::CsrfKey,
    pub metrics: Metrics,
}

pub fn router(state: AppState) -> Router {
    let metrics_here = state.config.metrics_listen.is_none();
    let main = Router::new()
        .merge(web::router())
        .merge(tab::router())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::ensure_cookie,
        ))
        .layer(middleware::from_fn_with_state(
            state.tab.clone(),
            mw::security_headers,
        ))
        .merge(bot::router());
    // With metrics.listen set, /metrics is served only on that address.
    let main = if metrics_here {
        main.route("/metrics", get(crate::metrics::scrape))
    } else {
        main
    };
    main.layer(RequestBodyLimitLayer::new(256 * 1024))
        .layer(middleware::from_fn_with_state(
            state.config.uses_https(),
            mw::hsts,
        ))
        .layer(middleware::from_fn(mw::record_status))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::track,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(mw::request_span))
        .layer(middleware::from_fn_with_state(
            mw::RequestIdTrust::new(state.config.trust_request_id, &state.config.trusted_proxies),
            mw::request_id,
        ))
        .with_state(state)
}

/// The router of the separate metrics address (`metrics.listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(crate::metrics::scrape))
        .with_state(state)
}

pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: AppState,
    worker: MailWorker,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        Self::build_on(config, clock, None).await
    }

    /// Connects, migrates, binds (or takes `listener`, already bound); nothing is served until
    /// [`Application::run_until`].
    pub async fn build_on(
        config: Config,
        clock: SharedClock,
        listener: Option<TcpListener>,
    ) -> anyhow::Result<Self> {
        if let Some(problem) = config.missing_shared_secret() {
            anyhow::bail!(problem);
        }
        let store = Store::connect(&config.database_url)
            .await
            .context("cannot open the database")?;
        store
            .migrate()
            .await
            .context("cannot migrate the database")?;
        let key = match &config.secret_key {
            Some(k) => MailKey::from_base64(k.expose_secret())?,
            None => load_or_create_key(Path::new(DEFAULT_KEY_FILE))?,
        };
        let csrf_key = csrf::CsrfKey::derive(&key);
        let templates = Templates::load()?;
        let strings = Strings::load()?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let pepper = config
            .password_pepper
            .as_ref()
            .map(|p| Pepper::new(p.expose_secret().as_bytes()));
        let hasher =
            Hasher::with_pepper(config.argon2, cores, pepper)?.with_queue(config.hash_queue);
        let transport = Transport::build(
            &config.mail,
            config.mail_timeout,
            config.mail_tls_ca.as_deref(),
            config.mail_concurrency,
        )?;
        let wake = Arc::new(Notify::new());
        let orgs = config.organisations.clone();

        if config.demo.seed {
            seed_demo(&store, &orgs, clock.unix()).await?;
        }

        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let (auth, bot_auth) = match &config.bot {
            BotMode::LocalDev => (None, None),
            BotMode::Authenticated(a) => {
                let keys = OpenIdKeys::new(
                    a.openid_metadata_url.clone(),
                    http.clone(),
                    a.key_max_age,
                    a.unknown_key_cooldown,
                    clock.clone(),
                );
                let entra = a.entra_channel.as_ref().map(|e| EntraChannel {
                    tenants: e.tenants.clone(),
                    keys: TenantKeys::new(
                        &e.authority,
                        http.clone(),
                        a.key_max_age,
                        a.unknown_key_cooldown,
                        clock.clone(),
                    ),
                    callers: e.callers.clone(),
                    connector_hosts: e.connector_hosts.clone(),
                });
                let auth = ChannelAuth {
                    keys: Arc::new(keys),
                    app_id: a.app_id.clone(),
                    issuer: a.channel_issuer.clone(),
                    entra,
                    verified: VerifiedTokens::new(clock.clone(), verified::DEFAULT_CAPACITY),
                };
                (Some(Arc::new(auth)), Some(BotAuth::clone(a)))
            }
        };
        let core = BotCore {
            records: crate::reset::teams::TeamsRecords::new(store.clone(), clock.clone()),
            connector: ConnectorClient::new(
                http.clone(),
                bot_auth,
                config.connector_retries,
                clock.clone(),
            )
            .with_timeout(config.connector_timeout),
            cards: Cards::load(strings.clone())?,
            strings: strings.clone(),
            orgs: orgs.clone(),
            clock: clock.clone(),
            saved: Arc::default(),
        };
        let reset = ResetService {
            store: store.clone(),
            clock: clock.clone(),
            hasher: hasher.clone(),
            orgs: orgs.clone(),
            key: key.clone(),
            base_url: config.public_base_url.clone(),
            limits: config.limits.clone(),
            mail_wake: wake.clone(),
            observer: Arc::new(core.clone()),
        };
        let bot = Bot {
            core,
            reset: reset.clone(),
            auth,
            refusals: Arc::default(),
            languages: Arc::default(),
            turns: tokio_util::task::TaskTracker::new(),
        };
        let tab_state = Arc::new(TabState {
            sso: SsoValidator::new(
                config.tab.entra_authority.clone(),
                http.clone(),
                config.public_base_url.host_str().unwrap_or_default(),
                config.tab.sso_app_id.as_deref(),
                orgs.clone(),
                (config.tab.key_max_age, config.tab.unknown_key_cooldown),
                clock.clone(),
            ),
            csp: TabState::csp(&config.tab.teams_js_url, &config.tab.frame_ancestors),
        });
        let signin = SignInService {
            store: store.clone(),
            clock: clock.clone(),
            hasher,
            limits: config.limits.clone(),
        };
        let worker = MailWorker {
            store: store.clone(),
            transport,
            key,
            templates: templates.clone(),
            strings: strings.clone(),
            orgs: orgs.clone(),
            clock: clock.clone(),
            wake,
            poll: config.mail_poll_interval,
            max_attempts: i64::from(config.mail_max_attempts),
            concurrency: config.mail_concurrency,
            writing: Arc::default(),
        };
        let listener = match listener {
            Some(l) => l,
            None => TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?,
        };
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?,
            ),
            None => None,
        };
        let state = AppState {
            metrics: Metrics::new(),
            config: Arc::new(config),
            reset,
            signin,
            orgs,
            templates,
            strings,
            store,
            clock,
            bot,
            tab: tab_state,
            csrf: csrf_key,
        };
        Ok(Self {
            listener,
            metrics_listener,
            state,
            worker,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The separate metrics address, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn mail_worker(&self) -> &MailWorker {
        &self.worker
    }

    /// Serves and runs the mail worker until `shutdown` completes. Then: stops accepting,
    /// finishes the requests in flight, waits (at most `http.shutdown_grace_secs`) for the bot
    /// turns already acknowledged, lets the mail worker finish what it is sending (and what
    /// those turns queued), and returns.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let metrics = self.state.metrics.clone();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (worker_stop_tx, mut worker_stop) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(metrics.scope(self.worker.run_until(async move {
            let _ = worker_stop.wait_for(|s| *s).await;
        })));
        let store = self.state.store.clone();
        let turns = self.state.bot.turns.clone();
        let grace = self.state.config.shutdown_grace;
        let mut housekeeping_stop = stop_rx.clone();
        let chores = tokio::spawn(metrics.scope(crate::housekeeping::run_until(
            store.clone(),
            self.state.clock.clone(),
            self.state.orgs.clone(),
            async move {
                let _ = housekeeping_stop.wait_for(|s| *s).await;
            },
        )));
        let metrics_server = self.metrics_listener.map(|l| {
            let app = metrics_router(self.state.clone());
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                axum::serve(l, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await
            })
        });
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let mut server_stop = stop_rx;
        let served = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            let _ = server_stop.wait_for(|s| *s).await;
        });
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let result = served.await.context("server failed");
        // Every acknowledged turn was spawned before its response went out, so all are tracked.
        turns.close();
        if !turns.is_empty() {
            info!(
                turns = turns.len(),
                "shutdown: waiting for the bot turns in flight"
            );
        }
        if tokio::time::timeout(grace, turns.wait()).await.is_err() {
            warn!(
                turns = turns.len(),
                grace_secs = grace.as_secs(),
                "shutdown: bot turns still running after the grace period; abandoned"
            );
        }
        let _ = worker_stop_tx.send(true);
        let _ = worker.await;
        let _ = chores.await;
        if let Some(m) = metrics_server {
            let _ = m.await;
        }
        store.close().await;
        info!("stopped");
        result
    }
}

/// The reset domain for an admin command (`mail retry`): the same key as `serve` (configured, or
/// its data/secret.key, never a new one: the running instances could not open what it seals),
/// no one watching links, and the running instances' workers send what it queues.
pub fn reset_service_for_cli(config: &Config, store: Store) -> anyhow::Result<ResetService> {
    let key = match &config.secret_key {
        Some(k) => MailKey::from_base64(k.expose_secret())?,
        None => {
            let text = std::fs::read_to_string(DEFAULT_KEY_FILE).with_context(|| {
                format!("no security.secret_key configured and no {DEFAULT_KEY_FILE} here")
            })?;
            MailKey::from_base64(&text)
                .with_context(|| format!("{DEFAULT_KEY_FILE} is not a valid key"))?
        }
    };
    Ok(ResetService {
        store,
        clock: Arc::new(SystemClock),
        hasher: Hasher::new(config.argon2, 1)?,
        orgs: config.organisations.clone(),
        key,
        base_url: config.public_base_url.clone(),
        limits: config.limits.clone(),
        mail_wake: Arc::new(Notify::new()),
        observer: Arc::new(crate::reset::events::NoObserver),
    })
}

fn load_or_create_key(path: &Path) -> anyhow::Result<MailKey> {
    if path.exists() {
        // Whoever can read this key can read pending mail (live links) and forge CSRF values.
        if let Some(mode) = crate::at_rest::open_to_others(path)
            .with_context(|| format!("cannot read the permissions of {}", path.display()))?
        {
            anyhow::bail!(
                "the key file {} is accessible to other users (mode {mode:o}); run `chmod 600 {}` \
                 (and `chmod 700 {}`), then start again",
                path.display(),
                path.display(),
                path.parent()
                    .map_or(".".into(), |d| d.display().to_string()),
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return MailKey::from_base64(&text)
            .with_context(|| format!("{} is not a valid key", path.display()));
    }
    if let Some(dir) = path.parent() {
        crate::at_rest::private_dir(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let key = MailKey::generate();
    write_private(path, &key.to_base64())
        .with_context(|| format!("cannot write {}", path.display()))?;
    warn!(path = %path.display(), "no security.secret_key configured: created one for pending mail; keep this file (or set the key) across restarts");
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// The demo organisation's demo account, created once when the directory is empty.
async fn seed_demo(store: &Store, orgs: &Organisations, now: i64) -> anyhow::Result<()> {
    let mut conn = store.conn().await?;
    if accounts::count(&mut conn).await? > 0 {
        return Ok(());
    }
    let org = orgs.default_org();
    let demo = accounts::NewAccount {
        tenant_id: org.tenant_id.clone(),
        username: crate::reset::model::Username::parse("trej")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        email: crate::reset::model::EmailAddress::parse("julie.tremblay@example.org")
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        display_name: "Julie Tremblay".into(),
        entra_object_id: None,
        upn: Some("julie.tremblay@example.org".into()),
        locale: None,
    };
    accounts::upsert(&mut conn, &demo, now).await?;
    info!(username = "trej", organisation = %org.slug, "demo account created (not enrolled yet: use « M'inscrire au service »)");
    Ok(())
}
