//! A local OpenID issuer standing in for the Bot Framework's (and Entra's): metadata, a JWKS
//! with endorsements, a client-credential token endpoint, and token minting with its own RSA
//! keys. It counts JWKS fetches, can rotate keys, publish unendorsed keys, or go down.

use std::{
    net::SocketAddr,
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::{RsaPrivateKey, pkcs1::EncodeRsaPrivateKey, traits::PublicKeyParts};
use serde_json::{Value, json};

pub const CHANNEL_ISSUER: &str = "https://api.botframework.com";

/// An RSA signing key with its id and its PEMs.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub private_pem: String,
    pub public_pem: String,
    n: String,
    e: String,
}

impl SigningKey {
    fn generate(kid: &str) -> Self {
        let mut rng = rand::rngs::OsRng;
        let key = RsaPrivateKey::new(&mut rng, 2048).expect("rsa key");
        let public = key.to_public_key();
        use rsa::pkcs1::EncodeRsaPublicKey;
        SigningKey {
            kid: kid.into(),
            private_pem: key
                .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
                .expect("pem")
                .to_string(),
            public_pem: public
                .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
                .expect("pem"),
            n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }
    }

    fn jwk(&self, endorsements: &[&str]) -> Value {
        json!({"kty": "RSA", "use": "sig", "kid": self.kid, "n": self.n, "e": self.e, "endorsements": endorsements})
    }
}

/// Keys are slow to generate: a few, once per test process.
pub static KEYS: LazyLock<[SigningKey; 4]> = LazyLock::new(|| {
    [
        SigningKey::generate("key-one"),
        SigningKey::generate("key-two"),
        SigningKey::generate("key-unendorsed"),
        SigningKey::generate("key-evil"),
    ]
});

#[derive(Default)]
struct IdpState {
    /// Published keys and their endorsements.
    published: Mutex<Vec<(SigningKey, Vec<&'static str>)>>,
    jwks_hits: AtomicUsize,
    token_hits: AtomicUsize,
    down: AtomicBool,
    base: Mutex<String>,
}

#[derive(Clone)]
pub struct Idp {
    pub base: String,
    state: Arc<IdpState>,
}

impl Idp {
    pub async fn start() -> Idp {
        let state = Arc::new(IdpState::default());
        {
            let mut published = state.published.lock().unwrap();
            published.push((KEYS[0].clone(), vec!["msteams", "webchat"]));
            published.push((KEYS[2].clone(), vec!["webchat"]));
        }
        let app = Router::new()
            .route("/v1/.well-known/openidconfiguration", get(metadata))
            .route("/v1/.well-known/keys", get(jwks))
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(entra_metadata),
            )
            .route("/{tenant}/discovery/v2.0/keys", get(jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        *state.base.lock().unwrap() = base.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Idp { base, state }
    }

    pub fn metadata_url(&self) -> String {
        format!("{}/v1/.well-known/openidconfiguration", self.base)
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn token_hits(&self) -> usize {
        self.state.token_hits.load(Ordering::SeqCst)
    }

    /// Metadata and keys answer 503 while down.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Publishes key two (rotation); the old key stays published too, as Microsoft does.
    pub fn rotate(&self) {
        self.state
            .published
            .lock()
            .unwrap()
            .push((KEYS[1].clone(), vec!["msteams"]));
    }

    /// Endorses the main signing key for one more channel too (Microsoft's keys are endorsed
    /// for webchat, directline, emulator… as well as msteams).
    pub fn endorse(&self, channel: &'static str) {
        let mut published = self.state.published.lock().unwrap();
        if let Some((_, endorsements)) = published.iter_mut().find(|(k, _)| k.kid == KEYS[0].kid) {
            endorsements.push(channel);
        }
    }

    /// Signs `claims` with `key` and `alg`.
    pub fn sign(&self, key: &SigningKey, alg: Algorithm, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(key.kid.clone());
        header.typ = Some("JWT".into());
        let enc = EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, claims, &enc).unwrap()
    }

    /// A channel token as the Bot Framework sends it.
    pub fn channel_token(&self, app_id: &str, service_url: &str) -> String {
        self.sign(
            &KEYS[0],
            Algorithm::RS256,
            &channel_claims(app_id, service_url, 0),
        )
    }
}

/// An Entra access token for the tab's API, as Teams' getAuthToken returns it (v2).
pub fn sso_claims(idp_base: &str, tenant: &str, aud: &str, oid: &str, upn: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": format!("{idp_base}/{tenant}/v2.0"), "aud": aud, "tid": tenant, "oid": oid,
        "preferred_username": upn, "name": "Julie Tremblay", "scp": "access_as_user", "ver": "2.0",
        "azp": "5e3ce6c0-2b1f-4285-8d4b-75ee78787346", "iat": now, "nbf": now - 5, "exp": now + 3600
    })
}

/// Claims of a channel token, valid from now (shifted by `shift` seconds) for ten minutes.
pub fn channel_claims(app_id: &str, service_url: &str, shift: i64) -> Value {
    let now = chrono::Utc::now().timestamp() + shift;
    json!({"iss": CHANNEL_ISSUER, "aud": app_id, "serviceurl": service_url, "nbf": now - 5, "exp": now + 600})
}

async fn metadata(State(s): State<Arc<IdpState>>) -> impl IntoResponse {
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let base = s.base.lock().unwrap().clone();
    Json(json!({
        "issuer": CHANNEL_ISSUER,
        "jwks_uri": format!("{base}/v1/.well-known/keys"),
        "id_token_signing_alg_values_supported": ["RS256"]
    }))
    .into_response()
}

/// Entra's per-tenant metadata (for the tab's single sign-on tokens).
async fn entra_metadata(
    State(s): State<Arc<IdpState>>,
    axum::extract::Path(tenant): axum::extract::Path<String>,
) -> impl IntoResponse {
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let base = s.base.lock().unwrap().clone();
    Json(json!({
        "issuer": format!("{base}/{tenant}/v2.0"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
    }))
    .into_response()
}

async fn jwks(State(s): State<Arc<IdpState>>) -> impl IntoResponse {
    if s.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = s
        .published
        .lock()
        .unwrap()
        .iter()
        .map(|(k, e)| k.jwk(e))
        .collect();
    Json(json!({ "keys": keys })).into_response()
}

async fn token(State(s): State<Arc<IdpState>>, body: String) -> impl IntoResponse {
    let n = s.token_hits.fetch_add(1, Ordering::SeqCst) + 1;
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_secret").map(String::as_str) != Some(super::BOT_PASSWORD)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    Json(json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": format!("app-token-{n}")}))
        .into_response()
}
