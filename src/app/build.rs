//! Building the application from its configuration: the database, the key, the services, the
//! listeners. Nothing is served here.

use crate::model::UnixTime;
use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::{net::TcpListener, sync::Notify};
use tracing::info;

use super::{AppState, Application, key};
use crate::{
    clock::{SharedClock, SystemClock},
    config::{BotAuth, BotMode, Config, DatabaseConfig, SecurityConfig},
    http::csrf,
    i18n::Strings,
    mail::{transport::Transport, worker::MailWorker},
    metrics::Metrics,
    org::Organisations,
    reset::{
        ResetService, SignInService,
        hasher::{Hasher, Pepper},
    },
    store::{Store, accounts},
    teams::auth::channel::ChannelAuth,
    teams::auth::{
        entra_channel::EntraChannel,
        jwks::{OpenIdKeys, TenantKeys},
        verified::{self, VerifiedTokens},
    },
    teams::bot::{Bot, BotCore, cards::Cards, connector::ConnectorClient},
    teams::tab::{TabState, sso::SsoValidator},
    templates::Templates,
};

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        Self::build_on(config, clock, None).await
    }

    /// Connects, migrates, binds (or takes `listener`, already bound); nothing is served until
    /// [`Application::run_until`].
    // Long: the composition root. Each service is built once here, in the order they need each
    // other, from handles they share (store, clock, key, organisations); the steps with logic of
    // their own are the functions below.
    pub async fn build_on(
        config: Config,
        clock: SharedClock,
        listener: Option<TcpListener>,
    ) -> anyhow::Result<Self> {
        if let Some(problem) = config.missing_shared_secret() {
            anyhow::bail!(problem);
        }
        let store = open_store(&config.database).await?;
        let key = key::for_serve(&config)?;
        let csrf_key = csrf::CsrfKey::derive(&key);
        let templates = Templates::load()?;
        let strings = Strings::load()?;
        let hasher = hasher(&config.security)?;
        let transport = Transport::build(&config.mail)?;
        let wake = Arc::new(Notify::new());
        let orgs = config.organisations.clone();

        if config.demo_seed {
            seed_demo(&store, &orgs, clock.unix()).await?;
        }

        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let (auth, bot_auth) = channel_auth(&config.bot.mode, &http, &clock);
        let core = BotCore {
            records: crate::teams::identity::TeamsRecords::new(store.clone(), clock.clone()),
            connector: ConnectorClient::configured(http.clone(), bot_auth, &config.bot, &clock),
            cards: Cards::load(strings.clone())?,
            strings: strings.clone(),
            orgs: orgs.clone(),
            clock: clock.clone(),
            saved: Arc::default(),
            desk: Default::default(),
        };
        let reset = ResetService {
            store: store.clone(),
            clock: clock.clone(),
            hasher: hasher.clone(),
            orgs: orgs.clone(),
            key: key.clone(),
            base_url: config.http.public_base_url.clone(),
            limits: config.limits.clone(),
            mail_wake: wake.clone(),
            observer: Arc::new(core.clone()),
            desk: Arc::new(core.clone()),
            refusals: Arc::default(),
        };
        let metrics = Metrics::new(config.metrics.publish_interval);
        metrics.start_at_zero(config.organisations.iter().map(|o| o.tenant_id.clone()));
        let bot = Bot {
            core,
            reset: reset.clone(),
            auth,
            refusals: Arc::default(),
            languages: Arc::default(),
            turns: tokio_util::task::TaskTracker::new(),
            metrics: metrics.clone(),
        };
        let tab_state = tab_state(&config, &http, &orgs, &clock);
        let desk: Arc<dyn crate::model::events::DeskObserver> = Arc::new(bot.core.clone());
        let signin = SignInService {
            store: store.clone(),
            clock: clock.clone(),
            hasher,
            limits: config.limits.clone(),
            desk: desk.clone(),
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
            poll: config.mail.poll_interval,
            max_attempts: i64::from(config.mail.max_attempts),
            concurrency: config.mail.concurrency,
            observer: reset.observer.clone(),
            desk: desk.clone(),
            relay: Arc::default(),
        };
        let (listener, metrics_listener) = listeners(&config, listener).await?;
        // The held figures' first publication: the outbox as it is at start.
        metrics.publish(&store, clock.unix()).await;
        let state = AppState {
            metrics,
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
}

/// The database, opened (waiting for it at start-up as configured) and migrated.
async fn open_store(database: &DatabaseConfig) -> anyhow::Result<Store> {
    let store = Store::connect_waiting(&database.url, database.startup_wait)
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}

/// The password hasher: one hash at a time per core, the configured pepper and queue.
fn hasher(security: &SecurityConfig) -> anyhow::Result<Hasher> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let pepper = security
        .password_pepper
        .as_ref()
        .map(|p| Pepper::new(p.expose_secret().as_bytes()));
    Ok(Hasher::with_pepper(security.argon2, cores, pepper)?.with_queue(security.hash_queue))
}

