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
    pages::render(
        &state,
        &base,
        StatusCode::OK,
        "legal",
        context! { page => which },
    )
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
