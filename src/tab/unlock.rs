//! « Déverrouiller mon compte » in the tab: `POST /api/tab/unlock` with the Teams single sign-on
//! token unlocks the account that token's identity is linked to, and only that one. There is no
//! username fallback: an unlock is never offered to someone who only typed a username.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use serde::Deserialize;
use serde_json::json;

use super::{
    handlers::{answer, domain_error, locale_of, sso_refused},
    sso::{SsoError, SsoUser},
};
use crate::{
    app::AppState,
    i18n::Locale,
    org::Organisation,
    reset::{
        model::Account,
        unlock::{Actor, Unlock},
    },
    store::accounts,
};

/// The organisation, user and account behind a Teams sign-in token (`Authorization`), or the
/// answer refusing it (401 for a token refused, 404 when the identity matches no account).
pub(super) async fn signed_in<'s>(
    state: &'s AppState,
    auth: Option<&str>,
    locale: Locale,
) -> Result<(&'s Organisation, SsoUser, Account), Response> {
    let user = match state.tab.sso.validate(auth).await {
        Ok(u) => u,
        Err(e) => return Err(sso_refused(state, locale, e)),
    };
    let Some(org) = state.orgs.by_tenant(&user.tenant_id) else {
        return Err(sso_refused(state, locale, SsoError::Tenant));
    };
    let account = match state.store.conn().await {
        Ok(mut conn) => accounts::by_identity(
            &mut conn,
            &org.tenant_id,
            user.object_id.as_deref(),
            user.sign_in_name.as_deref(),
        )
        .await
        .ok()
        .flatten(),
        Err(_) => None,
    };
    match account {
        Some(account) => Ok((org, user, account)),
        None => Err(no_account(state, locale)),
    }
}

fn no_account(state: &AppState, locale: Locale) -> Response {
    answer(
        StatusCode::NOT_FOUND,
        "no_account",
        state.strings.get(locale, "tab.no_account"),
        json!({}),
    )
}

/// Whether the account is locked now (for `/api/tab/me`); a failed look-up says no.
pub async fn is_locked(state: &AppState, org: Option<&Organisation>, account: &Account) -> bool {
    let Some(org) = org else { return false };
    match state.reset.locked_until(org, account).await {
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
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<UnlockBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let asked = body.ok().and_then(|Json(b)| b.locale);
    let locale = locale_of(&state, &headers, asked.as_deref(), None);
    let t = |k: &str| state.strings.get(locale, k);
    if headers.get("x-octopus-tab").and_then(|v| v.to_str().ok()) != Some("1") {
        return answer(StatusCode::FORBIDDEN, "csrf", t("error.csrf"), json!({}));
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (org, user, account) = match signed_in(&state, auth, locale).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let actor = Actor::SelfService {
        aad_object_id: user
            .object_id
            .clone()
            .unwrap_or_else(|| account.id.to_string()),
    };
    match state
        .reset
        .unlock(org, &account.id, &actor, Some(locale))
        .await
    {
        Ok(Unlock::Unlocked) => answer(StatusCode::OK, "unlocked", t("tab.unlocked"), json!({})),
        Ok(Unlock::NotLocked) => {
            answer(StatusCode::OK, "not_locked", t("tab.not_locked"), json!({}))
        }
        Ok(Unlock::NoAccount | Unlock::NotOwner) => no_account(&state, locale),
        Err(e) => domain_error(&state, locale, e),
    }
}
