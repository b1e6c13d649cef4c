//! A local Bot Framework channel issuer (login.botframework.com's stand-in): its own OpenID
//! metadata URL, a JWKS with endorsements, and token minting with its own RSA keys. Entra (the
//! tenants' keys and the token endpoint) is another server with other keys: `harness::entra`.
//! It counts metadata and JWKS fetches, can rotate and retire keys, publish unendorsed keys, or
//! go down.

use std::{
    net::SocketAddr,
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
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
    pub fn generate(kid: &str) -> Self {
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

    /// The JWK without endorsements, as Entra publishes its keys (with the key's issuer).
    pub fn entra_jwk(&self, issuer: &str) -> Value {
        json!({"kty": "RSA", "use": "sig", "kid": self.kid, "n": self.n, "e": self.e, "issuer": issuer})
    }
}

/// Signs `claims` with `key` and `alg`, naming the key in the header.
pub fn sign(key: &SigningKey, alg: Algorithm, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(key.kid.clone());
    header.typ = Some("JWT".into());
    let enc = EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &enc).unwrap()
}

/// The channel issuer's keys. Slow to generate: a few, once per test process.
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
    /// Every metadata request, answered or not (a down issuer is still asked).
    metadata_hits: AtomicUsize,
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

    pub fn metadata_hits(&self) -> usize {
        self.state.metadata_hits.load(Ordering::SeqCst)
    }

    /// Metadata and keys answer 503 while down.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Publishes key two: a rotation begins with both keys published; `retire` ends it.
    pub fn rotate(&self) {
        self.state
            .published
            .lock()
            .unwrap()
            .push((KEYS[1].clone(), vec!["msteams"]));
    }

    /// Stops publishing `key` (the end of a rotation: Microsoft retires old keys too).
    pub fn retire(&self, key: &SigningKey) {
        self.state
            .published
            .lock()
            .unwrap()
            .retain(|(k, _)| k.kid != key.kid);
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
        sign(key, alg, claims)
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

/// Claims of a channel token, valid from now (shifted by `shift` seconds) for ten minutes.
pub fn channel_claims(app_id: &str, service_url: &str, shift: i64) -> Value {
    let now = chrono::Utc::now().timestamp() + shift;
    json!({"iss": CHANNEL_ISSUER, "aud": app_id, "serviceurl": service_url, "nbf": now - 5, "exp": now + 600})
}

async fn metadata(State(s): State<Arc<IdpState>>) -> impl IntoResponse {
    s.metadata_hits.fetch_add(1, Ordering::SeqCst);
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
