//! Domain errors as every surface answers them, in one place: a `ResetError` becomes a neutral
//! [`Refusal`] (an internal cause is logged here, once, and nowhere else), and the refusal says
//! what each kind of surface shows: the JSON API, the tab's JSON, a page, a card. The surfaces
//! render it in their own words. Also `ApiError`, the JSON API's error response.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::reset::{LinkProblem, ResetError};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<ResetError> for ApiError {
    fn from(e: ResetError) -> Self {
        let refusal = Refusal::from(e);
        let (status, code, message) = refusal.api();
        Self {
            retry_after: refusal.retry_after(),
            ..Self::new(status, code, message)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(json!({ "code": self.code, "message": self.message })),
        )
            .into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}

/// What went wrong, as the surfaces tell it. Internal causes are already logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The person asked too often.
    RateLimited { retry_after_secs: u64 },
    /// The service is busy (the hashing queue is full), not the person.
    Busy { retry_after_secs: u64 },
    /// The link cannot be used.
    Link(LinkProblem),
    /// The password breaks the policy (pages show the violations inline before this).
    Policy,
    /// Something failed inside: momentarily unavailable.
    Unavailable,
}

impl From<ResetError> for Refusal {
    fn from(e: ResetError) -> Self {
        match e {
            ResetError::RateLimited { retry_after_secs } => Self::RateLimited { retry_after_secs },
            ResetError::Busy { retry_after_secs } => {
                // The service's capacity, not the person: operators see it here and in the metric.
                tracing::warn!(
                    retry_after_secs,
                    "refused: the password-hashing queue is full"
                );
                metrics::counter!("octopus_argon2_queue_full_total").increment(1);
                Self::Busy { retry_after_secs }
            }
            ResetError::Link(p) => Self::Link(p),
            ResetError::Policy(_) => Self::Policy,
            ResetError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                Self::Unavailable
            }
        }
    }
}

/// The kinds of error page a refusal shows (`web::pages` renders them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageRefusal {
    NotFound,
    RateLimited { retry_after_secs: u64 },
    Internal,
}

impl Refusal {
    /// The `Retry-After` seconds, when trying later helps.
    pub fn retry_after(self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } | Self::Busy { retry_after_secs } => {
                Some(retry_after_secs)
            }
            _ => None,
        }
    }

    /// The JSON API (`/api/v1/…`): status, code and an English message.
    pub fn api(self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests",
            ),
            Self::Busy { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many checks in progress; retry shortly",
            ),
            Self::Link(p) => (StatusCode::GONE, "link_invalid", p.code()),
            Self::Policy => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "policy",
                "password policy not met",
            ),
            Self::Unavailable => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            ),
        }
    }

    /// The tab's JSON: status, code and the key of its localized message. Only a rate limit is
    /// the person's doing; anything else is "momentarily unavailable".
    pub fn tab(self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "error.rate_limited",
            ),
            _ => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "tab.unavailable",
            ),
        }
    }

    /// A page: which error page, with which status.
    pub fn page(self) -> (StatusCode, PageRefusal) {
        match self {
            Self::RateLimited { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                PageRefusal::RateLimited { retry_after_secs },
            ),
            // The "try again in a minute" page, as a 503: the service is busy, not the person.
            Self::Busy { retry_after_secs } => (
                StatusCode::SERVICE_UNAVAILABLE,
                PageRefusal::RateLimited { retry_after_secs },
            ),
            Self::Unavailable => (StatusCode::INTERNAL_SERVER_ERROR, PageRefusal::Internal),
            Self::Link(_) | Self::Policy => (StatusCode::NOT_FOUND, PageRefusal::NotFound),
        }
    }

    /// A Teams card: `Some(seconds)` for the "try again at …" card, `None` for "unavailable".
    pub fn card(self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(retry_after_secs),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_surface_tells_a_rate_limit_and_an_internal_error_apart() {
        let limited = Refusal::from(ResetError::RateLimited {
            retry_after_secs: 90,
        });
        let internal = Refusal::from(ResetError::Internal(anyhow::anyhow!("db down")));
        assert_eq!(limited.retry_after(), Some(90));
        assert_eq!(limited.api().0, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.tab().1, "rate_limited");
        assert_eq!(limited.card(), Some(90));
        assert_eq!(internal.api().0, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            internal.tab(),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "tab.unavailable"
            )
        );
        assert_eq!(
            internal.page(),
            (StatusCode::INTERNAL_SERVER_ERROR, PageRefusal::Internal)
        );
        assert_eq!(internal.card(), None);
        let busy = Refusal::from(ResetError::Busy {
            retry_after_secs: 5,
        });
        assert_eq!(busy.page().0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.tab().0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.retry_after(), Some(5));
    }
}
