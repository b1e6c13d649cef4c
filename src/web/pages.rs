//! Rendering pages: the common context (strings, language links, organisation, CSRF value) and
//! the error page.

use axum::{
    extract::FromRef,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use minijinja::{Value, context};

use crate::{
    http::{
        cookies::Cookies,
        csrf::CsrfToken,
        extract::{LANG_COOKIE, LangPref},
    },
    i18n::{Locale, Strings},
    org::{Organisation, Organisations},
    templates::Templates,
};

/// What rendering a page takes. The functions here accept any state that holds it
/// (`Pages: FromRef<S>`), so every surface that shows pages can call them with its own state.
#[derive(Clone)]
pub struct Pages {
    pub templates: Templates,
    pub strings: Strings,
    pub orgs: Organisations,
    /// Served over https: the language cookie is then `Secure` and `__Host-`.
    pub https: bool,
}

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
    pub fn new<S>(
        state: &S,
        org_hint: Option<&str>,
        lang: LangPref,
        csrf: &CsrfToken,
        path: &str,
    ) -> Self
    where
        Organisations: FromRef<S>,
    {
        let org = Organisations::from_ref(state).pick(org_hint).clone();
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

    fn context(&self, pages: &Pages) -> Value {
        let lang_links: Vec<Value> = Locale::ALL
            .iter()
            .filter(|l| **l != self.locale)
            .map(|l| {
                context! {
                    code => l.tag(),
                    label => pages.strings.get(*l, "lang.self_name"),
                    url => format!("{}?org={}&lang={}", self.path, self.org.slug, l.tag()),
                }
            })
            .collect();
        context! {
            t => pages.strings.table(self.locale),
            lang => self.locale.tag(),
            lang_links => lang_links,
            csrf => &self.csrf,
            org => context! {
                name => &self.org.name,
                slug => &self.org.slug,
                portal_url => self.org.portal_url.as_str(),
            },
            words => self.org.words_in(self.locale, &pages.strings),
        }
    }
}

/// Renders `pages/{name}.html` with the base context and `extra`.
pub fn render<S>(
    state: &S,
    base: &PageBase,
    status: StatusCode,
    name: &str,
    extra: Value,
) -> Response
where
    Pages: FromRef<S>,
{
    let pages = Pages::from_ref(state);
    let ctx = context! { ..base.context(&pages), ..extra };
    match pages.templates.render(&format!("pages/{name}.html"), ctx) {
        Ok(html) if base.remember_lang => {
            // Only the server reads the choice: HttpOnly like every cookie of ours.
            let cookies =
                Cookies::empty(pages.https).set(LANG_COOKIE, base.locale.tag(), Some(31_536_000));
            (status, cookies, Html(html)).into_response()
        }
        Ok(html) => (status, Html(html)).into_response(),
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

pub fn error<S>(state: &S, base: &PageBase, kind: ErrorPage) -> Response
where
    Pages: FromRef<S>,
{
    if matches!(kind, ErrorPage::Csrf) {
        // The route, never the path: a link's path is its token.
        let route = if base.path.starts_with("/reset/") {
            "/reset/{token}"
        } else {
            base.path.as_str()
        };
        tracing::info!(
            route = %crate::telemetry::escape_controls(route),
            "form refused: its CSRF value does not match this browser's cookie (a form older than \
             the cookie, cookies blocked, or an http:// test of an https:// public_base_url whose \
             cookie is Secure)"
        );
    }
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
pub fn domain_error<S>(state: &S, base: &PageBase, e: crate::reset::ResetError) -> Response
where
    Pages: FromRef<S>,
{
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
