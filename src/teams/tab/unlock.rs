//! « Déverrouiller mon compte » in the tab: `POST /api/tab/unlock` with the Teams single sign-on
//! token unlocks the account that token's identity is linked to, and only that one. There is no
//! username fallback: an unlock is never offered to someone who only typed a username.

use crate::reset::unlock::Unlocks;
use crate::teams::identity::TeamsIdentities;
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    Tab,
    answers::{answer, bearer, domain_error, locale_of, no_account, not_from_the_tab, signed_in},
};
use crate::model::Account;
use crate::{org::Organisation, reset::unlock::Unlock};

/// Whether the account is locked now (for `/api/tab/me`); a failed look-up says no.
pub async fn is_locked(state: &Tab, org: Option<&Organisation>, account: &Account) -> bool {
    let Some(org) = org else { return false };
    match Unlocks::of(&state.reset).locked_until(org, account).await {
        Ok(until) => until.is_some(),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "lock state look-up failed");
            false
        }
    }
}

#[derive(Deserialize)]
pub struct UnlockBody {
    locale: Option<String>,
}

pub async fn unlock(
    State(state): State<Tab>,
    headers: HeaderMap,
    body: Result<Json<UnlockBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let asked = body.ok().and_then(|Json(b)| b.locale);
    let locale = locale_of(&state, &headers, asked.as_deref(), None);
    let t = |k: &str| state.strings.get(locale, k);
    if let Some(refused) = not_from_the_tab(&state, &headers, locale) {
        return refused;
    }
    let auth = bearer(&headers);
    let (org, user) = match signed_in(&state, auth, locale).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let unlocked = TeamsIdentities::of(&state.reset)
        .unlock_for_identity(org, user.object_id.as_deref(), user.naming.clone(), locale)
        .await;
    match unlocked {
        Ok(Unlock::Unlocked) => answer(StatusCode::OK, "unlocked", t("tab.unlocked"), json!({})),
        Ok(Unlock::NotLocked) => {
            answer(StatusCode::OK, "not_locked", t("tab.not_locked"), json!({}))
        }
        Ok(Unlock::NoAccount | Unlock::NotOwner) => no_account(&state, locale),
        Ok(Unlock::HardLocked) => answer(
            StatusCode::FORBIDDEN,
            "hard_locked",
            t("tab.hard_locked"),
            json!({"canAskDesk": org.octopus_requests.is_some()}),
        ),
        Ok(Unlock::TooManyUnlocks) => answer(
            StatusCode::TOO_MANY_REQUESTS,
            "unlock_limit",
            t("tab.unlock_limit"),
            json!({}),
        ),
        Err(e) => domain_error(&state, locale, e),
    }
}
