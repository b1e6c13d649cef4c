//! The Bot Connector REST API at an activity's `serviceUrl`: replies, card updates, member
//! look-ups, 1:1 conversations, with the app token of `app_token.rs`. 429 and 5xx are retried
//! with backoff honouring Retry-After, bounded;
//! a POST is retried only when the connector certainly did not take it (429, 503), since a
//! retried POST after a 500/502/504 or a timeout could post the message twice.
//!
//! How each answer is met:
//! - 401: the app token was refused (expired or revoked early): a new one is fetched once and
//!   the call made once more; a second 401 is an error (wrong app id or secret).
//! - 403 (bot removed from the team, or blocked by the user) and 404 (conversation gone): not
//!   retried; [`ConnectorError::is_gone`] tells callers to forget the conversation reference.
//! - 429 and 503: retried after Retry-After (at most 30 s), or with backoff.
//! - 500, 502, 504 and timeouts: retried for GET and PUT (idempotent), never for POST.
//! - Every call gives up after the client's timeout, so a slow connector never holds a turn.

use std::{sync::Arc, time::Duration};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode, header};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tracing::{debug, warn};

use super::{
    activity::OutgoingActivity,
    app_token::AppToken,
    pace::Pacer,
    retry::{backoff, retriable, retry_after},
};
use crate::{
    clock::SharedClock,
    config::{BotAuth, BotConfig},
};

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("app token: {0}")]
    Token(String),
    #[error("connector unreachable: {0}")]
    Http(String),
    #[error("connector answered {0}")]
    Status(u16),
}

impl ConnectorError {
    /// The connector answered with a refusal, so the activity was not taken: any 4xx, and 503. A
    /// 500, 502 or 504 (or no answer) after a POST may come after the message was delivered.
    pub fn certainly_refused(&self) -> bool {
        match self {
            ConnectorError::Token(_) => true,
            ConnectorError::Status(s) => (400..500).contains(s) || *s == 503,
            ConnectorError::Http(_) => false,
        }
    }

    /// The conversation is closed to the bot for good: the bot was removed or blocked (403), or
    /// the conversation no longer exists (404). Retrying, now or later, cannot help.
    pub fn is_gone(&self) -> bool {
        matches!(self, ConnectorError::Status(403 | 404))
    }
}

/// How long one call may take unless configured (`bot.connector_timeout_secs`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A Teams member as the connector describes it (`objectId`, not `aadObjectId`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsMember {
    pub object_id: Option<String>,
    pub email: Option<String>,
    pub user_principal_name: Option<String>,
    /// The member's home tenant (another one for a shared channel's external member).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// `user`, `guest` or `anonymous`.
    #[serde(default)]
    pub user_role: Option<String>,
}

/// A team member as the paged roster lists them: `id` is the bot-scoped `29:` id.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RosterMember {
    pub id: String,
    #[serde(flatten)]
    pub member: TeamsMember,
}

/// One page of `GET …/pagedmembers`; `continuation_token` None on the last page.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RosterPage {
    #[serde(default)]
    pub members: Vec<RosterMember>,
    pub continuation_token: Option<String>,
}

#[derive(Clone)]
pub struct ConnectorClient {
    http: reqwest::Client,
    token: Option<Arc<AppToken>>,
    retries: u32,
    timeout: Duration,
    /// A run that writes to many people paces every request, and every retry (`super::pace`).
    pacer: Option<Arc<Pacer>>,
}

#[derive(Deserialize)]
struct ResourceId {
    id: Option<String>,
}

impl ConnectorClient {
    /// `http` is the service's shared client (no redirects, so a token never follows one);
    /// `auth` None: local-development mode, no token is sent; `clock` times the app token.
    pub fn new(
        http: reqwest::Client,
        auth: Option<BotAuth>,
        retries: u32,
        clock: SharedClock,
    ) -> Self {
        let token = auth.map(|auth| {
            Arc::new(AppToken {
                auth,
                http: http.clone(),
                clock,
                cached: Mutex::new(None),
            })
        });
        Self {
            http,
            token,
            retries,
            timeout: DEFAULT_TIMEOUT,
            pacer: None,
        }
    }

