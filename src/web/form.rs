//! A submitted page form, taken only once its CSRF value matches the browser's: a handler that
//! takes a [`CsrfForm`] cannot read the form without the check, nor forget it.

use axum::{
    Form,
    extract::{FromRef, FromRequest, FromRequestParts, OriginalUri, Request},
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

use super::{
    WebState,
    pages::{self, ErrorPage, PageBase, Pages},
};
use crate::http::{csrf::CsrfToken, extract::LangPref};

/// A page form: its CSRF field, and the organisation it was shown for, if it says.
pub trait PageForm: DeserializeOwned + Send {
    fn csrf(&self) -> &str;
    fn org(&self) -> Option<&str> {
        None
    }
}

/// The form, its CSRF value checked.
pub struct CsrfForm<T>(pub T);

/// Why no form is given.
pub enum Refused {
    /// The body is not this form (axum's own answer).
    Unreadable(Response),
    /// The CSRF value does not match. Answered with the CSRF page in the form's organisation,
    /// rendered (and logged) only if the handler lets this answer stand.
    Forged(Box<(Pages, PageBase)>),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Unreadable(r) => r,
            Refused::Forged(page) => {
                let (pages, base) = *page;
                pages::error(&pages, &base, ErrorPage::Csrf)
            }
        }
    }
}

impl<T: PageForm> FromRequest<WebState> for CsrfForm<T> {
    type Rejection = Refused;

    async fn from_request(req: Request, state: &WebState) -> Result<Self, Refused> {
        let (mut parts, body) = req.into_parts();
        let Ok(csrf) = CsrfToken::from_request_parts(&mut parts, state).await;
        let Ok(lang) = LangPref::from_request_parts(&mut parts, state).await;
        let path = match OriginalUri::from_request_parts(&mut parts, state).await {
            Ok(OriginalUri(uri)) => uri.path().to_string(),
            Err(never) => match never {},
        };
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| Refused::Unreadable(e.into_response()))?;
        if csrf.matches(form.csrf()) {
            return Ok(CsrfForm(form));
        }
        let base = PageBase::new(state, form.org(), lang, &csrf, &path);
        Err(Refused::Forged(Box::new((Pages::from_ref(state), base))))
    }
}
