//! The tab page, its configuration page and its API. The API takes JSON with the
//! `X-Octopus-Tab` header only (a cross-site form can send neither, and no CORS is allowed), so
//! it is CSRF-safe without cookies, which Teams' third-party iframe may not send.

use crate::teams::identity::TeamsIdentities;
use axum::{
    Json,
    extract::{OriginalUri, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use super::{
    Tab,
    answers::{
        answer, bearer, domain_error, locale_of, no_account, not_from_the_tab, signed_in,
        sso_refused,
    },
    unlock::is_locked,
};
use crate::model::{ClientAddr, Purpose, Requester, Username};
use crate::{
    http::{
        csrf::CsrfToken,
        extract::{ClientIp, LangPref},
    },
    i18n::Locale,
    teams::identity::SignedInRequest,
    templates::local_time,
    web::pages::{self, PageBase},
};

#[derive(Debug, Deserialize)]
pub struct TabQuery {
    context: Option<String>,
    locale: Option<String>,
    theme: Option<String>,
    org: Option<String>,
}

/// Teams fills `{locale}` and `{theme}` in the tab URL; a literal placeholder means "unknown".
fn filled(v: &Option<String>) -> Option<&str> {
    v.as_deref()
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
}

fn theme(q: &TabQuery) -> &'static str {
    match filled(&q.theme) {
        Some("dark") => "dark",
        Some("contrast") => "contrast",
        _ => "default",
    }
}

fn base(state: &Tab, q: &TabQuery, mut lang: LangPref, csrf: &CsrfToken, path: &str) -> PageBase {
    if let Some(l) = filled(&q.locale).and_then(Locale::from_tag) {
        lang.from_query = Some(l);
    }
    PageBase::new(state, q.org.as_deref(), lang, csrf, path)
}

pub async fn page(
    State(state): State<Tab>,
    Query(q): Query<TabQuery>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
) -> Response {
    let base = base(&state, &q, lang, &csrf, uri.path());
    let cfg = &state.config.tab;
    let ctx = context! {
        theme => theme(&q),
        scope => if filled(&q.context) == Some("channel") { "channel" } else { "personal" },
        teams_js_url => cfg.teams_js_url.as_str(),
        teams_js_integrity => cfg.teams_js_integrity.as_deref().unwrap_or_default(),
        js => json!({
            "lang": base.locale.tag(),
            "t": state.strings.section(base.locale, "tab"),
            "hint": base.org.words_in(base.locale, &state.strings).username_hint,
            "uniform": {
                "reset": state.strings.get(base.locale, "sent.reset_body"),
                "enroll": state.strings.get(base.locale, "sent.enroll_body"),
            },
        }),
    };
    pages::render(&state, &base, StatusCode::OK, "tab", ctx)
}

pub async fn config_page(
    State(state): State<Tab>,
    Query(q): Query<TabQuery>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
) -> Response {
    let base = base(&state, &q, lang, &csrf, uri.path());
    let root = state
        .config
        .http
        .public_base_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    let cfg = &state.config.tab;
    // The organisation's own Octopus portal as a tab (the seed's "onglet octopus"): Teams frames
    // only https pages, whose host the package lists in validDomains (manifest.rs).
    let portal = Some(&base.org.portal_url).filter(|u| u.scheme() == "https");
    let mut configs = json!({
        "self-service": {
            "entityId": "octopus",
            "suggestedDisplayName": "Octopus",
            "contentUrl": format!("{root}/tab?context=channel&org={}&locale={{locale}}&theme={{theme}}", base.org.slug),
            "websiteUrl": format!("{root}/tab?org={}", base.org.slug),
        },
    });
    if let Some(url) = portal {
        configs["portal"] = json!({
            "entityId": "octopus-portal",
            "suggestedDisplayName": state.strings.get(base.locale, "tab.config_portal_name"),
            "contentUrl": url.as_str(),
            "websiteUrl": url.as_str(),
        });
    }
    let ctx = context! {
        theme => theme(&q),
        teams_js_url => cfg.teams_js_url.as_str(),
        teams_js_integrity => cfg.teams_js_integrity.as_deref().unwrap_or_default(),
        portal_host => portal.and_then(|u| u.host_str()).unwrap_or_default(),
        js => json!({ "configs": configs }),
    };
    pages::render(&state, &base, StatusCode::OK, "tab_config", ctx)
}

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../../static/tab.js"),
    )
}

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../../static/tab.css"),
    )
}