    /// The client `[bot]` describes: its retries and timeout.
    pub fn configured(
        http: reqwest::Client,
        auth: Option<BotAuth>,
        bot: &BotConfig,
        clock: &SharedClock,
    ) -> Self {
        Self::new(http, auth, bot.connector_retries, clock.clone())
            .with_timeout(bot.connector_timeout)
    }

    /// Each call (one attempt) gives up after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Every request waits for its turn at `pacer`, and a 429 holds them all.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// `{serviceUrl}/v3/conversations/{id}…` without a doubled slash (serviceUrl ends with one).
    fn conversations(service_url: &str, conversation_id: &str) -> String {
        format!(
            "{}/v3/conversations/{}",
            service_url.trim_end_matches('/'),
            enc(conversation_id)
        )
    }

    /// Replies in a conversation (threaded under `reply_to` when given); returns the new id.
    pub async fn send(
        &self,
        service_url: &str,
        conversation_id: &str,
        activity: &OutgoingActivity,
    ) -> Result<Option<String>, ConnectorError> {
        let base = Self::conversations(service_url, conversation_id);
        let url = match &activity.reply_to_id {
            Some(reply_to) => format!("{base}/activities/{}", enc(reply_to)),
            None => format!("{base}/activities"),
        };
        let body =
            serde_json::to_value(activity).map_err(|e| ConnectorError::Http(e.to_string()))?;
        let res = self.call(Method::POST, &url, Some(&body)).await?;
        Ok(serde_json::from_value::<ResourceId>(res)
            .ok()
            .and_then(|r| r.id))
    }

    /// Replaces a message the bot posted (the live status card).
    pub async fn update(
        &self,
        service_url: &str,
        conversation_id: &str,
        activity_id: &str,
        activity: &OutgoingActivity,
    ) -> Result<(), ConnectorError> {
        let url = format!(
            "{}/activities/{}",
            Self::conversations(service_url, conversation_id),
            enc(activity_id)
        );
        let mut activity = activity.clone();
        activity.id = Some(activity_id.to_string());
        let body =
            serde_json::to_value(&activity).map_err(|e| ConnectorError::Http(e.to_string()))?;
        self.call(Method::PUT, &url, Some(&body)).await.map(|_| ())
    }

    /// A member of a conversation (in a team, pass the team id): email and UPN.
    pub async fn member(
        &self,
        service_url: &str,
        conversation_id: &str,
        user_id: &str,
    ) -> Result<TeamsMember, ConnectorError> {
        let url = format!(
            "{}/members/{}",
            Self::conversations(service_url, conversation_id),
            enc(user_id)
        );
        let value = self.call(Method::GET, &url, None).await?;
        serde_json::from_value(value).map_err(|e| ConnectorError::Http(format!("member: {e}")))
    }

    /// One page (up to 500 members) of a team's roster (`conversation_id`: the team id).
    pub async fn roster_page(
        &self,
        service_url: &str,
        conversation_id: &str,
        continuation: Option<&str>,
    ) -> Result<RosterPage, ConnectorError> {
        let mut url = format!(
            "{}/pagedmembers?pageSize=500",
            Self::conversations(service_url, conversation_id)
        );
        if let Some(token) = continuation {
            url.push_str(&format!("&continuationToken={}", enc(token)));
        }
        let value = self.call(Method::GET, &url, None).await?;
        serde_json::from_value(value).map_err(|e| ConnectorError::Http(format!("roster: {e}")))
    }

    /// Opens (or finds) the 1:1 conversation with a user; returns its id.
    pub async fn personal_conversation(
        &self,
        service_url: &str,
        bot_id: &str,
        user_id: &str,
        tenant_id: &str,
    ) -> Result<String, ConnectorError> {
        let url = format!("{}/v3/conversations", service_url.trim_end_matches('/'));
        let body = json!({
            "bot": {"id": bot_id},
            "members": [{"id": user_id}],
            "isGroup": false,
            "tenantId": tenant_id,
            "channelData": {"tenant": {"id": tenant_id}}
        });
        let value = self.call(Method::POST, &url, Some(&body)).await?;
        value
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(ConnectorError::Http(
                "no conversation id in the answer".into(),
            ))
    }

