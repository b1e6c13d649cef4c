//! A local Entra ID (login.microsoftonline.com's stand-in), separate from the Bot Framework
//! channel issuer (`harness::idp`): its own server, its own RSA keys, per-tenant v2.0 metadata
//! and key sets (the tab's single sign-on tokens), and the client-credential token endpoint the
//! bot gets its app token from. The token endpoint checks what Entra checks — the tenant in the
//! path, grant_type, client_id registered in that tenant, scope, secret — and refuses with
//! Entra's error JSON and AADSTS codes.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use super::idp::{SigningKey, sign};

/// The scope a bot asks for (`{resource}/.default`, the only form client credentials accept).
pub const BOT_SCOPE: &str = "https://api.botframework.com/.default";
/// The tenant multi-tenant bots get their app token from.
pub const BOTFRAMEWORK_TENANT: &str = "botframework.com";
/// The home tenant of the multi-tenant test bot's registration (not an organisation's).
pub const PUBLISHER_TENANT: &str = "33333333-3333-4333-8333-333333333333";

/// Entra's signing keys: none of them is a channel key. Slow to generate, once per process.
pub static ENTRA_KEYS: LazyLock<[SigningKey; 2]> = LazyLock::new(|| {
    [
        SigningKey::generate("entra-one"),
        SigningKey::generate("entra-two"),
    ]
});

/// An app registration: who may get a token where.
#[derive(Clone, Debug)]
pub struct Registration {
    pub client_id: String,
    pub secret: String,
    pub home_tenant: String,
    /// Multi-tenant apps also get tokens from the `botframework.com` tenant.
    pub multi_tenant: bool,
}

impl Registration {
    fn tenants(&self) -> Vec<&str> {
        let mut t = vec![self.home_tenant.as_str()];
        if self.multi_tenant {
            t.push(BOTFRAMEWORK_TENANT);
        }
        t
    }
}

/// A token the endpoint gave out, and where.
#[derive(Clone, Debug)]
pub struct Issued {
    pub tenant: String,
    pub client_id: String,
    pub access_token: String,
}

#[derive(Default)]
struct EntraState {
    published: Mutex<Vec<SigningKey>>,
    registrations: Mutex<Vec<Registration>>,
    issued: Mutex<Vec<Issued>>,
    jwks_hits: AtomicUsize,
    token_hits: AtomicUsize,
    down: AtomicBool,
    base: Mutex<String>,
    /// The issuer the keys name, instead of the asked tenant's (see `set_key_issuer`).
    key_issuer: Mutex<Option<String>>,
}

#[derive(Clone)]
pub struct Entra {
    pub base: String,
    state: Arc<EntraState>,
}

impl Entra {
    /// Entra with `registration` as the only app, publishing the first Entra key.
    pub async fn start(registration: Registration) -> Entra {
        let state = Arc::new(EntraState::default());
        state.published.lock().unwrap().push(ENTRA_KEYS[0].clone());
        state.registrations.lock().unwrap().push(registration);
        let app = Router::new()
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(metadata),
            )
            .route("/{tenant}/discovery/v2.0/keys", get(jwks))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        *state.base.lock().unwrap() = base.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Entra { base, state }
    }

    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base)
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// Every token request, granted or refused.
    pub fn token_hits(&self) -> usize {
        self.state.token_hits.load(Ordering::SeqCst)
    }

    /// The tokens granted so far, oldest first.
    pub fn issued(&self) -> Vec<Issued> {
        self.state.issued.lock().unwrap().clone()
    }

    /// Metadata and keys answer 503 while down.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Publishes `key` too.
    pub fn publish(&self, key: &SigningKey) {
        self.state.published.lock().unwrap().push(key.clone());
    }

    /// The keys name `issuer` (e.g. another tenant's), not the asked tenant's; `None`: as Entra.
    pub fn set_key_issuer(&self, issuer: Option<String>) {
        *self.state.key_issuer.lock().unwrap() = issuer;
    }

    /// Stops publishing `key`.
    pub fn retire(&self, key: &SigningKey) {
        self.state
            .published
            .lock()
            .unwrap()
            .retain(|k| k.kid != key.kid);
    }

    /// Signs `claims` with an Entra key (RS256, as Entra does).
    pub fn sign(&self, key: &SigningKey, claims: &Value) -> String {
        sign(key, Algorithm::RS256, claims)
    }
}

/// An Entra access token for the tab's API, as Teams' getAuthToken returns it (v2), issued by
/// the Entra stand-in for TENANT to the bot's app id unless told otherwise:
/// `SsoToken::julie().for_app(SSO_APP).signed(&app.entra)`, or
/// `SsoToken::of(oid, "someone@cegepsi.ca").with("name", json!("Sophie")).claims(&app.entra)`.
#[derive(Clone)]
pub struct SsoToken {
    oid: String,
    upn: String,
    app: String,
    /// Claims set (`Some`) or removed (`None`) over the usual ones, in order.
    edits: Vec<(String, Option<Value>)>,
}

impl SsoToken {
    /// The token of the person `oid`, signed in as `upn`.
    pub fn of(oid: &str, upn: &str) -> Self {
        Self {
            oid: oid.into(),
            upn: upn.into(),
            app: super::BOT_ID.into(),
            edits: Vec::new(),
        }
    }

