//! `/forgot-username`: « Nom d'utilisateur oublié ? ». The answer is the same whether the
//! address belongs to an account or not; the username goes only to the address's mailbox.

use super::form::{CsrfForm, PageForm};
use crate::reset::reminder::Reminders;
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
    request::OrgQuery,
};
use crate::{
    http::{
        csrf::CsrfToken,
        extract::{ClientIp, LangPref},
    },
    model::{EmailAddress, Requester},
};

#[derive(Deserialize)]
pub struct ReminderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    email: String,
}

impl PageForm for ReminderForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn org(&self) -> Option<&str> {
        self.org.as_deref()
    }
}

pub async fn show(
    State(state): State<WebState>,
    Query(q): Query<OrgQuery>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
) -> Response {
    let base = PageBase::new(&state, q.org.as_deref(), lang, &csrf, uri.path());
    pages::render(
        &state,
        &base,
        StatusCode::OK,
        "forgot_username",
        context! { email => "", error => false },
    )
}

pub async fn submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
    CsrfForm(form): CsrfForm<ReminderForm>,
) -> Response {
    let base = PageBase::new(&state, form.org.as_deref(), lang, &csrf, uri.path());
    let Ok(email) = EmailAddress::parse(&form.email) else {
        let ctx = context! { email => form.email.trim(), error => true };
        return pages::render(
            &state,
            &base,
            StatusCode::UNPROCESSABLE_ENTITY,
            "forgot_username",
            ctx,
        );
    };
    match Reminders::of(&state.reset)
        .remind_username(&base.org, &Requester::Browser { ip }, &email, base.locale)
        .await
    {
        Ok(()) => pages::render(&state, &base, StatusCode::OK, "username_sent", context! {}),
        Err(e) => pages::domain_error(&state, &base, e),
    }
}