/// What the tab's single sign-on and pages need: the Entra token validator, the tab's CSP.
fn tab_state(
    config: &Config,
    http: &reqwest::Client,
    orgs: &Organisations,
    clock: &SharedClock,
) -> Arc<TabState> {
    Arc::new(TabState {
        sso: SsoValidator::new(
            config.tab.entra_authority.clone(),
            http.clone(),
            config.http.public_base_url.host_str().unwrap_or_default(),
            config.tab.sso_app_id.as_deref(),
            orgs.clone(),
            (config.tab.key_max_age, config.tab.unknown_key_cooldown),
            clock.clone(),
        ),
        csp: TabState::csp(&config.tab.teams_js_url, &config.tab.frame_ancestors),
    })
}

/// The service's listener (the one given, else `listen`) and the metrics' own, if configured.
async fn listeners(
    config: &Config,
    given: Option<TcpListener>,
) -> anyhow::Result<(TcpListener, Option<TcpListener>)> {
    let listener = match given {
        Some(l) => l,
        None => TcpListener::bind(config.http.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.http.listen))?,
    };
    let metrics_listener = match config.metrics.listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?,
        ),
        None => None,
    };
    Ok((listener, metrics_listener))
}

/// The Bot Framework token checks, and the credentials the connector calls with; neither in
/// local-development mode.
fn channel_auth(
    bot: &BotMode,
    http: &reqwest::Client,
    clock: &SharedClock,
) -> (Option<Arc<ChannelAuth>>, Option<BotAuth>) {
    match bot {
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
    }
}

/// The reset domain for an admin command (`mail retry`): the same key as `serve` (configured, or
/// its data/secret.key, never a new one: the running instances could not open what it seals),
/// no one watching links, and the running instances' workers send what it queues.
pub fn reset_service_for_cli(config: &Config, store: Store) -> anyhow::Result<ResetService> {
    let key = key::for_admin(config)?;
    Ok(ResetService {
        store,
        clock: Arc::new(SystemClock),
        hasher: Hasher::new(config.security.argon2, 1)?,
        orgs: config.organisations.clone(),
        key,
        base_url: config.http.public_base_url.clone(),
        limits: config.limits.clone(),
        mail_wake: Arc::new(Notify::new()),
        observer: Arc::new(crate::model::events::NoObserver),
        desk: Arc::new(crate::model::events::NoObserver),
        refusals: Arc::default(),
    })
}

/// The demo organisation's demo account, created once when the directory is empty.
async fn seed_demo(store: &Store, orgs: &Organisations, now: UnixTime) -> anyhow::Result<()> {
    let mut conn = store.write().await?;
    if accounts::count(&mut conn).await? > 0 {
        return Ok(());
    }
    let org = orgs.default_org();
    let demo = accounts::NewAccount {
        tenant_id: org.tenant_id.clone(),
        username: crate::model::Username::parse("trej").map_err(|e| anyhow::anyhow!("{e}"))?,
        email: crate::model::EmailAddress::parse("julie.tremblay@example.org")
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