    /// Julie Tremblay's, whose account `trej` is bound to her object id.
    pub fn julie() -> Self {
        Self::of(super::JULIE_OID, "julie.tremblay@cegepsi.ca")
    }

    /// Issued for the app registration `app_id` (its audience).
    pub fn for_app(mut self, app_id: &str) -> Self {
        self.app = app_id.into();
        self
    }

    /// The claim `name` set to `value`.
    pub fn with(mut self, name: &str, value: Value) -> Self {
        self.edits.push((name.into(), Some(value)));
        self
    }

    /// The claim `name` left out.
    pub fn without(mut self, name: &str) -> Self {
        self.edits.push((name.into(), None));
        self
    }

    /// Its claims, as `entra` would issue them now.
    pub fn claims(&self, entra: &Entra) -> Value {
        let now = chrono::Utc::now().timestamp();
        let tenant = super::TENANT;
        let mut claims = json!({
            "iss": format!("{}/{tenant}/v2.0", entra.base), "aud": self.app, "tid": tenant,
            "oid": self.oid, "preferred_username": self.upn, "name": "Julie Tremblay",
            "scp": "access_as_user", "ver": "2.0", "azp": "5e3ce6c0-2b1f-4285-8d4b-75ee78787346",
            "iat": now, "nbf": now - 5, "exp": now + 3600
        });
        for (name, value) in &self.edits {
            let object = claims.as_object_mut().expect("claims are an object");
            match value {
                Some(v) => object.insert(name.clone(), v.clone()),
                None => object.remove(name),
            };
        }
        claims
    }

    /// Signed with Entra's first published key.
    pub fn signed(&self, entra: &Entra) -> String {
        self.signed_with(entra, &ENTRA_KEYS[0])
    }

    /// Signed with `key` (one Entra publishes, or not).
    pub fn signed_with(&self, entra: &Entra, key: &SigningKey) -> String {
        entra.sign(key, &self.claims(entra))
    }
}

/// A tenant Entra knows: a GUID, or a verified domain such as `botframework.com`.
fn tenant_exists(tenant: &str) -> bool {
    uuid::Uuid::parse_str(tenant).is_ok()
        || tenant == BOTFRAMEWORK_TENANT
        || tenant.ends_with(".onmicrosoft.com")
}

async fn metadata(State(s): State<Arc<EntraState>>, Path(tenant): Path<String>) -> Response {
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if !tenant_exists(&tenant) {
        return no_tenant(&tenant);
    }
    let base = s.base.lock().unwrap().clone();
    Json(json!({
        "issuer": format!("{base}/{tenant}/v2.0"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": "NA"
    }))
    .into_response()
}

async fn jwks(State(s): State<Arc<EntraState>>, Path(tenant): Path<String>) -> Response {
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    if !tenant_exists(&tenant) {
        return no_tenant(&tenant);
    }
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let base = s.base.lock().unwrap().clone();
    let issuer = s
        .key_issuer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| format!("{base}/{tenant}/v2.0"));
    let keys: Vec<Value> = s
        .published
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.entra_jwk(&issuer))
        .collect();
    Json(json!({ "keys": keys })).into_response()
}

/// Entra's error answer: `{"error", "error_description": "AADSTSnnn: …", "error_codes", …}`.
fn aadsts(status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    let trace = uuid::Uuid::new_v4();
    let correlation = uuid::Uuid::new_v4();
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    (
        status,
        Json(json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {now}"
            ),
            "error_codes": [code],
            "timestamp": now,
            "trace_id": trace.to_string(),
            "correlation_id": correlation.to_string(),
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}")
        })),
    )
        .into_response()
}

fn no_tenant(tenant: &str) -> Response {
    aadsts(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
    )
}

fn missing(parameter: &str) -> Response {
    aadsts(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{parameter}'."),
    )
}

/// Client credentials from the body (client_secret_post) or HTTP Basic (client_secret_basic).
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let dec = |s: &str| {
                url::form_urlencoded::parse(format!("v={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((dec(id)?, dec(secret)?))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    }
}

async fn token(
    State(s): State<Arc<EntraState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let n = s.token_hits.fetch_add(1, Ordering::SeqCst) + 1;
    if !tenant_exists(&tenant) {
        return no_tenant(&tenant);
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    match form.get("grant_type").map(String::as_str) {
        None => return missing("grant_type"),
        Some("client_credentials") => {}
        Some(other) => {
            return aadsts(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            );
        }
    }
    let (client_id, secret) = client_credentials(&headers, &form);
    let Some(client_id) = client_id else {
        return missing("client_id");
    };
    let registration = s
        .registrations
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.client_id == client_id && r.tenants().contains(&tenant.as_str()))
        .cloned();
    let Some(registration) = registration else {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        );
    };
    let Some(scope) = form.get("scope") else {
        return missing("scope");
    };
    if !scope.ends_with("/.default") {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }
    if scope != BOT_SCOPE {
        let resource = scope.trim_end_matches("/.default");
        return aadsts(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            &format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        );
    }
    match secret {
        None => {
            return aadsts(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            );
        }
        Some(secret) if secret != registration.secret => {
            return aadsts(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            );
        }
        Some(_) => {}
    }
    let access_token = format!("app-token-{n}");
    s.issued.lock().unwrap().push(Issued {
        tenant,
        client_id,
        access_token: access_token.clone(),
    });
    Json(json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": access_token
    }))
    .into_response()
}
