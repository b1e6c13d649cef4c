//! What the tab's API answers besides its successes: JSON refusals in the person's language,
//! and the sign-in every signed-in call starts with.

use axum::{
    Json,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    Tab,
    sso::{SsoError, SsoUser},
};
use crate::{http::error::Refusal, i18n::Locale, org::Organisation, reset::ResetError};

/// A JSON answer with a localized message.
pub(super) fn answer(status: StatusCode, code: &str, message: String, extra: Value) -> Response {
    let mut body = json!({ "code": code, "message": message });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    (status, Json(body)).into_response()
}

pub(super) fn locale_of(
    state: &Tab,
    headers: &HeaderMap,
    asked: Option<&str>,
    tenant: Option<&str>,
) -> Locale {
    asked
        .and_then(Locale::from_tag)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Locale::from_accept_language)
        })
        .or_else(|| {
            tenant
                .and_then(|t| state.orgs.by_tenant(t))
                .map(|o| o.default_locale)
        })
        .unwrap_or(state.orgs.default_org().default_locale)
}

pub(super) fn sso_refused(state: &Tab, locale: Locale, e: SsoError) -> Response {
    tracing::debug!(reason = %e, "tab SSO token refused");
    let t = |k: &str| state.strings.get(locale, k);
    answer(
        StatusCode::UNAUTHORIZED,
        "sso_invalid",
        t("tab.sso_failed"),
        json!({}),
    )
}

/// Without the tab's header: a cross-site form, refused.
pub(super) fn not_from_the_tab(
    state: &Tab,
    headers: &HeaderMap,
    locale: Locale,
) -> Option<Response> {
    let from_the_tab = headers.get("x-octopus-tab").and_then(|v| v.to_str().ok()) == Some("1");
    (!from_the_tab).then(|| {
        answer(
            StatusCode::FORBIDDEN,
            "csrf",
            state.strings.get(locale, "error.csrf"),
            json!({}),
        )
    })
}

/// The request's `Authorization` header, as text.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The organisation and user behind a Teams sign-in token (`Authorization`), or the answer
/// refusing it (401).
pub(super) async fn signed_in<'s>(
    state: &'s Tab,
    auth: Option<&str>,
    locale: Locale,
) -> Result<(&'s Organisation, SsoUser), Response> {
    let user = match state.tab.sso.validate(auth).await {
        Ok(u) => u,
        Err(e) => return Err(sso_refused(state, locale, e)),
    };
    let Some(org) = state.orgs.by_tenant(&user.tenant_id) else {
        return Err(sso_refused(state, locale, SsoError::Tenant));
    };
    Ok((org, user))
}

/// The identity matches no account (404).
pub(super) fn no_account(state: &Tab, locale: Locale) -> Response {
    answer(
        StatusCode::NOT_FOUND,
        "no_account",
        state.strings.get(locale, "tab.no_account"),
        json!({}),
    )
}

/// A domain error as the tab answers it (`http::error` decides which).
pub(super) fn domain_error(state: &Tab, locale: Locale, e: ResetError) -> Response {
    let refusal = Refusal::from(e);
    let (status, code, key) = refusal.tab();
    let mut message = state.strings.get(locale, key);
    if let Refusal::RateLimited { retry_after_secs } = refusal {
        let minutes = retry_after_secs.div_ceil(60).max(1).to_string();
        message = message.replace("{minutes}", &minutes);
    }
    let mut res = answer(status, code, message, json!({}));
    if let Some(secs) = refusal.retry_after()
        && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}
