//! « Ouvrir une demande » in the tab: `POST /api/tab/desk-request` with the Teams single sign-on
//! token, where the tab's self-service ends (the identity is linked to no account, a hard lock).
//! The request names the token's identity only; what goes to the desk is the domain's.

use crate::reset::desk_request::DeskRequests;
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
    answers::{answer, bearer, domain_error, locale_of, not_from_the_tab, signed_in},
};
use crate::model::Requester;
use crate::reset::desk_request::{Asker, DeskReason, DeskRequest};

#[derive(Deserialize)]
pub struct DeskBody {
    reason: String,
    locale: Option<String>,
}

// Long: the handler maps each outcome to the tab's answer, side by side.
pub async fn desk_request(
    State(state): State<Tab>,
    headers: HeaderMap,
    body: Result<Json<DeskBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let body = body.ok().map(|Json(b)| b);
    let asked = body.as_ref().and_then(|b| b.locale.as_deref());
    let locale = locale_of(&state, &headers, asked, None);
    let t = |k: &str| state.strings.get(locale, k);
    if let Some(refused) = not_from_the_tab(&state, &headers, locale) {
        return refused;
    }
    // The tab offers it where its own self-service ends, nowhere else.
    let reason = body
        .as_ref()
        .and_then(|b| b.reason.parse::<DeskReason>().ok())
        .filter(|r| matches!(r, DeskReason::Unlinked | DeskReason::HardLock));
    let Some(reason) = reason else {
        return answer(
            StatusCode::BAD_REQUEST,
            "bad_request",
            t("tab.bad_request"),
            json!({}),
        );
    };
    let auth = bearer(&headers);
    let (org, user) = match signed_in(&state, auth, locale).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Some(object_id) = user.object_id.clone() else {
        return answer(
            StatusCode::BAD_REQUEST,
            "bad_request",
            t("tab.bad_request"),
            json!({}),
        );
    };
    let asker = Asker {
        requester: Requester::Tab {
            tenant_id: org.tenant_id.clone(),
            object_id: object_id.clone(),
        },
        aad_object_id: Some(object_id),
        display_name: user
            .name
            .clone()
            .or_else(|| user.naming.upn.clone())
            .unwrap_or_default(),
        upn: user.naming.upn.clone(),
    };
    match DeskRequests::of(&state.reset)
        .open_desk_request(org, &asker, reason)
        .await
    {
        Ok(DeskRequest::Sent) => answer(
            StatusCode::OK,
            "desk_request_sent",
            t("tab.desk_sent"),
            json!({}),
        ),
        Ok(DeskRequest::AlreadySent) => answer(
            StatusCode::OK,
            "desk_request_already",
            t("tab.desk_already"),
            json!({}),
        ),
        Ok(DeskRequest::NotOffered) => answer(
            StatusCode::NOT_FOUND,
            "not_offered",
            t("tab.bad_request"),
            json!({}),
        ),
        Err(e) => domain_error(&state, locale, e),
    }
}
