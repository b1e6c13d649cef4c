//! Activities → conversation. Messages and membership updates are acknowledged at once and
//! handled right after (Teams redelivers what takes over 15 s); `adaptiveCard/action` invokes
//! are answered in the HTTP response with the card that replaces the one clicked.

use super::activity::ActivityKind;
use super::{
    admission::Admissions, conversation::Conversations, replies::Replies, verbs::CardVerbs,
};
use std::sync::Arc;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tracing::{Instrument, warn};

use super::{
    Bot, VerifiedActivity,
    activity::Activity,
    admission::{Admission, Trouble},
    cards::language_of,
};

pub async fn messages(
    State(bot): State<Arc<Bot>>,
    VerifiedActivity(activity): VerifiedActivity,
) -> Response {
    let kind = activity.kind.label();
    match activity.kind {
        ActivityKind::Invoke => {
            let res = bot.invoke(activity).await;
            let outcome = if res.status().is_success() {
                "ok"
            } else {
                "failed"
            };
            count_activity(kind, outcome);
            res
        }
        ActivityKind::Message | ActivityKind::ConversationUpdate => {
            spawn_turn(bot, activity, kind);
            StatusCode::OK.into_response()
        }
        // The install carries the person's language; the welcome that follows does not.
        ActivityKind::InstallationUpdate => {
            Admissions::of(&bot).remember_language(&activity);
            count_activity(kind, "ignored");
            StatusCode::OK.into_response()
        }
        // typing, messageReaction, … : acknowledged.
        _ => {
            count_activity(kind, "ignored");
            StatusCode::OK.into_response()
        }
    }
}

/// Handles a message or membership update after its 200, tracked so that shutdown waits for
/// the turns already acknowledged.
fn spawn_turn(bot: Arc<Bot>, activity: Activity, kind: &'static str) {
    let turns = bot.turns.clone();
    let metrics = bot.metrics.clone();
    let turn = async move {
        let outcome = match bot.turn(activity).await {
            Ok(()) => "ok",
            Err(e) => {
                warn!(error = format!("{e:#}"), "bot turn failed");
                "failed"
            }
        };
        count_activity(kind, outcome);
    };
    turns.spawn(metrics.scope(turn).in_current_span());
}

fn count_activity(kind: &'static str, outcome: &'static str) {
    metrics::counter!("octopus_bot_activities_total", "type" => kind, "outcome" => outcome)
        .increment(1);
}

impl Bot {
    /// `invoke`: Universal Actions (`adaptiveCard/action`) answered in the response.
    pub async fn invoke(&self, a: Activity) -> Response {
        if a.name.as_deref() != Some("adaptiveCard/action") {
            return (StatusCode::OK, Json(json!({}))).into_response();
        }
        let action = a.value.as_ref().and_then(|v| v.get("action"));
        let Some(action) =
            action.filter(|x| x.get("type").and_then(Value::as_str) == Some("Action.Execute"))
        else {
            return invoke_error(400, "NotSupported", "only Action.Execute is supported");
        };
        let verb = action
            .get("verb")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let data = action.get("data").cloned().unwrap_or(json!({}));

        if let Err(e) = Conversations::of(self).remember_conversation(&a).await {
            warn!(error = format!("{e:#}"), "conversation reference not saved");
        }
        let answer = self.invoke_answer(&a, &verb, &data).await;
        let body = match answer {
            Some(card) => {
                json!({"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": card})
            }
            None => {
                json!({"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": ""})
            }
        };
        let text = body.to_string();
        (StatusCode::OK, [("content-type", "application/json")], text).into_response()
    }

    /// The card that replaces the one clicked (`None`: the card stays as it is).
    async fn invoke_answer(&self, a: &Activity, verb: &str, data: &Value) -> Option<Value> {
        let org = match Admissions::of(self).admit(a) {
            Admission::Served(org) => org,
            Admission::Refused(refusal) => {
                Admissions::of(self).warn_admin(a, refusal);
                let org = refusal.org();
                return Some(Replies::of(self).trouble_card(
                    org,
                    Admissions::of(self).locale(a, org),
                    refusal.into(),
                ));
            }
        };
        let locale = language_of(data).unwrap_or_else(|| Admissions::of(self).locale(a, Some(org)));
        match CardVerbs::of(self)
            .card_action(a, org, locale, verb, data)
            .await
        {
            Ok((card, _)) => card,
            Err(e) => {
                warn!(error = format!("{e:#}"), verb, "card action failed");
                Some(Replies::of(self).trouble_card(Some(org), locale, Trouble::Unavailable))
            }
        }
    }
}

fn invoke_error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"statusCode": status, "type": "application/vnd.microsoft.error", "value": {"code": code, "message": message}});
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(body),
    )
        .into_response()
}