    async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, ConnectorError> {
        let verb = if method == Method::GET {
            "GET"
        } else if method == Method::PUT {
            "PUT"
        } else {
            "POST"
        };
        let result = self.call_with_retries(method, url, body).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(ConnectorError::Token(_)) => "token_error",
            Err(ConnectorError::Http(_)) => "unreachable",
            Err(ConnectorError::Status(_)) => "refused",
        };
        // Published with the held figures: a card updated for its owner follows someone else's
        // request for their username (a superseded link) and must not be tied to it.
        crate::metrics::held(|| {
            metrics::counter!("octopus_connector_calls_total", "method" => verb, "outcome" => outcome)
                .increment(1);
        });
        result
    }

    /// One request with the app token (when the bot has one) and the JSON body.
    async fn request(
        &self,
        method: &Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::RequestBuilder, ConnectorError> {
        let mut req = self
            .http
            .request(method.clone(), url)
            .timeout(self.timeout)
            .header(header::ACCEPT, "application/json");
        if let Some(t) = &self.token {
            let token = t.get().await.map_err(ConnectorError::Token)?;
            req = req.bearer_auth(token.expose_secret());
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Ok(req)
    }

    async fn call_with_retries(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, ConnectorError> {
        let mut attempt = 0;
        let mut token_refreshed = false;
        loop {
            let req = self.request(&method, url, body).await?;
            let turn = match &self.pacer {
                Some(p) => Some(p.turn().await),
                None => None,
            };
            let outcome = req.send().await;
            drop(turn);
            let (status, retry_after) = match outcome {
                Ok(res) if res.status().is_success() => {
                    let text = res
                        .text()
                        .await
                        .map_err(|e| ConnectorError::Http(e.to_string()))?;
                    return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
                }
                Ok(res) => (Some(res.status()), retry_after(res.headers())),
                Err(e) if attempt >= self.retries || method == Method::POST => {
                    return Err(ConnectorError::Http(e.without_url().to_string()));
                }
                Err(_) => (None, None),
            };
            // A refused app token (expired early, revoked): one new token, one more try. The
            // connector refused the request outright, so even a POST is safe to repeat.
            if status == Some(StatusCode::UNAUTHORIZED)
                && !token_refreshed
                && let Some(t) = &self.token
            {
                t.forget().await;
                token_refreshed = true;
                debug!("app token refused by the connector; fetching a new one");
                continue;
            }
            if !retriable(status, &method) || attempt >= self.retries {
                return Err(ConnectorError::Status(status.map_or(0, |s| s.as_u16())));
            }
            attempt += 1;
            metrics::counter!("octopus_connector_retries_total").increment(1);
            let wait = retry_after.unwrap_or_else(|| backoff(attempt));
            if status == Some(StatusCode::TOO_MANY_REQUESTS)
                && let Some(p) = &self.pacer
            {
                p.throttled(wait);
            }
            warn!(
                status = status.map(|s| s.as_u16()),
                attempt,
                wait_ms = wait.as_millis() as u64,
                "connector busy; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// Everything but RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Teams ids contain ':', '@', ';' and '=': always a single, encoded path segment.
fn enc(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_are_certain() {
        for s in [400, 403, 404, 429, 503] {
            assert!(ConnectorError::Status(s).certainly_refused(), "{s}");
        }
        for s in [500, 502, 504] {
            assert!(!ConnectorError::Status(s).certainly_refused(), "{s}");
        }
        assert!(!ConnectorError::Http("timeout".into()).certainly_refused());
    }

    #[test]
    fn ids_are_encoded_and_slashes_not_doubled() {
        let u = ConnectorClient::conversations(
            "https://smba.trafficmanager.net/amer/",
            "19:a@thread.skype;messageid=1",
        );
        assert_eq!(
            u,
            "https://smba.trafficmanager.net/amer/v3/conversations/19%3Aa%40thread.skype%3Bmessageid%3D1"
        );
    }
}
