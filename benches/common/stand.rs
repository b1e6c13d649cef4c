//! Stand-ins shared by the bot benchmarks: the channel's OpenID metadata and JWKS (one fresh
//! RSA key endorsed for msteams), the Entra token endpoint for the bot's app token, and a Bot
//! Connector that counts the replies it receives. Plus a few process helpers.

#![allow(dead_code, reason = "each benchmark uses part of it")]

use std::{
    path::Path,
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    Json, Router,
    extract::State,
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::{RsaPrivateKey, pkcs1::EncodeRsaPrivateKey, traits::PublicKeyParts};
use serde_json::{Value, json};

pub const APP_ID: &str = "2b3c4d5e-6f70-4182-9a3b-4c5d6e7f8091";
pub const TENANT: &str = "00000000-0000-0000-0000-000000000000";
pub const ISSUER: &str = "https://api.botframework.com";

#[derive(Clone)]
pub struct Stand {
    pub base: String,
    pub replies: Arc<AtomicUsize>,
    jwks: Value,
    key: Arc<EncodingKey>,
    /// `security.secret_key` for the service under test.
    pub secret_key: String,
}

impl Stand {
    /// The service's environment: SQLite in `dir`, these stand-ins, no request limits that a
    /// load would hit, `mail` as `mail.transport`.
    pub fn service_env(&self, cmd: &mut Command, dir: &Path, port: u16, mail: &str) {
        cmd.env("RUST_LOG", "error")
            .env("OCTOPUS__HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "OCTOPUS__HTTP__PUBLIC_BASE_URL",
                format!("http://127.0.0.1:{port}"),
            )
            .env(
                "OCTOPUS__DATABASE__URL",
                format!("sqlite://{}/bench.db?mode=rwc", dir.display()),
            )
            .env("OCTOPUS__MAIL__TRANSPORT", mail)
            .env("OCTOPUS__SECURITY__SECRET_KEY", &self.secret_key)
            .env("OCTOPUS__LIMITS__REQUESTS_PER_IP", "100000000")
            .env("OCTOPUS__LIMITS__REQUESTS_PER_ACCOUNT", "100000000")
            .env("OCTOPUS__DEMO__SEED", "false")
            .env("OCTOPUS__METRICS__LISTEN", "127.0.0.1:0")
            .env("OCTOPUS__BOT__APP_ID", APP_ID)
            .env("OCTOPUS__BOT__APP_PASSWORD", "bench-secret")
            .env("OCTOPUS__BOT__APP_TENANT_ID", TENANT)
            .env("OCTOPUS__BOT__TOKEN_AUTHORITY", &self.base)
            .env(
                "OCTOPUS__BOT__OPENID_METADATA_URL",
                format!("{}/v1/.well-known/openidconfiguration", self.base),
            )
            .env_remove("OCTOPUS_CONFIG")
            .stdout(Stdio::null());
    }

    /// A channel token as the Bot Framework sends it, valid for an hour.
    pub fn channel_token(&self) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"iss": ISSUER, "aud": APP_ID, "serviceurl": format!("{}/amer/", self.base), "nbf": now - 5, "exp": now + 3600});
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("bench".into());
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

pub async fn stand_ins() -> Stand {
    let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let public = key.to_public_key();
    let jwk = json!({"kty": "RSA", "use": "sig", "kid": "bench", "endorsements": ["msteams"],
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be())});
    let enc = EncodingKey::from_rsa_pem(
        key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stand = Stand {
        base: base.clone(),
        replies: Arc::default(),
        jwks: json!({ "keys": [jwk] }),
        key: Arc::new(enc),
        secret_key: octopus_teams::service_key::ServiceKey::generate().to_base64(),
    };
    let app = Router::new()
        .route("/v1/.well-known/openidconfiguration", get(|State(s): State<Stand>| async move {
            Json(json!({"issuer": ISSUER, "jwks_uri": format!("{}/v1/.well-known/keys", s.base)}))
        }))
        .route("/v1/.well-known/keys", get(|State(s): State<Stand>| async move { Json(s.jwks.clone()) }))
        .route("/{tenant}/oauth2/v2.0/token", post(|| async {
            Json(json!({"token_type": "Bearer", "expires_in": 3600, "access_token": "bench-app-token"}))
        }))
        .route("/amer/v3/conversations/{conv}/activities/{id}", post(|State(s): State<Stand>| async move {
            s.replies.fetch_add(1, Ordering::SeqCst);
            Json(json!({"id": "reply"}))
        }))
        .route("/amer/v3/conversations/{conv}/activities", post(|State(s): State<Stand>| async move {
            s.replies.fetch_add(1, Ordering::SeqCst);
            Json(json!({"id": "reply"}))
        }))
        .with_state(stand.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    stand
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// (user+system CPU seconds, peak RSS in MiB, current RSS in MiB) of a process.
pub fn usage(pid: u32) -> (f64, f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let cpu = (ticks(11) + ticks(12)) / 100.0; // utime, stime (clock ticks: 100 Hz)
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (cpu, kb("VmHWM:"), kb("VmRSS:"))
}

/// The CSRF field of a page of ours.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).map(|i| i + marker.len()).unwrap_or(0);
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}