/// `GET /api/tab/me`: the Octopus account behind the Teams sign-in.
pub async fn me(State(state): State<Tab>, ClientIp(ip): ClientIp, headers: HeaderMap) -> Response {
    let auth = bearer(&headers);
    let locale = locale_of(&state, &headers, None, None);
    if let Err(e) = state.reset.admit_lookup(&Requester::Browser { ip }).await {
        return domain_error(&state, locale, e);
    }
    let user = match state.tab.sso.validate(auth).await {
        Ok(u) => u,
        Err(e) => return sso_refused(&state, locale, e),
    };
    let Some(org) = state.orgs.by_tenant(&user.tenant_id) else {
        return sso_refused(&state, locale, crate::teams::tab::sso::SsoError::Tenant);
    };
    let naming = async { user.naming.clone() };
    let found = TeamsIdentities::of(&state.reset)
        .account_of_identity(org, user.object_id.as_deref(), naming)
        .await;
    let org = Some(org);
    let org_name = org.map(|o| o.name.clone()).unwrap_or_default();
    let account = match found {
        Ok(Some(acc)) => acc,
        Ok(None) => {
            let message = state.strings.get(locale, "tab.no_account");
            let extra = json!({
                "orgName": org_name,
                "canAskDesk": org.is_some_and(|o| o.octopus_requests.is_some()),
            });
            return answer(StatusCode::NOT_FOUND, "no_account", message, extra);
        }
        Err(e) => return domain_error(&state, locale, e),
    };
    let me = json!({
        "username": account.username.as_str(),
        "orgName": org_name,
        "portalUrl": org.map(|o| o.portal_url.to_string()),
        "locked": is_locked(&state, org, &account).await,
    });
    (StatusCode::OK, Json(me)).into_response()
}

#[derive(Deserialize)]
pub struct TabRequest {
    #[serde(deserialize_with = "purpose")]
    purpose: Purpose,
    username: Option<String>,
    locale: Option<String>,
    org: Option<String>,
}

fn purpose<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Purpose, D::Error> {
    let name = String::deserialize(d)?;
    name.parse()
        .map_err(|_| serde::de::Error::custom("purpose: reset or enroll"))
}

/// `POST /api/tab/request`: sends the link, for the signed-in account (SSO) or for a typed
/// username (fallback), with the same uniform answer as everywhere else.
pub async fn request(
    State(state): State<Tab>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Result<Json<TabRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let fallback_locale = locale_of(&state, &headers, None, None);
    if let Some(refused) = not_from_the_tab(&state, &headers, fallback_locale) {
        return refused;
    }
    // Unreadable, or a purpose other than `reset` or `enroll`.
    let Ok(Json(req)) = body else {
        return bad_request(&state, fallback_locale);
    };
    let purpose = req.purpose;
    let auth = bearer(&headers);
    // Signed in through Teams: the account is the one the token names.
    if auth.is_some() {
        let locale = locale_of(&state, &headers, req.locale.as_deref(), None);
        return request_signed_in(&state, auth, locale, purpose).await;
    }
    // Outside Teams, or without single sign-on: the username form.
    request_by_username(&state, ip, &headers, &req, purpose).await
}

/// The link for a typed username, with the uniform answer.
async fn request_by_username(
    state: &Tab,
    ip: ClientAddr,
    headers: &HeaderMap,
    req: &TabRequest,
    purpose: Purpose,
) -> Response {
    let org = state.orgs.pick(req.org.as_deref());
    let locale = locale_of(state, headers, req.locale.as_deref(), Some(&org.tenant_id));
    let Ok(username) = Username::parse(req.username.as_deref().unwrap_or_default()) else {
        let message = state.strings.get(locale, "request.error_username");
        return answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            "username_invalid",
            message,
            json!({}),
        );
    };
    let who = Requester::Browser { ip };
    match state
        .reset
        .request(org, &who, &username, purpose, locale)
        .await
    {
        Ok(_) => answer(
            StatusCode::OK,
            "sent",
            uniform(state, locale, purpose),
            json!({}),
        ),
        Err(e) => domain_error(state, locale, e),
    }
}

/// The link for the account the sign-in names; its owner is told where it went.
async fn request_signed_in(
    state: &Tab,
    auth: Option<&str>,
    locale: Locale,
    purpose: Purpose,
) -> Response {
    let (org, user) = match signed_in(state, auth, locale).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let asked = TeamsIdentities::of(&state.reset)
        .request_for_identity(
            org,
            user.object_id.as_deref(),
            user.naming.clone(),
            purpose,
            locale,
        )
        .await;
    let delivery = match asked {
        Ok(SignedInRequest::Requested(done)) => done.delivery,
        Ok(SignedInRequest::NoAccount) => return no_account(state, locale),
        Err(e) => return domain_error(state, locale, e),
    };
    let Some(d) = delivery else {
        return answer(
            StatusCode::OK,
            "sent",
            uniform(state, locale, purpose),
            json!({}),
        );
    };
    let at = d.expires_at.to_utc().unwrap_or_default();
    let masked = d.email.masked();
    let expires = local_time(at, state.clock.now(), org.time_zone, locale);
    let msg = state
        .strings
        .get(locale, "tab.sent_to")
        .replace("{email}", &masked)
        .replace("{time}", &expires);
    let extra = json!({"maskedEmail": masked, "expiresAt": expires});
    answer(StatusCode::OK, "sent", msg, extra)
}

/// A body that is not the JSON the tab sends.
fn bad_request(state: &Tab, locale: Locale) -> Response {
    answer(
        StatusCode::BAD_REQUEST,
        "bad_request",
        state.strings.get(locale, "tab.bad_request"),
        json!({}),
    )
}

fn uniform(state: &Tab, locale: Locale, purpose: Purpose) -> String {
    state
        .strings
        .get(locale, &format!("sent.{}_body", purpose.as_str()))
}
