//! The bot's tables: conversation references, handled activities, request cards.

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::StoreError;

use crate::model::{BotRequest, ConversationRef, Purpose, RequestState};

pub async fn save_conversation(
    conn: &mut AnyConnection,
    c: &ConversationRef,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into bot_conversation (conversation_id, tenant_id, service_url, bot_id, user_id, aad_object_id, \
         conversation_type, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8) \
         on conflict (conversation_id) do update set tenant_id = $2, service_url = $3, bot_id = $4, \
         user_id = coalesce($5, bot_conversation.user_id), aad_object_id = coalesce($6, bot_conversation.aad_object_id), \
         conversation_type = $7, updated_at = $8",
    )
    .bind(&c.conversation_id)
    .bind(&c.tenant_id)
    .bind(&c.service_url)
    .bind(&c.bot_id)
    .bind(&c.user_id)
    .bind(&c.aad_object_id)
    .bind(&c.conversation_type)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn conversation(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<ConversationRef>, StoreError> {
    let row = sqlx::query_as::<_, ConversationRow>(&format!(
        "select {CONVERSATION_COLUMNS} from bot_conversation where conversation_id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(ConversationRef::from))
}

/// The columns a [`ConversationRow`] holds.
pub(super) const CONVERSATION_COLUMNS: &str =
    "conversation_id, tenant_id, service_url, bot_id, user_id, aad_object_id, conversation_type";

/// A `bot_conversation` row of [`CONVERSATION_COLUMNS`]: the model's [`ConversationRef`] knows
/// nothing of sqlx.
#[derive(sqlx::FromRow)]
pub(super) struct ConversationRow {
    conversation_id: String,
    tenant_id: String,
    service_url: String,
    bot_id: String,
    user_id: Option<String>,
    aad_object_id: Option<String>,
    conversation_type: Option<String>,
}

impl From<ConversationRow> for ConversationRef {
    fn from(r: ConversationRow) -> Self {
        ConversationRef {
            conversation_id: r.conversation_id,
            tenant_id: r.tenant_id,
            service_url: r.service_url,
            bot_id: r.bot_id,
            user_id: r.user_id,
            aad_object_id: r.aad_object_id,
            conversation_type: r.conversation_type,
        }
    }
}

/// The newest personal (1:1) conversation of this Entra identity with the bot in one of
/// `tenants`, if it has one.
pub async fn personal_conversation(
    conn: &mut AnyConnection,
    tenants: &[&str],
    aad_object_id: &str,
) -> Result<Option<ConversationRef>, StoreError> {
    let sql = format!(
        "select {CONVERSATION_COLUMNS} from bot_conversation where tenant_id in ({}) \
         and lower(aad_object_id) = lower(${}) and conversation_type = 'personal' \
         order by updated_at desc limit 1",
        super::placeholders(1, tenants.len()),
        tenants.len() + 1
    );
    let mut query = sqlx::query_as::<_, ConversationRow>(&sql);
    for t in tenants {
        query = query.bind(*t);
    }
    let row = query.bind(aad_object_id).fetch_optional(conn).await?;
    Ok(row.map(ConversationRef::from))
}

/// Forgets a conversation reference (the bot was removed or blocked, or the conversation is
/// gone); the next activity in that conversation stores it again. Returns whether one was held.
pub async fn forget_conversation(conn: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("delete from bot_conversation where conversation_id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Records an activity as handled, inside the transaction that makes its effect, so that the
/// record and the effect commit (or vanish) together. `false`: it was already handled (a
/// redelivery, or a duplicate delivered at the same time, which waits here for the first one's
/// transaction): the caller rolls back and answers from what the first delivery kept.
pub async fn record_activity(
    conn: &mut AnyConnection,
    key: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "insert into processed_activity (activity_key, created_at) values ($1, $2) on conflict (activity_key) do nothing",
    )
    .bind(key)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Names the request a handled activity made (its `bot_request`), in the same transaction.
pub async fn set_activity_request(
    conn: &mut AnyConnection,
    key: &str,
    token_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("update processed_activity set response = $1 where activity_key = $2")
        .bind(token_id)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// What the first delivery of an activity did. `None`: not handled (yet, or its first delivery
/// crashed before its effect committed); `Some(None)`: handled, with nothing of its own to show
/// (the uniform answer); `Some(Some(id))`: handled, and made the request `id`.
pub async fn handled_activity(
    conn: &mut AnyConnection,
    key: &str,
) -> Result<Option<Option<String>>, StoreError> {
    Ok(sqlx::query_scalar::<_, Option<String>>(
        "select response from processed_activity where activity_key = $1",
    )
    .bind(key)
    .fetch_optional(conn)
    .await?)
}

/// Forgets handled activities older than `before` (redeliveries come within minutes).
pub async fn prune_activities(
    conn: &mut AnyConnection,
    before: UnixTime,
) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("delete from processed_activity where created_at < $1")
            .bind(before)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

pub async fn insert_request(
    conn: &mut AnyConnection,
    r: &BotRequest,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into bot_request (token_id, tenant_id, conversation_id, card_activity_id, user_id, aad_object_id, \
         locale, purpose, masked_email, expires_at, state, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(&r.token_id)
    .bind(&r.tenant_id)
    .bind(&r.conversation_id)
    .bind(&r.card_activity_id)
    .bind(&r.user_id)
    .bind(&r.aad_object_id)
    .bind(&r.locale)
    .bind(r.purpose.as_str())
    .bind(&r.masked_email)
    .bind(r.expires_at)
    .bind(r.state.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn request(
    conn: &mut AnyConnection,
    token_id: &str,
) -> Result<Option<BotRequest>, StoreError> {
    let row = sqlx::query_as::<_, RequestRow>(
        "select token_id, tenant_id, conversation_id, card_activity_id, user_id, aad_object_id, locale, purpose, \
         masked_email, expires_at, state from bot_request where token_id = $1",
    )
    .bind(token_id)
    .fetch_optional(conn)
    .await?;
    row.map(BotRequest::try_from).transpose()
}

/// A `bot_request` row as stored: `purpose` and `state` as their text.
#[derive(sqlx::FromRow)]
struct RequestRow {
    token_id: String,
    tenant_id: String,
    conversation_id: String,
    card_activity_id: Option<String>,
    user_id: String,
    aad_object_id: Option<String>,
    locale: String,
    purpose: String,
    masked_email: Option<String>,
    expires_at: UnixTime,
    state: String,
}

impl TryFrom<RequestRow> for BotRequest {
    type Error = StoreError;

    fn try_from(r: RequestRow) -> Result<Self, StoreError> {
        Ok(BotRequest {
            token_id: r.token_id,
            tenant_id: r.tenant_id,
            conversation_id: r.conversation_id,
            card_activity_id: r.card_activity_id,
            user_id: r.user_id,
            aad_object_id: r.aad_object_id,
            locale: r.locale,
            purpose: Purpose::parse(&r.purpose)
                .ok_or_else(|| StoreError::Corrupt("bot_request.purpose".into()))?,
            masked_email: r.masked_email,
            expires_at: r.expires_at,
            state: r
                .state
                .parse::<RequestState>()
                .map_err(|_| StoreError::Corrupt("bot_request.state".into()))?,
        })
    }
}

/// Moves a request to `state` unless it already reached a final one; returns whether it moved.
pub async fn set_state(
    conn: &mut AnyConnection,
    token_id: &str,
    state: RequestState,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "update bot_request set state = $1, updated_at = $2 where token_id = $3 \
         and state not in ('changed', 'superseded', 'cancelled', 'undelivered') and state <> $1 \
         and ($1 <> 'undelivered' or state = 'sent')",
    )
    .bind(state.as_str())
    .bind(now)
    .bind(token_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_card(
    conn: &mut AnyConnection,
    token_id: &str,
    activity_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("update bot_request set card_activity_id = $1 where token_id = $2")
        .bind(activity_id)
        .bind(token_id)
        .execute(conn)
        .await?;
    Ok(())
}
