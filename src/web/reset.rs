//! `/reset/{token}`: "Changer mon mot de passe". GET shows the form and never consumes the link
//! (mail scanners and previews fetch links); POST sets the password and redirects to the login
//! page. `/reset/{token}/cancel`: "Ce n'était pas moi" (POST only cancels).

use super::form::{CsrfForm, PageForm, Refused};
use axum::{
    extract::rejection::PathRejection,
    extract::{OriginalUri, Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use minijinja::context;
use serde::Deserialize;

use super::{
    WebState,
    pages::{self, ErrorPage, PageBase},
};
use crate::model::{NewPassword, Requester, ResetToken};
use crate::{
    http::{
        csrf::CsrfToken,
        extract::{ClientIp, LangPref},
    },
    reset::{LinkProblem, ResetError, service::LinkInfo},
    templates::local_time,
};

#[derive(Deserialize)]
pub struct NewPasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirmation: String,
}

impl PageForm for NewPasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
}

impl PageForm for CancelForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The page base for a link: its organisation, and its language unless the person chose one.
fn base_for(
    state: &WebState,
    link: Option<&LinkInfo>,
    mut lang: LangPref,
    csrf: &CsrfToken,
    path: &str,
) -> PageBase {
    let org = link
        .and_then(|l| state.orgs.by_tenant(&l.tenant_id))
        .unwrap_or_else(|| state.orgs.default_org())
        .clone();
    if lang.from_query.is_none() && lang.from_cookie.is_none() {
        lang.from_header = link.and_then(|l| l.locale).or(lang.from_header);
    }
    PageBase::for_org(org, lang, csrf, path)
}

fn invalid(state: &WebState, base: &PageBase, problem: LinkProblem) -> Response {
    pages::render(
        state,
        base,
        StatusCode::GONE,
        "link_invalid",
        context! { problem => problem.code() },
    )
}

async fn inspect(state: &WebState, raw: &str) -> Result<(ResetToken, LinkInfo), ResetError> {
    let token = ResetToken::parse(raw).ok_or(ResetError::Link(LinkProblem::Unknown))?;
    let link = state.reset.inspect(&token).await?;
    Ok((token, link))
}

fn form_page(
    state: &WebState,
    base: &PageBase,
    link: &LinkInfo,
    status: StatusCode,
    errors: Vec<&'static str>,
) -> Response {
    let expires = link
        .expires_at
        .to_utc()
        .map(|t| local_time(t, state.clock.now(), base.org.time_zone, base.locale))
        .unwrap_or_default();
    let p = &base.org.policy;
    pages::render(
        state,
        base,
        status,
        "reset",
        context! {
            purpose => link.purpose.as_str(),
            username => link.username.as_str(),
            expires_local => expires,
            errors => errors,
            policy => context! {
                min_length => p.min_length, max_length => p.max_length,
                require_letter => p.require_letter, require_digit => p.require_digit,
                min_strength => p.min_strength, block_own_words => p.block_own_words,
            },
        },
    )
}

pub async fn show(
    State(state): State<WebState>,
    raw: Result<Path<String>, PathRejection>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
) -> Response {
    // A link cut or mangled by a mail client (not UTF-8) is just an unknown link.
    let raw = raw.map(|Path(r)| r).unwrap_or_default();
    let viewed = match ResetToken::parse(&raw) {
        Some(token) => state.reset.view(&token).await,
        None => Err(ResetError::Link(LinkProblem::Unknown)),
    };
    match viewed {
        Ok(link) => {
            let base = base_for(&state, Some(&link), lang, &csrf, uri.path());
            form_page(&state, &base, &link, StatusCode::OK, vec![])
        }
        Err(e) => link_error(&state, base_for(&state, None, lang, &csrf, uri.path()), e),
    }
}

