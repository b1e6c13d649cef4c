//! Our cookies, read and written through axum-extra's [`CookieJar`]. One place decides their
//! attributes: `Path=/`, `HttpOnly` (only the server reads them), `SameSite=Lax` unless said
//! otherwise, and behind https `Secure` with a `__Host-` name: browsers then accept such a
//! cookie only with `Secure`, `Path=/` and no `Domain`, so a sibling sub-domain or a plain-http
//! page cannot plant or overwrite it.

use std::{convert::Infallible, sync::Arc};

use axum::{
    extract::{FromRef, FromRequestParts},
    http::request::Parts,
    response::{IntoResponseParts, ResponseParts},
};
use axum_extra::extract::{
    CookieJar,
    cookie::{Cookie, SameSite},
};

use crate::config::Config;

/// The name a cookie of ours goes by: `__Host-{name}` behind https, `{name}` otherwise.
fn cookie_name(name: &str, https: bool) -> String {
    if https {
        format!("__Host-{name}")
    } else {
        name.to_string()
    }
}

/// The browser's cookies of ours, and those the response sets. Extract it, read with
/// [`Cookies::get`], write with [`Cookies::set`] or [`Cookies::forget`], and return it with
/// the response (`(cookies, page)`). No `Debug`: the jar holds the session token.
#[derive(Clone)]
pub struct Cookies {
    jar: CookieJar,
    https: bool,
}

impl Cookies {
    fn new(jar: CookieJar, https: bool) -> Self {
        Self { jar, https }
    }

    /// No cookies read, for a response that only sets some.
    pub fn empty(https: bool) -> Self {
        Self::new(CookieJar::new(), https)
    }

    /// The value the browser sent for our cookie `name` (under its `__Host-` name behind https).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.jar
            .get(&cookie_name(name, self.https))
            .map(Cookie::value)
    }

    /// Our cookie `name` with its attributes, for [`Cookies::put`] when [`Cookies::set`]'s
    /// do not fit (e.g. `SameSite=Strict`). Until the browser closes unless given a `max_age`.
    pub fn build(&self, name: &str, value: impl Into<String>) -> Cookie<'static> {
        Cookie::build((cookie_name(name, self.https), value.into()))
            .path("/")
            .same_site(SameSite::Lax)
            .http_only(true)
            .secure(self.https)
            .build()
    }

    /// Sets `name` for `max_age` seconds (None: until the browser closes).
    pub fn set(self, name: &str, value: &str, max_age: Option<i64>) -> Self {
        let mut c = self.build(name, value);
        if let Some(age) = max_age {
            c.set_max_age(time::Duration::seconds(age));
        }
        self.put(c)
    }

    /// Tells the browser to drop `name`: an empty value with `Max-Age=0` and the same
    /// attributes (a `__Host-` cookie can only be replaced by one that is `Secure` too).
    pub fn forget(self, name: &str) -> Self {
        self.set(name, "", Some(0))
    }

    /// Sets a cookie made with [`Cookies::build`].
    pub fn put(self, cookie: impl Into<Cookie<'static>>) -> Self {
        Self {
            jar: self.jar.add(cookie),
            https: self.https,
        }
    }
}

/// The request's cookies; `https` from the configuration.
impl<S> FromRequestParts<S> for Cookies
where
    Arc<Config>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let https = Arc::<Config>::from_ref(state).uses_https();
        let jar = CookieJar::from_request_parts(parts, state).await?;
        Ok(Self::new(jar, https))
    }
}

/// The cookies set, as `Set-Cookie` headers.
impl IntoResponseParts for Cookies {
    type Error = Infallible;

    fn into_response_parts(self, res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        self.jar.into_response_parts(res)
    }
}
