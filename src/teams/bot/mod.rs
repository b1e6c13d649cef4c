//! The Teams bot: `POST /api/messages`, authenticated as the Bot Framework specifies, running the
//! reset conversation with Adaptive Cards.

mod account;
pub mod activity;
mod admission;
mod agent;
mod app_token;
mod caller;
pub mod cards;
pub mod connector;
mod conversation;
mod desk;
pub mod desk_channel;
pub mod handlers;
pub mod helpdesk;
pub(crate) mod identity;
pub mod intent;
pub mod notify;
pub mod pace;
mod replies;
mod retry;
mod submit;
mod turn;
pub mod verbs;

use crate::model::UnixTime;
use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};

use crate::{
    clock::SharedClock, i18n::Strings, metrics::Metrics, model::ConversationRef,
    org::Organisations, reset::ResetService, teams::auth::channel::ChannelAuth,
    teams::identity::TeamsRecords,
};
use activity::Activity;
use cards::Cards;
use connector::ConnectorClient;

/// The bot is shared by the requests behind one `Arc`: cloning its services, organisations and
/// caches per request showed in the profile (BENCHMARKS.md).
pub fn router() -> Router<Arc<Bot>> {
    Router::new().route("/api/messages", post(handlers::messages))
}

/// What the bot needs to talk to Teams; also what keeps status cards up to date.
#[derive(Clone)]
pub struct BotCore {
    /// Conversation references and the cards of requests made from Teams (the domain's).
    pub records: TeamsRecords,
    pub connector: ConnectorClient,
    pub cards: Cards,
    pub strings: Strings,
    pub orgs: Organisations,
    pub clock: SharedClock,
    pub saved: Arc<SavedRefs>,
    /// What waits for each organisation's desk channel card.
    pub desk: desk_channel::DeskAlerts,
}

/// A moment in the organisation's time zone, as its people read it (the time alone today).
pub fn local_at(
    clock: &SharedClock,
    org: &crate::org::Organisation,
    locale: crate::i18n::Locale,
    unix: crate::model::UnixTime,
) -> String {
    unix.to_utc()
        .map(|t| crate::templates::local_time(t, clock.now(), org.time_zone, locale))
        .unwrap_or_default()
}

#[derive(Clone)]
pub struct Bot {
    pub core: BotCore,
    pub reset: ResetService,
    /// `None` in local-development mode (no app id): nothing is authenticated.
    pub auth: Option<Arc<ChannelAuth>>,
    /// The turns running after their 200: shutdown waits for them (bounded).
    pub turns: tokio_util::task::TaskTracker,
    /// When each unserved tenant or team was last reported to the admin.
    pub refusals: Arc<RefusalReports>,
    /// The person's language per conversation, as an install told it.
    pub languages: Arc<ConversationLanguages>,
    /// Where the turns run after their 200 count what they do.
    pub metrics: Metrics,
}

/// Longest tenant/team/conversation id the in-memory maps keep (the body comes from outside).
const MAX_KEY_LEN: usize = 300;

/// The language an `installationUpdate` gave for its conversation, for the activities of the
/// same conversation that come without one (the welcome's `conversationUpdate`).
#[derive(Default)]
pub struct ConversationLanguages(
    std::sync::Mutex<std::collections::HashMap<String, crate::i18n::Locale>>,
);

impl ConversationLanguages {
    const MAX: usize = 10_000;

    pub fn remember(&self, conversation_id: &str, locale: crate::i18n::Locale) {
        // Teams' conversation ids are well under this; a longer one is not worth keeping.
        if conversation_id.len() > MAX_KEY_LEN {
            return;
        }
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(conversation_id.to_string(), locale);
    }

    pub fn get(&self, conversation_id: &str) -> Option<crate::i18n::Locale> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(conversation_id).copied()
    }
}

/// One admin warning per unserved tenant or team per hour, by the injected clock: enough to be
/// seen, not enough to flood the log when a whole team writes to the bot.
#[derive(Default)]
pub struct RefusalReports(std::sync::Mutex<std::collections::HashMap<String, UnixTime>>);

impl RefusalReports {
    const MAX: usize = 10_000;
    const EVERY_SECS: i64 = 3600;

