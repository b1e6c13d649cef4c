//! `/forgot` and `/enroll`: "Réinitialiser votre mot de passe" / "M'inscrire au service".
//! The answer is the same, in words and in timing, whether the account exists or not.

use super::form::{CsrfForm, PageForm};
use axum::{
    extract::{OriginalUri, Query, State},
    http::StatusCode,
    response::Response,
};
use minijinja::context;
use serde::Deserialize;

use super::{
    WebState,
    pages::{self, PageBase},
};
use crate::{
    http::{
        csrf::CsrfToken,
        extract::{ClientIp, LangPref},
    },
    model::{Purpose, Requester, Username},
};

#[derive(Debug, Deserialize)]
pub struct OrgQuery {
    pub org: Option<String>,
}

#[derive(Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    username: String,
}

impl PageForm for RequestForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn org(&self) -> Option<&str> {
        self.org.as_deref()
    }
}

pub async fn show_forgot(
    state: State<WebState>,
    q: Query<OrgQuery>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
) -> Response {
    show(state, q, lang, csrf, uri, Purpose::Reset).await
}

pub async fn show_enroll(
    state: State<WebState>,
    q: Query<OrgQuery>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
) -> Response {
    show(state, q, lang, csrf, uri, Purpose::Enroll).await
}

async fn show(
    State(state): State<WebState>,
    Query(q): Query<OrgQuery>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
    purpose: Purpose,
) -> Response {
    let base = PageBase::new(&state, q.org.as_deref(), lang, &csrf, uri.path());
    pages::render(
        &state,
        &base,
        StatusCode::OK,
        "request",
        context! { purpose => purpose.as_str(), username => "", error => "" },
    )
}

pub async fn submit_forgot(
    state: State<WebState>,
    ip: ClientIp,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
    form: CsrfForm<RequestForm>,
) -> Response {
    submit(state, ip, lang, csrf, uri, form, Purpose::Reset).await
}

pub async fn submit_enroll(
    state: State<WebState>,
    ip: ClientIp,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
    form: CsrfForm<RequestForm>,
) -> Response {
    submit(state, ip, lang, csrf, uri, form, Purpose::Enroll).await
}

async fn submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
    CsrfForm(form): CsrfForm<RequestForm>,
    purpose: Purpose,
) -> Response {
    let base = PageBase::new(&state, form.org.as_deref(), lang, &csrf, uri.path());
    let username = match Username::parse(&form.username) {
        Ok(u) => u,
        Err(e) => {
            // What was typed is shown back only when it fits the field.
            let long = matches!(e, crate::model::InvalidInput::TooLong);
            let shown: String = form
                .username
                .trim()
                .chars()
                .take(Username::MAX_LEN)
                .collect();
            let error = if long {
                "username_long"
            } else {
                "username_invalid"
            };
            let ctx = context! { purpose => purpose.as_str(), username => shown, error => error };
            return pages::render(
                &state,
                &base,
                StatusCode::UNPROCESSABLE_ENTITY,
                "request",
                ctx,
            );
        }
    };
    match state
        .reset
        .request(
            &base.org,
            &Requester::Browser { ip },
            &username,
            purpose,
            base.locale,
        )
        .await
    {
        Ok(_) => pages::render(
            &state,
            &base,
            StatusCode::OK,
            "sent",
            context! { purpose => purpose.as_str() },
        ),
        Err(e) => pages::domain_error(&state, &base, e),
    }
}
