//! `/privacy` and `/terms`, linked from the Teams app package.

use axum::{
    extract::{OriginalUri, Query, State},
    http::StatusCode,
    response::Response,
};
use minijinja::context;

use super::{
    WebState,
    pages::{self, PageBase},
    request::OrgQuery,
};
use crate::http::{csrf::CsrfToken, extract::LangPref};

async fn page(
    state: WebState,
    q: OrgQuery,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
    which: &str,
) -> Response {
    let base = PageBase::new(&state, q.org.as_deref(), lang, &csrf, uri.path());
    let privacy = (which == "privacy").then(|| privacy_facts(&state, &base));
    pages::render(
        &state,
        &base,
        StatusCode::OK,
        "legal",
        context! { page => which, privacy => privacy },
    )
}

/// What the privacy page says beyond its text: who answers for personal information, and how
/// long each kind of it is kept, from this deployment's configuration (Loi 25).
fn privacy_facts(state: &WebState, base: &PageBase) -> minijinja::Value {
    use crate::{
        audit::LOCK_STATE_IDLE_SECS,
        housekeeping::kept_days,
        reset::signin::{BROWSER_SESSION_SECS, PERSISTENT_SESSION_SECS},
        store::housekeeping::{DEAD_MAIL, SENT_MAIL, TOKENS},
    };
    let t = |key: &str| {
        state
            .pages
            .strings
            .get(base.locale, &format!("legal.{key}"))
    };
    let org = &base.org;
    let officer = org
        .privacy
        .officer
        .as_deref()
        .map(|o| t("privacy_officer").replace("{officer}", o));
    let officer_contact = org
        .privacy
        .contact
        .as_deref()
        .map(|c| t("privacy_officer_contact").replace("{contact}", c));
    let day = 86_400;
    let retention = vec![
        t("retention_links")
            .replace(
                "{minutes}",
                &(org.token_lifetime.as_secs() / 60).to_string(),
            )
            .replace("{days}", &kept_days(TOKENS.name).to_string()),
        t("retention_sessions")
            .replace("{days}", &(PERSISTENT_SESSION_SECS / day).to_string())
            .replace("{hours}", &(BROWSER_SESSION_SECS / 3600).to_string()),
        t("retention_mail")
            .replace("{sent}", &kept_days(SENT_MAIL.name).to_string())
            .replace("{dead}", &kept_days(DEAD_MAIL.name).to_string()),
        t("retention_audit").replace(
            "{days}",
            &(org.audit_retention.as_secs() / 86_400).to_string(),
        ),
        t("retention_locks").replace("{days}", &(LOCK_STATE_IDLE_SECS / day).to_string()),
        t("retention_accounts"),
    ];
    context! {
        officer => officer.unwrap_or_else(|| t("privacy_no_officer")),
        officer_contact => officer_contact,
        retention_title => t("retention_title"),
        retention => retention,
    }
}

pub async fn privacy(
    State(state): State<WebState>,
    Query(q): Query<OrgQuery>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
) -> Response {
    page(state, q, lang, csrf, uri, "privacy").await
}

pub async fn terms(
    State(state): State<WebState>,
    Query(q): Query<OrgQuery>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
) -> Response {
    page(state, q, lang, csrf, uri, "terms").await
}
