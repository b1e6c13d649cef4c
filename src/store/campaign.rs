//! Enrolment campaigns: who a campaign already wrote to, and where the bot can reach people.

use crate::model::ConversationRef;
use crate::model::UnixTime;
use std::collections::HashSet;

use sqlx::AnyConnection;

use super::{
    StoreError,
    bot::{CONVERSATION_COLUMNS, ConversationRow},
};

/// Claims `account_id` for `campaign` before its card is posted: `false` when the campaign
/// already holds a row for it (sent, being sent, or perhaps sent by an interrupted run), or when
/// the person has set a password since the run listed them (a run can last long under 429s).
pub async fn claim(
    conn: &mut AnyConnection,
    campaign: &str,
    tenant_id: &str,
    account_id: &str,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "insert into campaign_send (campaign, tenant_id, account_id, state, created_at, updated_at) \
         select $1, $2, $3, 'sending', $4, $4 \
         where exists (select 1 from account where account_id = $3 and password_hash is null \
         and disabled_at is null) \
         on conflict (campaign, account_id) do nothing",
    )
    .bind(campaign)
    .bind(tenant_id)
    .bind(account_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records how a claimed send ended: `sent` or `uncertain` (the connector may have taken it).
pub async fn settle(
    conn: &mut AnyConnection,
    campaign: &str,
    account_id: &str,
    state: &str,
    conversation_id: Option<&str>,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "update campaign_send set state = $1, conversation_id = $2, updated_at = $3 \
         where campaign = $4 and account_id = $5",
    )
    .bind(state)
    .bind(conversation_id)
    .bind(now)
    .bind(campaign)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives a claim back: nothing was delivered, the next run tries again.
pub async fn release(
    conn: &mut AnyConnection,
    campaign: &str,
    account_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("delete from campaign_send where campaign = $1 and account_id = $2")
        .bind(campaign)
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The accounts `campaign` already holds a row for.
pub async fn claimed(
    conn: &mut AnyConnection,
    campaign: &str,
) -> Result<HashSet<String>, StoreError> {
    let ids: Vec<String> =
        sqlx::query_scalar("select account_id from campaign_send where campaign = $1")
            .bind(campaign)
            .fetch_all(conn)
            .await?;
    Ok(ids.into_iter().collect())
}

/// The organisation's stored 1:1 conversations that name the person's Entra object id, newest
/// first.
pub async fn personal_conversations(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> Result<Vec<ConversationRef>, StoreError> {
    let rows = sqlx::query_as::<_, ConversationRow>(&format!(
        "select {CONVERSATION_COLUMNS} from bot_conversation where tenant_id = $1 \
         and conversation_type = 'personal' and aad_object_id is not null \
         and user_id is not null order by updated_at desc"
    ))
    .bind(tenant_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(ConversationRef::from).collect())
}

/// The serviceUrl and bot id of the organisation's most recent activity: where its roster is
/// read and its 1:1 chats are created (Teams' serviceUrl is per region, stable per tenant).
pub async fn latest_endpoint(
    conn: &mut AnyConnection,
    tenant_id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(sqlx::query_as::<_, (String, String)>(
        "select service_url, bot_id from bot_conversation where tenant_id = $1 \
         order by updated_at desc limit 1",
    )
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?)
}
