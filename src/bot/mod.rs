//! The Teams bot: `POST /api/messages`, authenticated as the Bot Framework specifies, running the
//! reset conversation with Adaptive Cards.

pub mod activity;
pub mod cards;
pub mod channel_auth;
pub mod connector;
pub mod handlers;
pub mod intent;
pub mod notify;

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
    app::AppState, clock::SharedClock, i18n::Strings, org::Organisations, reset::ResetService,
    store::Store,
};
use activity::Activity;
use cards::Cards;
use channel_auth::ChannelAuth;
use connector::ConnectorClient;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/messages", post(handlers::messages))
}

/// What the bot needs to talk to Teams; also what keeps status cards up to date.
#[derive(Clone)]
pub struct BotCore {
    pub store: Store,
    pub connector: ConnectorClient,
    pub cards: Cards,
    pub strings: Strings,
    pub orgs: Organisations,
    pub clock: SharedClock,
}

#[derive(Clone)]
pub struct Bot {
    pub core: BotCore,
    pub reset: ResetService,
    /// `None` in local-development mode (no app id): nothing is authenticated.
    pub auth: Option<Arc<ChannelAuth>>,
    pub saved: Arc<SavedRefs>,
    /// The turns running after their 200: shutdown waits for them (bounded).
    pub turns: tokio_util::task::TaskTracker,
}

/// Conversation references this instance already saved as they are: rewriting an unchanged one
/// on every activity would cost a database commit per turn.
#[derive(Default)]
pub struct SavedRefs(
    std::sync::Mutex<std::collections::HashMap<String, crate::store::bot::ConversationRef>>,
);

impl SavedRefs {
    const MAX: usize = 10_000;

    pub fn unchanged(&self, r: &crate::store::bot::ConversationRef) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&r.conversation_id)
            == Some(r)
    }

    pub fn remember(&self, r: crate::store::bot::ConversationRef) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(r.conversation_id.clone(), r);
    }
}

/// An activity whose token was checked and whose body parsed: handlers never see another.
pub struct VerifiedActivity(pub Activity);

impl FromRequest<AppState> for VerifiedActivity {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| (StatusCode::BAD_REQUEST, "unreadable body").into_response())?;
        let activity: Activity = serde_json::from_slice(&body).map_err(|_| {
            (
                StatusCode::BAD_REQUEST,
                "the body is not a Bot Framework activity",
            )
                .into_response()
        })?;
        if activity.kind.is_empty() {
            return Err((StatusCode::BAD_REQUEST, "the activity has no type").into_response());
        }
        if let Some(auth) = &state.bot.auth {
            let channel = activity.channel_id.as_deref().unwrap_or_default();
            let service_url = activity.service_url.as_deref().unwrap_or_default();
            if let Err(reason) = auth
                .verify(authorization.as_deref(), channel, service_url)
                .await
            {
                tracing::debug!(%reason, activity.type = %activity.kind, "channel token refused");
                metrics::counter!("octopus_bot_token_rejections_total", "reason" => reason.kind())
                    .increment(1);
                return Err((StatusCode::UNAUTHORIZED, "Unauthorized").into_response());
            }
        }
        Ok(VerifiedActivity(activity))
    }
}
