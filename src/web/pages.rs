//! Rendering pages: the common context (strings, language links, organisation, CSRF value) and
//! the error page.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use minijinja::{Value, context};

use crate::{
    app::AppState,
    http::{
        csrf::CsrfToken,
        extract::{LANG_COOKIE, LangPref},
        set_cookie,
    },
    i18n::Locale,
    org::Organisation,
};

/// What every page needs to know about the request.
pub struct PageBase {
    pub locale: Locale,
    pub org: Organisation,
    pub csrf: String,
    /// Path (without query) the language links point at.
    pub path: String,
    remember_lang: bool,
}

impl PageBase {
    pub fn new(
        state: &AppState,
        org_hint: Option<&str>,
        lang: LangPref,
        csrf: &CsrfToken,
        path: &str,
    ) -> Self {
        let org = state.orgs.pick(org_hint).clone();
        Self::for_org(org, lang, csrf, path)
    }

    pub fn for_org(org: Organisation, lang: LangPref, csrf: &CsrfToken, path: &str) -> Self {
        Self {
            locale: lang.resolve(org.default_locale),
            org,
            csrf: csrf.value().to_string(),
            path: path.to_string(),
            remember_lang: lang.from_query.is_some(),
        }
    }

    fn context(&self, state: &AppState) -> Value {
        let lang_links: Vec<Value> = Locale::ALL
            .iter()
            .filter(|l| **l != self.locale)
            .map(|l| {
                context! {
                    code => l.tag(),
                    label => state.strings.get(*l, "lang.self_name"),
                    url => format!("{}?org={}&lang={}", self.path, self.org.slug, l.tag()),
                }
            })
            .collect();
        context! {
            t => state.strings.table(self.locale),
            lang => self.locale.tag(),
            lang_links => lang_links,
            csrf => &self.csrf,
            org => context! {
                name => &self.org.name,
                slug => &self.org.slug,
                portal_url => self.org.portal_url.as_str(),
            },
        }
    }
}

/// Renders `pages/{name}.html` with the base context and `extra`.
pub fn render(
    state: &AppState,
    base: &PageBase,
    status: StatusCode,
    name: &str,
    extra: Value,
) -> Response {
    let ctx = context! { ..base.context(state), ..extra };
    match state.templates.render(&format!("pages/{name}.html"), ctx) {
        Ok(html) => {
            let mut res = (status, Html(html)).into_response();
            // Only the server reads the choice: HttpOnly like every cookie of ours.
            if base.remember_lang
                && let Some(v) = set_cookie(
                    LANG_COOKIE,
                    base.locale.tag(),
                    Some(31_536_000),
                    true,
                    state.config.uses_https(),
                )
            {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                template = name,
                "page template failed"
            );
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response()
        }
    }
}

/// The kinds of error page.
#[derive(Debug, Clone, Copy)]
pub enum ErrorPage {
    NotFound,
    /// The form's CSRF value is missing or stale (e.g. cookies blocked, or page kept open).
    Csrf,
    RateLimited {
        retry_after_secs: u64,
    },
    Internal,
}

pub fn error(state: &AppState, base: &PageBase, kind: ErrorPage) -> Response {
    let (status, key, minutes) = match kind {
        ErrorPage::NotFound => (StatusCode::NOT_FOUND, "not_found", 0),
        ErrorPage::Csrf => (StatusCode::FORBIDDEN, "csrf", 0),
        ErrorPage::RateLimited { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            retry_after_secs.div_ceil(60).max(1),
        ),
        ErrorPage::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal", 0),
    };
    let mut res = render(
        state,
        base,
        status,
        "error",
        context! { error => key, minutes => minutes },
    );
    if let ErrorPage::RateLimited { retry_after_secs } = kind
        && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// A domain error that a page cannot show inline, as `http::error` says pages show it.
pub fn domain_error(state: &AppState, base: &PageBase, e: crate::reset::ResetError) -> Response {
    use crate::http::error::{PageRefusal, Refusal};
    let (status, page) = Refusal::from(e).page();
    let kind = match page {
        PageRefusal::NotFound => ErrorPage::NotFound,
        PageRefusal::RateLimited { retry_after_secs } => {
            ErrorPage::RateLimited { retry_after_secs }
        }
        PageRefusal::Internal => ErrorPage::Internal,
    };
    let mut res = error(state, base, kind);
    *res.status_mut() = status;
    res
}
