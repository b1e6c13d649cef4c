//! Activities → conversation. Messages and membership updates are acknowledged at once and
//! handled right after (Teams redelivers what takes over 15 s); `adaptiveCard/action` invokes
//! are answered in the HTTP response with the card that replaces the one clicked.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use tracing::{Instrument, info, warn};

use super::{
    Bot, VerifiedActivity,
    activity::{Activity, OutgoingActivity},
    cards::{language_of, with_language},
    intent::{Intent, intent_and_language},
    notify::live_status_card,
};
use crate::{
    app::AppState,
    i18n::Locale,
    org::Organisation,
    reset::{
        ResetError,
        model::{Purpose, Requester},
    },
    store::bot as store,
    templates::local_time,
};

pub async fn messages(
    State(state): State<AppState>,
    VerifiedActivity(activity): VerifiedActivity,
) -> Response {
    let bot = state.bot.clone();
    let kind = activity_type_label(&activity.kind);
    match activity.kind.as_str() {
        "invoke" => {
            let res = bot.invoke(activity).await;
            let outcome = if res.status().is_success() {
                "ok"
            } else {
                "failed"
            };
            count_activity(kind, outcome);
            res
        }
        "message" | "conversationUpdate" => {
            // Tracked, so that shutdown waits for the turns already acknowledged.
            let turns = bot.turns.clone();
            turns.spawn(
                state
                    .metrics
                    .scope(async move {
                        let outcome = match bot.turn(activity).await {
                            Ok(()) => "ok",
                            Err(e) => {
                                warn!(error = format!("{e:#}"), "bot turn failed");
                                "failed"
                            }
                        };
                        count_activity(kind, outcome);
                    })
                    .in_current_span(),
            );
            StatusCode::OK.into_response()
        }
        // The install carries the person's language; the welcome that follows does not.
        "installationUpdate" => {
            bot.remember_language(&activity);
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

/// Activity types as metric labels: a closed set, since the type comes from the request.
fn activity_type_label(kind: &str) -> &'static str {
    match kind {
        "message" => "message",
        "conversationUpdate" => "conversationUpdate",
        "invoke" => "invoke",
        "installationUpdate" => "installationUpdate",
        "messageReaction" => "messageReaction",
        "typing" => "typing",
        _ => "other",
    }
}

fn count_activity(kind: &'static str, outcome: &'static str) {
    metrics::counter!("octopus_bot_activities_total", "type" => kind, "outcome" => outcome)
        .increment(1);
}

/// Where the activity may be served, decided before anything else happens.
enum Admission<'a> {
    Served(&'a Organisation),
    Refused(Refusal<'a>),
}

/// Why an activity is not served: each says so in its own words.
#[derive(Debug, Clone, Copy)]
enum Refusal<'a> {
    /// No organisation is configured for the activity's tenant.
    UnknownTenant,
    /// The organisation's tenant, but a team it is not configured for.
    UnknownTeam(&'a Organisation),
    /// A group chat: only the personal chat and the organisation's teams are served.
    GroupChat(&'a Organisation),
}

impl<'a> Refusal<'a> {
    fn org(self) -> Option<&'a Organisation> {
        match self {
            Self::UnknownTenant => None,
            Self::UnknownTeam(org) | Self::GroupChat(org) => Some(org),
        }
    }
}

/// The error cards.
#[derive(Debug, Clone, Copy)]
pub(super) enum Trouble {
    RateLimited {
        retry_after_secs: u64,
    },
    Unavailable,
    /// Not in this conversation (a group chat): the personal chat is.
    NotAllowed,
    /// This organisation is not set up for the service.
    UnknownTenant,
    /// This team is not set up for the service.
    UnknownTeam,
}

impl From<Refusal<'_>> for Trouble {
    fn from(r: Refusal<'_>) -> Self {
        match r {
            Refusal::UnknownTenant => Self::UnknownTenant,
            Refusal::UnknownTeam(_) => Self::UnknownTeam,
            Refusal::GroupChat(_) => Self::NotAllowed,
        }
    }
}

impl Bot {
    fn admit<'a>(&'a self, a: &Activity) -> Admission<'a> {
        let Some(org) = self.core.orgs.for_bot(a.tenant_id().as_deref()) else {
            return Admission::Refused(Refusal::UnknownTenant);
        };
        if a.is_personal() {
            return Admission::Served(org);
        }
        match a.team_id() {
            Some(team) if org.serves_team(team) => Admission::Served(org),
            Some(_) => Admission::Refused(Refusal::UnknownTeam(org)),
            None => Admission::Refused(Refusal::GroupChat(org)),
        }
    }

    /// Tells the admin, once an hour per tenant or team, what would serve a refused activity.
    fn warn_admin(&self, a: &Activity, refusal: Refusal<'_>) {
        let tenant = a.tenant_id();
        let team = a.team_id();
        let team_name = a.team_name();
        match refusal {
            Refusal::GroupChat(_) => {}
            Refusal::UnknownTenant => {
                let key = format!("tenant|{}", tenant.as_deref().unwrap_or_default());
                if !self.refusals.first_in_the_hour(key, self.core.clock.unix()) {
                    return;
                }
                match &tenant {
                    Some(t) => warn!(
                        tenant.id = %t, team.id = team.unwrap_or_default(),
                        team.name = team_name.unwrap_or_default(),
                        "bot activity refused: no organisation is configured for this tenant; \
                         to serve it, add an [[organisations]] block with: {}",
                        config_line("tenant_id", toml::Value::String(t.clone()))
                    ),
                    None => warn!(
                        team.id = team.unwrap_or_default(),
                        "bot activity refused: it names no tenant (channelData.tenant.id); \
                         only Teams activities, or a local test client in local-development mode, are served"
                    ),
                }
            }
            Refusal::UnknownTeam(org) => {
                let team = team.unwrap_or_default();
                let key = format!("team|{}|{team}", org.tenant_id);
                if !self.refusals.first_in_the_hour(key, self.core.clock.unix()) {
                    return;
                }
                let ids = org.team_ids.iter().map(String::as_str).chain([team]);
                let ids = ids.map(|t| toml::Value::String(t.into())).collect();
                warn!(
                    tenant.id = %org.tenant_id, org.slug = %org.slug, team.id = team,
                    team.name = team_name.unwrap_or_default(),
                    "bot activity refused: team not configured; to serve it, set in the organisation \
                     {:?} (tenant_id = {:?}): {}",
                    org.slug, org.tenant_id, config_line("team_ids", toml::Value::Array(ids))
                );
            }
        }
    }

    /// The person's language: the activity's locale, else the Teams client's (`clientInfo`
    /// entity), else the one an earlier activity of the conversation gave (Teams sends the
    /// bot-added `conversationUpdate` without a locale, right after an `installationUpdate` with
    /// one), else the organisation's.
    fn locale(&self, a: &Activity, org: Option<&Organisation>) -> Locale {
        a.locale
            .as_deref()
            .and_then(Locale::from_tag)
            .or_else(|| a.client_locale().and_then(Locale::from_tag))
            .or_else(|| self.languages.get(a.conversation_id()))
            .or(org.map(|o| o.default_locale))
            .unwrap_or(Locale::FrCa)
    }

    fn remember_language(&self, a: &Activity) {
        let locale = a.locale.as_deref().or_else(|| a.client_locale());
        if let Some(locale) = locale.and_then(Locale::from_tag) {
            self.languages.remember(a.conversation_id(), locale);
        }
    }

    /// The key under which an activity is remembered as handled.
    pub(super) fn activity_key(a: &Activity) -> Option<String> {
        a.id.as_ref()
            .map(|id| format!("{}|{id}", a.conversation_id()))
    }

    async fn remember_conversation(&self, a: &Activity) -> anyhow::Result<()> {
        let (Some(service_url), Some(tenant), Some(recipient)) =
            (&a.service_url, a.tenant_id(), &a.recipient)
        else {
            return Ok(());
        };
        let personal = a.is_personal();
        let reference = store::ConversationRef {
            conversation_id: a.conversation_id().to_string(),
            tenant_id: tenant,
            service_url: service_url.clone(),
            bot_id: recipient.id.clone(),
            user_id: a.from.as_ref().filter(|_| personal).map(|f| f.id.clone()),
            aad_object_id: a
                .from
                .as_ref()
                .filter(|_| personal)
                .and_then(|f| f.aad_object_id.clone()),
            conversation_type: a
                .conversation
                .as_ref()
                .and_then(|c| c.conversation_type.clone()),
        };
        if self.core.saved.unchanged(&reference) {
            return Ok(());
        }
        let mut conn = self.core.store.conn().await?;
        store::save_conversation(&mut conn, &reference, self.core.clock.unix()).await?;
        self.core.saved.remember(reference);
        Ok(())
    }

    /// A message or a membership update, after the HTTP answer.
    pub async fn turn(&self, a: Activity) -> anyhow::Result<()> {
        if a.service_url.is_none() || a.conversation.is_none() {
            return Ok(());
        }
        // A redelivery does it all again, but for the one effect that must not repeat: a card's
        // submission is recorded with the link it issues (bot::submit), and answered from it.
        self.remember_conversation(&a).await?;
        let org = match self.admit(&a) {
            Admission::Served(org) => org,
            Admission::Refused(refusal) => {
                self.warn_admin(&a, refusal);
                // Say so once, politely, where asked (not on silent membership events of others).
                if a.kind == "message" || self.bot_was_added(&a) {
                    let org = refusal.org();
                    let card = self.trouble_card(org, self.locale(&a, org), refusal.into());
                    self.reply(&a, OutgoingActivity::card(card)).await?;
                }
                return Ok(());
            }
        };
        let locale = self.locale(&a, Some(org));
        match a.kind.as_str() {
            "conversationUpdate" if self.bot_was_added(&a) => {
                self.reply(&a, OutgoingActivity::card(self.welcome(org, locale)))
                    .await?;
            }
            "message" => self.message(&a, org, locale).await?,
            _ => {}
        }
        Ok(())
    }

    fn bot_was_added(&self, a: &Activity) -> bool {
        let me = a.recipient.as_ref().map(|r| r.id.as_str());
        a.members_added.iter().any(|m| Some(m.id.as_str()) == me)
    }

    async fn message(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
    ) -> anyhow::Result<()> {
        // Action.Submit (cards on clients without Universal Actions): a message with a value.
        if let Some(value) = a.value.as_ref().filter(|v| v.is_object()) {
            // The answer is in the language of the card clicked.
            let locale = language_of(value).unwrap_or(locale);
            let action = value
                .get("action")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let (card, new_request) = self.card_action(a, org, locale, action, value).await?;
            let Some(card) = card else { return Ok(()) };
            // In a personal chat the clicked card becomes the answer, in place.
            let shown_in = match (&a.reply_to_id, a.is_personal()) {
                (Some(card_id), true) => {
                    self.update(a, card_id, OutgoingActivity::card(card))
                        .await?;
                    Some(card_id.clone())
                }
                _ => self.reply(a, OutgoingActivity::card(card)).await?,
            };
            if let (Some(request), Some(card_id)) = (new_request, shown_in) {
                let mut conn = self.core.store.conn().await?;
                store::set_card(&mut conn, &request, &card_id).await?;
            }
            return Ok(());
        }
        // « statut trej » from a service-desk agent; from anyone else, text like any other.
        if self
            .helpdesk_command(a, org, &a.text_without_mention())
            .await?
        {
            return Ok(());
        }
        // Someone who writes in one of our languages is answered in it.
        let (intent, written_in) = intent_and_language(&a.text_without_mention());
        let locale = written_in.unwrap_or(locale);
        match intent {
            Intent::ForgotPassword => self.offer_request(a, org, locale, Purpose::Reset).await,
            Intent::Enroll => self.offer_request(a, org, locale, Purpose::Enroll).await,
            Intent::ForgotUsername => self.remind_username(a, org, locale).await,
            Intent::Unlock => self.offer_unlock(a, org, locale).await,
            Intent::Help | Intent::Portal | Intent::Unknown => self
                .reply(a, OutgoingActivity::card(self.welcome(org, locale)))
                .await
                .map(|_| ()),
        }
    }

    /// The request card, in the personal chat: in a channel others would see the username.
    async fn offer_request(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        purpose: Purpose,
    ) -> anyhow::Result<()> {
        let (username, locked) = self.own_account_state(a, org).await;
        let card = self.request_card(org, locale, purpose, &username, locked);
        if a.is_personal() {
            self.reply(a, OutgoingActivity::card(card)).await?;
            return Ok(());
        }
        self.move_to_private(a, locale, card).await
    }

    /// Answers in the channel without personal data, and continues in a 1:1 chat.
    pub(super) async fn move_to_private(
        &self,
        a: &Activity,
        locale: Locale,
        card: Value,
    ) -> anyhow::Result<()> {
        let (Some(service_url), Some(from), Some(me), Some(tenant)) =
            (&a.service_url, &a.from, &a.recipient, a.tenant_id())
        else {
            return Ok(());
        };
        let notice = self.core.strings.get(locale, "bot.moved_to_private");
        self.reply(a, OutgoingActivity::text(notice)).await?;
        // Blocked by the user: there is no 1:1 chat to open; nothing to forget either.
        let conversation = match self
            .core
            .connector
            .personal_conversation(service_url, &me.id, &from.id, &tenant)
            .await
        {
            Err(e) if e.is_gone() => {
                info!(tenant.id = %tenant, answer = %e, "no private chat with this person (the bot is blocked); the form is not sent");
                return Ok(());
            }
            other => other?,
        };
        let reference_tenant = tenant.clone();
        let reference = store::ConversationRef {
            conversation_id: conversation.clone(),
            tenant_id: tenant,
            service_url: service_url.clone(),
            bot_id: me.id.clone(),
            user_id: Some(from.id.clone()),
            aad_object_id: from.aad_object_id.clone(),
            conversation_type: Some("personal".into()),
        };
        {
            let mut conn = self.core.store.conn().await?;
            store::save_conversation(&mut conn, &reference, self.core.clock.unix()).await?;
        }
        let mut out = OutgoingActivity::card(card);
        out.locale = a.locale.clone();
        let sent = self
            .core
            .connector
            .send(service_url, &conversation, &out)
            .await;
        self.core
            .unless_gone(&conversation, &reference_tenant, sent)
            .await?;
        Ok(())
    }

    /// A card button, from Action.Execute (verb) or Action.Submit (`action`). Returns the card
    /// that replaces the clicked one and, for a new request, its id.
    async fn card_action(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        verb: &str,
        data: &Value,
    ) -> anyhow::Result<(Option<Value>, Option<String>)> {
        let purpose = match data.get("purpose").and_then(Value::as_str) {
            Some("enroll") => Purpose::Enroll,
            _ => Purpose::Reset,
        };
        match verb {
            "forgot" | "enroll" => {
                let purpose = if verb == "enroll" {
                    Purpose::Enroll
                } else {
                    Purpose::Reset
                };
                if !a.is_personal() {
                    self.offer_request(a, org, locale, purpose).await?;
                    return Ok((None, None));
                }
                // The welcome card turns into the form.
                let (username, locked) = self.own_account_state(a, org).await;
                let card = self.request_card(org, locale, purpose, &username, locked);
                Ok((Some(card), None))
            }
            "submit" => {
                let typed = data
                    .get("username")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let (card, id) = self.submit(a, org, locale, purpose, typed).await?;
                Ok((Some(card), id))
            }
            "cancel" => Ok((Some(self.welcome(org, locale)), None)),
            "unlock" if !a.is_personal() => {
                self.offer_unlock(a, org, locale).await?;
                Ok((None, None))
            }
            "unlock" => Ok((Some(self.unlock_own(a, org, locale).await?), None)),
            "notme" => {
                let id = data
                    .get("requestId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Ok((self.not_me(a, org, locale, id).await?, None))
            }
            "refresh" => {
                let id = data
                    .get("requestId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Ok((self.own_status(a, org, locale, id).await?, None))
            }
            v if v.starts_with("helpdesk.") => {
                Ok((self.helpdesk_action(a, org, locale, v, data).await?, None))
            }
            _ => Ok((None, None)),
        }
    }

    /// "Ce n'était pas moi" on the requester's own status card.
    async fn not_me(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        request_id: &str,
    ) -> anyhow::Result<Option<Value>> {
        let Some(request) = self.own_request(a, request_id).await? else {
            return Ok(None);
        };
        let who = teams_requester(org, request.aad_object_id.as_deref(), &request.user_id);
        match self.reset.cancel_by_id(request_id, &who).await {
            Ok(()) | Err(ResetError::Link(_)) => {}
            Err(e) => {
                warn!(error = format!("{e:#}"), "cancel from Teams failed");
                return Ok(Some(self.trouble_card(
                    Some(org),
                    locale,
                    Trouble::Unavailable,
                )));
            }
        }
        {
            let mut conn = self.core.store.conn().await?;
            store::set_state(&mut conn, request_id, "cancelled", self.core.clock.unix()).await?;
        }
        self.own_status(a, org, locale, request_id).await
    }

    async fn own_request(
        &self,
        a: &Activity,
        request_id: &str,
    ) -> anyhow::Result<Option<store::BotRequest>> {
        let mut conn = self.core.store.conn().await?;
        let request = store::request(&mut conn, request_id).await?;
        let me = a.from.as_ref().map(|f| f.id.as_str());
        Ok(request.filter(|r| Some(r.user_id.as_str()) == me))
    }

    async fn own_status(
        &self,
        a: &Activity,
        org: &Organisation,
        locale: Locale,
        request_id: &str,
    ) -> anyhow::Result<Option<Value>> {
        let Some(request) = self.own_request(a, request_id).await? else {
            return Ok(None);
        };
        Ok(Some(live_status_card(
            &self.core,
            org,
            locale,
            &request,
            self.core.clock.unix(),
        )))
    }

    fn request_card(
        &self,
        org: &Organisation,
        locale: Locale,
        purpose: Purpose,
        username: &str,
        locked: bool,
    ) -> Value {
        let card = self.core.cards.render(
            "request",
            locale,
            json!({
                "orgName": org.name, "isEnroll": purpose == Purpose::Enroll,
                "username": username, "purpose": purpose.as_str(), "isLocked": locked,
            }),
        );
        with_language(card, locale)
    }

    fn welcome(&self, org: &Organisation, locale: Locale) -> Value {
        let card = self.core.cards.render(
            "welcome",
            locale,
            json!({"orgName": org.name, "portalUrl": org.portal_url.as_str()}),
        );
        with_language(card, locale)
    }

    pub(super) fn trouble_card(
        &self,
        org: Option<&Organisation>,
        locale: Locale,
        trouble: Trouble,
    ) -> Value {
        let retry_at = match (trouble, org) {
            (Trouble::RateLimited { retry_after_secs }, Some(org)) => {
                let at = self.core.clock.now()
                    + chrono::Duration::seconds(i64::try_from(retry_after_secs).unwrap_or(900));
                local_time(at, self.core.clock.now(), org.time_zone, locale)
            }
            _ => String::new(),
        };
        self.core.cards.render(
            "error",
            locale,
            json!({
                "orgName": org.map_or("", |o| o.name.as_str()),
                "isRateLimited": matches!(trouble, Trouble::RateLimited { .. }),
                "isUnavailable": matches!(trouble, Trouble::Unavailable),
                "isNotAllowed": matches!(trouble, Trouble::NotAllowed),
                "isUnknownTenant": matches!(trouble, Trouble::UnknownTenant),
                "isUnknownTeam": matches!(trouble, Trouble::UnknownTeam),
                "hasRetryAt": !retry_at.is_empty(),
                "retryAt": retry_at,
            }),
        )
    }

    pub(super) async fn reply(
        &self,
        a: &Activity,
        out: OutgoingActivity,
    ) -> anyhow::Result<Option<String>> {
        let Some(service_url) = &a.service_url else {
            return Ok(None);
        };
        let out = out.replying_to(a);
        let sent = self
            .core
            .connector
            .send(service_url, a.conversation_id(), &out)
            .await;
        let tenant = a.tenant_id().unwrap_or_default();
        Ok(self
            .core
            .unless_gone(a.conversation_id(), &tenant, sent)
            .await?)
    }

    async fn update(
        &self,
        a: &Activity,
        activity_id: &str,
        out: OutgoingActivity,
    ) -> anyhow::Result<()> {
        let Some(service_url) = &a.service_url else {
            return Ok(());
        };
        let mut out = out.replying_to(a);
        out.reply_to_id = None;
        let updated = self
            .core
            .connector
            .update(service_url, a.conversation_id(), activity_id, &out)
            .await;
        let tenant = a.tenant_id().unwrap_or_default();
        Ok(self
            .core
            .unless_gone(a.conversation_id(), &tenant, updated)
            .await?)
    }

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

        if let Err(e) = self.remember_conversation(&a).await {
            warn!(error = format!("{e:#}"), "conversation reference not saved");
        }
        let answer = match self.admit(&a) {
            Admission::Refused(refusal) => {
                self.warn_admin(&a, refusal);
                let org = refusal.org();
                Some(self.trouble_card(org, self.locale(&a, org), refusal.into()))
            }
            Admission::Served(org) => {
                let locale = language_of(&data).unwrap_or_else(|| self.locale(&a, Some(org)));
                match self.card_action(&a, org, locale, &verb, &data).await {
                    Ok((card, _)) => card,
                    Err(e) => {
                        warn!(error = format!("{e:#}"), verb, "card action failed");
                        Some(self.trouble_card(Some(org), locale, Trouble::Unavailable))
                    }
                }
            }
        };
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
}

fn invoke_error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"statusCode": status, "type": "application/vnd.microsoft.error", "value": {"code": code, "message": message}});
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(body),
    )
        .into_response()
}

/// A Teams user as the domain's rate limits and audit know them: their Entra object id when
/// Teams gives it (stable across bots), else their bot-scoped `29:` id.
pub(super) fn teams_requester(
    org: &Organisation,
    aad_object_id: Option<&str>,
    user_id: &str,
) -> Requester {
    Requester::Teams {
        tenant_id: org.tenant_id.clone(),
        user_id: aad_object_id.unwrap_or(user_id).to_string(),
    }
}

/// `key = value` as it is written in the configuration file (TOML quoting and escaping).
fn config_line(key: &str, value: toml::Value) -> String {
    format!("{key} = {value}")
}
