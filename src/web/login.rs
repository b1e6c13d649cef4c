//! `/login`: "Bienvenue sur le portail Web du Centre de services". The three choices mean what
//! they say: a persistent session; remember only the username (prefilled next time); remember
//! nothing. A successful sign-in leads to the organisation's portal link.

use super::form::{CsrfForm, PageForm};
use axum::{
    extract::{OriginalUri, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use minijinja::context;
use serde::Deserialize;

use super::{
    WebState,
    pages::{self, ErrorPage, PageBase},
};
use crate::model::{NewPassword, Requester};
use crate::{
    http::{
        cookies::Cookies,
        csrf::CsrfToken,
        extract::{ClientIp, LangPref},
    },
    reset::{
        ResetError,
        signin::{Channel, CheckOutcome, PERSISTENT_SESSION_SECS, SessionToken},
    },
};

const SESSION: &str = "octo_session";
const REMEMBERED_USER: &str = "octo_user";
const REMEMBER_CHOICE: &str = "octo_remember";
const YEAR: i64 = 365 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Remember {
    /// "Se souvenir de moi": the session outlives the browser, and the username is kept.
    Me,
    /// "Se souvenir uniquement de mon nom": the username is prefilled next time.
    Username,
    /// "Ne pas se souvenir de moi".
    Nothing,
}

impl Remember {
    fn parse(s: &str) -> Self {
        match s {
            "me" => Remember::Me,
            "username" => Remember::Username,
            _ => Remember::Nothing,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Remember::Me => "me",
            Remember::Username => "username",
            Remember::Nothing => "nothing",
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    org: Option<String>,
    changed: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    org: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    remember: String,
}

impl PageForm for LoginForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn org(&self) -> Option<&str> {
        self.org.as_deref()
    }
}

fn remembered(cookies: &Cookies) -> (String, Remember) {
    let user = cookies.get(REMEMBERED_USER).unwrap_or_default().to_string();
    let choice = cookies
        .get(REMEMBER_CHOICE)
        .map_or(Remember::Username, Remember::parse);
    (user, choice)
}

pub async fn show(
    State(state): State<WebState>,
    Query(q): Query<LoginQuery>,
    lang: LangPref,
    csrf: CsrfToken,
    cookies: Cookies,
    uri: OriginalUri,
) -> Response {
    let base = PageBase::new(&state, q.org.as_deref(), lang, &csrf, uri.path());
    let (username, remember) = remembered(&cookies);
    let notice = match q.changed.as_deref() {
        Some("reset") => "changed",
        Some("enroll") => "enrolled",
        _ => "",
    };
    pages::render(
        &state,
        &base,
        StatusCode::OK,
        "login",
        context! { username => username, remember => remember.as_str(), notice => notice, error => "" },
    )
}

pub async fn submit(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    lang: LangPref,
    csrf: CsrfToken,
    cookies: Cookies,
    uri: OriginalUri,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Response {
    let base = PageBase::new(&state, form.org.as_deref(), lang, &csrf, uri.path());
    let remember = Remember::parse(&form.remember);
    let password = NewPassword::new(form.password);
    let who = Requester::Browser { ip };
    let outcome = state
        .signin
        .check(
            &base.org,
            &who,
            &form.username,
            &password,
            Channel::LoginPage,
        )
        .await;
    let failed = |error: &'static str, status| {
        let ctx = context! { username => form.username.trim(), remember => remember.as_str(), notice => "", error => error };
        pages::render(&state, &base, status, "login", ctx)
    };
    let account = match outcome {
        Ok(CheckOutcome::Valid(account)) => account,
        Ok(CheckOutcome::Invalid) => return failed("invalid", StatusCode::UNAUTHORIZED),
        Ok(CheckOutcome::Locked) => return failed("locked", StatusCode::UNAUTHORIZED),
        Err(ResetError::RateLimited { retry_after_secs }) => {
            return pages::error(&state, &base, ErrorPage::RateLimited { retry_after_secs });
        }
        Err(e) => return pages::domain_error(&state, &base, e),
    };
    let token = match state
        .signin
        .open_session(&account, remember == Remember::Me)
        .await
    {
        Ok(t) => t,
        Err(e) => return pages::domain_error(&state, &base, e),
    };
    let session_age = (remember == Remember::Me).then_some(PERSISTENT_SESSION_SECS);
    let cookies = cookies.set(SESSION, token.expose(), session_age).set(
        REMEMBER_CHOICE,
        remember.as_str(),
        Some(YEAR),
    );
    let cookies = match remember {
        Remember::Me | Remember::Username => {
            cookies.set(REMEMBERED_USER, account.username.as_str(), Some(YEAR))
        }
        Remember::Nothing => cookies.forget(REMEMBERED_USER),
    };
    let to = format!("/account?org={}", base.org.slug);
    (cookies, Redirect::to(&to)).into_response()
}

/// After signing in: who you are and the way to the organisation's portal.
pub async fn account(
    State(state): State<WebState>,
    Query(q): Query<LoginQuery>,
    lang: LangPref,
    csrf: CsrfToken,
    cookies: Cookies,
    uri: OriginalUri,
) -> Response {
    let base = PageBase::new(&state, q.org.as_deref(), lang, &csrf, uri.path());
    let Some(token) = cookies.get(SESSION).and_then(SessionToken::parse) else {
        return Redirect::to(&format!("/login?org={}", base.org.slug)).into_response();
    };
    let account = match state.signin.session_account(&token).await {
        Ok(Some(a)) => a,
        Ok(None) => return Redirect::to(&format!("/login?org={}", base.org.slug)).into_response(),
        Err(e) => return pages::domain_error(&state, &base, e),
    };
    let base = match state.orgs.by_tenant(&account.tenant_id) {
        Some(org) => PageBase::for_org(org.clone(), lang, &csrf, uri.path()),
        None => base,
    };
    let ctx =
        context! { display_name => &account.display_name, username => account.username.as_str() };
    pages::render(&state, &base, StatusCode::OK, "signed_in", ctx)
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    org: Option<String>,
}

impl PageForm for LogoutForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn org(&self) -> Option<&str> {
        self.org.as_deref()
    }
}

pub async fn logout(
    State(state): State<WebState>,
    lang: LangPref,
    csrf: CsrfToken,
    cookies: Cookies,
    uri: OriginalUri,
    CsrfForm(form): CsrfForm<LogoutForm>,
) -> Response {
    let base = PageBase::new(&state, form.org.as_deref(), lang, &csrf, uri.path());
    if let Some(token) = cookies.get(SESSION).and_then(SessionToken::parse)
        && let Err(e) = state.signin.close_session(&token).await
    {
        return pages::domain_error(&state, &base, e);
    }
    let to = format!("/login?org={}", base.org.slug);
    (cookies.forget(SESSION), Redirect::to(&to)).into_response()
}