    /// True when nothing was reported for `key` in the hour before `now` (unix seconds); the
    /// report is then counted as made.
    pub fn first_in_the_hour(&self, key: String, now: UnixTime) -> bool {
        // Ids longer than any Teams id are reported every time rather than remembered.
        if key.len() > MAX_KEY_LEN {
            return true;
        }
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map
            .get(&key)
            .is_some_and(|&last| now - last < Self::EVERY_SECS)
        {
            return false;
        }
        if map.len() >= Self::MAX {
            map.retain(|_, last| now - *last < Self::EVERY_SECS);
            if map.len() >= Self::MAX {
                // Still full within the hour: forget it all rather than grow without bound.
                map.clear();
            }
        }
        map.insert(key, now);
        true
    }
}

/// Conversation references this instance already saved as they are: rewriting an unchanged one
/// on every activity would cost a database commit per turn.
#[derive(Default)]
pub struct SavedRefs(std::sync::Mutex<std::collections::HashMap<String, ConversationRef>>);

impl SavedRefs {
    const MAX: usize = 10_000;

    pub fn unchanged(&self, r: &ConversationRef) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&r.conversation_id)
            == Some(r)
    }

    pub fn forget(&self, conversation_id: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(conversation_id);
    }

    pub fn remember(&self, r: ConversationRef) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(r.conversation_id.clone(), r);
    }
}

/// An activity whose token was checked and whose body parsed: handlers never see another.
pub struct VerifiedActivity(pub Activity);

impl FromRequest<Arc<Bot>> for VerifiedActivity {
    type Rejection = Response;

    async fn from_request(req: Request, bot: &Arc<Bot>) -> Result<Self, Self::Rejection> {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // Local tools are not authenticated: at least make a cross-site form post impossible.
        if bot.auth.is_none() && !is_json(req.headers()) {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "local-development mode accepts application/json only",
            )
                .into_response());
        }
        let body = Bytes::from_request(req, bot)
            .await
            .map_err(|_| (StatusCode::BAD_REQUEST, "unreadable body").into_response())?;
        let activity: Activity = serde_json::from_slice(&body).map_err(|_| {
            (
                StatusCode::BAD_REQUEST,
                "the body is not a Bot Framework activity",
            )
                .into_response()
        })?;
        if activity.kind == activity::ActivityKind::Missing {
            return Err((StatusCode::BAD_REQUEST, "the activity has no type").into_response());
        }
        let channel = activity.channel_id.as_deref().unwrap_or_default();
        let service_url = activity.service_url.as_deref().unwrap_or_default();
        if let Some(auth) = &bot.auth {
            if let Err(reason) = auth
                .verify(authorization.as_deref(), channel, service_url)
                .await
            {
                tracing::debug!(%reason, activity.type = activity.kind.label(), "channel token refused");
                metrics::counter!("octopus_bot_token_rejections_total", "reason" => reason.kind())
                    .increment(1);
                return Err((StatusCode::UNAUTHORIZED, "Unauthorized").into_response());
            }
        } else if !is_loopback_url(service_url) {
            tracing::debug!("local-development mode: serviceUrl is not loopback");
            return Err((
                StatusCode::FORBIDDEN,
                "local-development mode replies to loopback serviceUrls only",
            )
                .into_response());
        }
        if !channel_served(channel, bot.auth.is_some()) {
            tracing::info!(
                activity.channel = channel,
                "activity from a channel that is not served refused"
            );
            return Err((
                StatusCode::FORBIDDEN,
                "only Microsoft Teams (msteams) is served",
            )
                .into_response());
        }
        Ok(VerifiedActivity(activity))
    }
}

/// Only Teams is served: on other channels (webchat, directline…) the client writes
/// `channelData.tenant`, `team` and `from` itself. Local-development mode, where nothing is
/// authenticated anyway, also serves the Bot Framework Emulator (`emulator`); Microsoft's
/// Agents Playground sends `msteams`.
fn channel_served(channel: &str, authenticated: bool) -> bool {
    channel == "msteams" || (!authenticated && channel == "emulator")
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

fn is_loopback_url(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_teams_is_served_and_the_emulator_only_locally() {
        assert!(channel_served("msteams", true));
        for other in ["webchat", "directline", "emulator", "MSTEAMS", ""] {
            assert!(!channel_served(other, true), "{other}");
        }
        assert!(channel_served("emulator", false));
        assert!(!channel_served("webchat", false));
    }

    #[test]
    fn loopback_service_urls() {
        assert!(is_loopback_url("http://127.0.0.1:3979/"));
        assert!(is_loopback_url("http://[::1]:3979"));
        assert!(is_loopback_url("http://localhost:56000"));
        assert!(!is_loopback_url("https://smba.trafficmanager.net/amer/"));
        assert!(!is_loopback_url("http://127.0.0.1.example.org/"));
        assert!(!is_loopback_url("not a url"));
    }
}
