//! Pooled relay connections for `smtp://` (plain, or upgraded with STARTTLS) whose sockets send
//! at once (`TCP_NODELAY`).
//!
//! lettre 0.11.23 writes a message's body and its final `.` in two writes on a socket with Nagle's
//! algorithm on: the five-byte terminator waits for the relay to acknowledge the body, and the
//! relay delays that acknowledgement (Linux's delayed ACK) because it is itself waiting for the
//! terminator, and every mail waits for that delay (figures in BENCHMARKS.md). So the
//! TCP connection is opened here, with `TCP_NODELAY`, and handed to lettre's own SMTP client,
//! which does EHLO, STARTTLS, AUTH and the mail transaction as it does for its own pool.
//! (Implicit TLS, `smtps://`, keeps lettre's pool: its connection cannot be handed over.)

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use lettre::{
    Message,
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, Tls, TlsParameters},
        extension::ClientId,
    },
};

use super::failure::SendError;

/// A pooled connection idle this long is closed rather than reused.
const MAX_IDLE: Duration = Duration::from_secs(60);

/// Whether, and how, the connection is upgraded after EHLO.
enum StartTls {
    No,
    /// `?tls=required`: refuse to send in clear.
    Required(TlsParameters),
    /// `?tls=opportunistic`: upgrade when the relay offers it.
    Opportunistic(TlsParameters),
}

pub struct DirectRelay {
    host: String,
    port: u16,
    hello: ClientId,
    starttls: StartTls,
    credentials: Option<Credentials>,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    max_idle: usize,
}

impl DirectRelay {
    /// For `smtp://` URLs (None for `smtps://`). `tls` replaces the URL's TLS parameters (a
    /// private CA); `connections`: at most this many idle connections kept.
    pub fn from_url(
        url: &str,
        tls: Option<Tls>,
        connections: usize,
    ) -> Result<Option<Self>, String> {
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        if parsed.scheme() != "smtp" {
            return Ok(None);
        }
        let host = parsed.host_str().ok_or("no host")?.to_string();
        let mode = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.to_string());
        let params = || match &tls {
            Some(Tls::Required(p) | Tls::Opportunistic(p)) => Ok(p.clone()),
            _ => TlsParameters::new(host.clone()).map_err(|e| e.to_string()),
        };
        let (starttls, default_port) = match mode.as_deref() {
            None => (StartTls::No, 25),
            Some("required") => (StartTls::Required(params()?), 587),
            Some("opportunistic") => (StartTls::Opportunistic(params()?), 587),
            Some(other) => return Err(format!("unknown tls mode {other:?}")),
        };
        let hello = match parsed.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = parsed
            .password()
            .map(|p| Credentials::new(decode(parsed.username()), decode(p)));
        Ok(Some(Self {
            port: parsed.port().unwrap_or(default_port),
            host,
            hello,
            starttls,
            credentials,
            idle: Mutex::default(),
            max_idle: connections.max(1),
        }))
    }

    /// Sends on an idle connection that still answers NOOP, or on a new one. The caller bounds
    /// the whole send with its timeout: a send abandoned mid-way drops its connection.
    pub async fn send(&self, message: &Message) -> Result<(), SendError> {
        let mut conn = match self.reuse().await {
            Some(c) => c,
            None => self.connect().await?,
        };
        let sent = conn
            .send(message.envelope(), &message.formatted())
            .await
            .map(|_| ())
            .map_err(SendError::smtp);
        if !conn.has_broken() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.max_idle {
                idle.push((conn, Instant::now()));
            }
        }
        sent
    }

    async fn reuse(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut conn, since) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            if since.elapsed() < MAX_IDLE && conn.test_connected().await {
                return Some(conn);
            }
            conn.abort().await;
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| SendError::local(format!("cannot connect to the relay: {e}")))?;
        tcp.set_nodelay(true)
            .map_err(|e| SendError::local(format!("relay socket: {e}")))?;
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
            .await
            .map_err(SendError::smtp)?;
        let upgrade = match &self.starttls {
            StartTls::No => None,
            StartTls::Required(p) => Some(p),
            StartTls::Opportunistic(p) => conn.can_starttls().then_some(p),
        };
        if let Some(p) = upgrade {
            conn.starttls(p.clone(), &self.hello)
                .await
                .map_err(SendError::smtp)?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(SendError::smtp)?;
        }
        Ok(conn)
    }
}