pub async fn submit(
    State(state): State<WebState>,
    raw: Result<Path<String>, PathRejection>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
    form: Result<CsrfForm<NewPasswordForm>, Refused>,
) -> Response {
    // A body that is not the form is refused as it comes; a forged one once the link is known,
    // so that its page is in the link's organisation.
    let form = match form {
        Err(Refused::Unreadable(answer)) => return answer,
        form => form.ok(),
    };
    // A link cut or mangled by a mail client (not UTF-8) is just an unknown link.
    let raw = raw.map(|Path(r)| r).unwrap_or_default();
    let (token, link) = match inspect(&state, &raw).await {
        Ok(found) => found,
        Err(e) => return link_error(&state, base_for(&state, None, lang, &csrf, uri.path()), e),
    };
    let base = base_for(&state, Some(&link), lang, &csrf, uri.path());
    let Some(CsrfForm(form)) = form else {
        return pages::error(&state, &base, ErrorPage::Csrf);
    };
    let (pw, confirm) = (
        NewPassword::new(form.password),
        NewPassword::new(form.confirmation),
    );
    match state.reset.complete(&token, &pw, &confirm).await {
        Ok(done) => {
            let org = state
                .orgs
                .by_tenant(&done.tenant_id)
                .map_or("", |o| o.slug.as_str());
            Redirect::to(&format!(
                "/login?org={org}&changed={}",
                done.purpose.as_str()
            ))
            .into_response()
        }
        Err(ResetError::Policy(violations)) => {
            let codes = violations.iter().map(|v| v.code()).collect();
            form_page(
                &state,
                &base,
                &link,
                StatusCode::UNPROCESSABLE_ENTITY,
                codes,
            )
        }
        Err(e) => link_error(&state, base, e),
    }
}

pub async fn show_cancel(
    State(state): State<WebState>,
    raw: Result<Path<String>, PathRejection>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
) -> Response {
    // A link cut or mangled by a mail client (not UTF-8) is just an unknown link.
    let raw = raw.map(|Path(r)| r).unwrap_or_default();
    match inspect(&state, &raw).await {
        Ok((_, link)) => {
            let base = base_for(&state, Some(&link), lang, &csrf, uri.path());
            pages::render(
                &state,
                &base,
                StatusCode::OK,
                "cancel",
                context! { purpose => link.purpose.as_str() },
            )
        }
        Err(e) => link_error(&state, base_for(&state, None, lang, &csrf, uri.path()), e),
    }
}

pub async fn submit_cancel(
    State(state): State<WebState>,
    raw: Result<Path<String>, PathRejection>,
    ClientIp(ip): ClientIp,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
    form: Result<CsrfForm<CancelForm>, Refused>,
) -> Response {
    // A body that is not the form is refused as it comes; a forged one once the link is known,
    // so that its page is in the link's organisation.
    let form = match form {
        Err(Refused::Unreadable(answer)) => return answer,
        form => form.ok(),
    };
    // A link cut or mangled by a mail client (not UTF-8) is just an unknown link.
    let raw = raw.map(|Path(r)| r).unwrap_or_default();
    let (token, link) = match inspect(&state, &raw).await {
        Ok(found) => found,
        Err(e) => return link_error(&state, base_for(&state, None, lang, &csrf, uri.path()), e),
    };
    let base = base_for(&state, Some(&link), lang, &csrf, uri.path());
    let Some(CsrfForm(_form)) = form else {
        return pages::error(&state, &base, ErrorPage::Csrf);
    };
    match state.reset.cancel(&token, &Requester::Browser { ip }).await {
        Ok(()) => pages::render(&state, &base, StatusCode::OK, "cancelled", context! {}),
        Err(e) => link_error(&state, base, e),
    }
}

fn link_error(state: &WebState, base: PageBase, e: ResetError) -> Response {
    match e {
        ResetError::Link(problem) => invalid(state, &base, problem),
        other => pages::domain_error(state, &base, other),
    }
}

/// `/reset/` or `/reset` with the token cut off (a link wrapped by a mail client): the « lien
/// invalide » page, in the page's language.
pub async fn show_truncated(
    State(state): State<WebState>,
    lang: LangPref,
    csrf: CsrfToken,
    uri: OriginalUri,
) -> Response {
    let base = base_for(&state, None, lang, &csrf, uri.path());
    link_error(&state, base, ResetError::Link(LinkProblem::Unknown))
}
