//! The bot's app token for the Bot Connector, from the Entra token endpoint (client credentials,
//! the oauth2 crate), cached until five minutes before it expires (by the injected clock) and
//! shared by every request.

use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::{
    AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl, basic::BasicClient,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tracing::debug;

use crate::{clock::SharedClock, config::BotAuth};

/// Refresh the app token this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

pub(super) struct CachedToken {
    token: SecretString,
    valid_until: DateTime<Utc>,
}

pub(super) struct AppToken {
    pub(super) auth: BotAuth,
    pub(super) http: reqwest::Client,
    pub(super) clock: SharedClock,
    pub(super) cached: Mutex<Option<CachedToken>>,
}

impl AppToken {
    /// The cached token, or a new one; the token endpoint's refusal, in words, otherwise.
    pub(super) async fn get(&self) -> Result<SecretString, String> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| c.valid_until > self.clock.now()) {
            return Ok(c.token.clone());
        }
        let client = BasicClient::new(ClientId::new(self.auth.app_id.clone()))
            .set_client_secret(ClientSecret::new(
                self.auth.app_password.expose_secret().to_string(),
            ))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(TokenUrl::from_url(self.auth.token_url.clone()));
        let response = client
            .exchange_client_credentials()
            .add_scope(Scope::new(self.auth.token_scope.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| e.to_string())?;
        // Entra's tokens last about an hour; a larger figure is not believed (and cannot overflow
        // the clock's arithmetic).
        let lifetime = response
            .expires_in()
            .unwrap_or(Duration::from_secs(3600))
            .min(Duration::from_secs(24 * 3600));
        let token = SecretString::from(response.access_token().secret().to_string());
        *cached = Some(CachedToken {
            token: token.clone(),
            valid_until: self.clock.now()
                + chrono::Duration::from_std(lifetime.saturating_sub(TOKEN_MARGIN))
                    .unwrap_or_default(),
        });
        debug!(lifetime_secs = lifetime.as_secs(), "app token obtained");
        Ok(token)
    }

    pub(super) async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}
