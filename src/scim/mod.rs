//! SCIM 2.0 provisioning (RFC 7643/7644) at `/scim/v2`, for Entra ID's "Provisioning" of an
//! enterprise application: users created, updated, disabled (`active: false`) and deleted as the
//! directory changes. The organisation is the one whose bearer token the request carries
//! (`octopus-teams scim token --org SLUG`). Groups are not provisioned.

mod discovery;
mod error;
mod filter;
mod patch;
pub mod token;
mod user;
mod users;

use crate::model::UnixTime;
use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    body::Bytes,
    extract::{FromRef, FromRequestParts, State, rejection::BytesRejection},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::Value;
use tower_http::limit::RequestBodyLimitLayer;

pub use error::ScimError;

use crate::reset::limits::Bucket;
use crate::{
    clock::SharedClock,
    config::Config,
    http::extract::ClientIp,
    org::{Organisation, Organisations},
    reset::limits::{Limit, hit},
    store::{Store, scim_tokens},
};

/// The most resources one query answers (`count` above it is lowered).
pub const MAX_RESULTS: i64 = 200;
/// Entra ID sends one user per request: a few kilobytes.
const BODY_LIMIT: usize = 64 * 1024;

/// What the SCIM endpoint uses.
#[derive(Clone)]
pub struct ScimState {
    pub config: Arc<Config>,
    pub store: Store,
    pub orgs: Organisations,
    pub clock: SharedClock,
    pub failures: Arc<Failures>,
}

/// Failed authentications per client address, counted in memory (per instance): a flood of
/// requests without a valid token costs no database work at all.
#[derive(Default)]
pub struct Failures(std::sync::Mutex<HashMap<String, (UnixTime, u32)>>);

impl Failures {
    /// Counts one failure of `client`; `Err(retry after, in seconds)` past `limit`.
    fn hit(&self, client: String, limit: Limit, now: UnixTime) -> Result<(), u64> {
        let window = i64::try_from(limit.window_secs.max(1)).unwrap_or(i64::MAX);
        let start = now.window_start(window);
        let mut counts = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Past windows are of no use: dropped whenever the map grows large.
        if counts.len() > 10_000 {
            counts.retain(|_, (since, _)| *since == start);
        }
        let count = counts.entry(client).or_insert((start, 0));
        if count.0 != start {
            *count = (start, 0);
        }
        count.1 = count.1.saturating_add(1);
        if count.1 > limit.max {
            return Err(u64::try_from(start + window - now).unwrap_or(1).max(1));
        }
        Ok(())
    }
}

impl FromRef<ScimState> for Arc<Config> {
    fn from_ref(state: &ScimState) -> Self {
        state.config.clone()
    }
}

impl ScimState {
    /// The endpoint's address as clients reach it (resource locations).
    fn base(&self) -> String {
        format!(
            "{}/scim/v2",
            self.config
                .http
                .public_base_url
                .as_str()
                .trim_end_matches('/')
        )
    }
}

pub fn router() -> Router<ScimState> {
    Router::new()
        .route("/scim/v2/Users", get(users::list).post(users::create))
        .route("/scim/v2/Users/.search", post(users::search))
        .route("/scim/v2/.search", post(search_everything))
        .route(
            "/scim/v2/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/Schemas", get(schemas))
        .route("/scim/v2/Schemas/{id}", get(schema))
        .route("/scim/v2/Groups", axum::routing::any(groups))
        .route("/scim/v2/Groups/{*rest}", axum::routing::any(groups))
        .route("/scim/v2/{*rest}", axum::routing::any(unknown))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
}

/// The organisation whose provisioning token the request carries. A missing, wrong or expired
/// token gets the same 401, counted against the client's address (`limits.scim_failures_per_ip`);
/// a good one counts against its organisation (`limits.scim_per_org`).
pub struct Provisioner(pub Organisation);

impl FromRequestParts<ScimState> for Provisioner {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &ScimState) -> Result<Self, ScimError> {
        let now = state.clock.unix();
        let limits = &state.config.limits;
        let window = limits.scim_window_secs;
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.get(..7)
                    .filter(|p| p.eq_ignore_ascii_case("bearer "))
                    .map(|_| v[7..].trim())
            })
            .and_then(token::ProvisioningToken::parse);
        let tenant = match &presented {
            Some(t) => {
                let mut conn = state.store.conn().await?;
                scim_tokens::tenant_of(&mut conn, &t.hash(), now).await?
            }
            None => None,
        };
        let org = tenant.and_then(|t| state.orgs.by_exact_tenant(&t).cloned());
        let Some(org) = org else {
            let ClientIp(ip) = ClientIp::from_request_parts(parts, state)
                .await
                .unwrap_or_else(|never| match never {});
            let limit = Limit {
                max: limits.scim_failures_per_ip,
                window_secs: window,
            };
            if let Err(retry_after) = state.failures.hit(ip.bucket(), limit, now) {
                return Err(ScimError::too_many(retry_after));
            }
            tracing::info!("SCIM request refused: no valid provisioning token");
            return Err(ScimError::unauthorized());
        };
        let mut writer = state.store.write().await?;
        let limit = Limit {
            max: limits.scim_per_org,
            window_secs: window,
        };
        if let Err(refused) = hit(
            &mut writer,
            Bucket::Scim {
                tenant: &org.tenant_id,
            },
            limit,
            now,
        )
        .await?
        {
            return Err(ScimError::too_many(refused.retry_after_secs));
        }
        Ok(Provisioner(org))
    }
}

/// A JSON body, `application/scim+json` (or `application/json`), read as SCIM asks: one that
/// cannot be read (over the size limit, cut) is a SCIM error too.
pub struct ScimJson(pub Value);

impl ScimJson {
    fn read(body: Result<Bytes, BytesRejection>) -> Result<Self, ScimError> {
        let bytes = body.map_err(|e| {
            let status = e.status();
            let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("the body is over {} kB", BODY_LIMIT / 1024)
            } else {
                e.body_text()
            };
            ScimError::new(status, None, detail)
        })?;
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ScimError::syntax(format!("the body is not JSON: {e}")))
    }
}

/// The query string's parameters (a malformed one reads as what it can).
pub fn parameters(query: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A SCIM answer: `application/scim+json`.
pub struct Scim(pub StatusCode, pub Value);

impl IntoResponse for Scim {
    fn into_response(self) -> Response {
        let mut response = (self.0, self.1.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(error::CONTENT_TYPE),
        );
        response
    }
}

async fn service_provider_config(State(s): State<ScimState>, _: Provisioner) -> Scim {
    Scim(
        StatusCode::OK,
        discovery::service_provider_config(&s.base()),
    )
}

async fn resource_types(State(s): State<ScimState>, Provisioner(org): Provisioner) -> Scim {
    Scim(StatusCode::OK, discovery::resource_types(&s.base(), &org))
}

async fn resource_type(
    State(s): State<ScimState>,
    Provisioner(org): Provisioner,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Scim, ScimError> {
    if id == "User" {
        Ok(Scim(
            StatusCode::OK,
            discovery::user_resource_type(&s.base(), &org),
        ))
    } else {
        Err(ScimError::not_found(format!(
            "no resource type {id:?}: only User"
        )))
    }
}

async fn schemas(State(s): State<ScimState>, Provisioner(org): Provisioner) -> Scim {
    Scim(StatusCode::OK, discovery::schemas(&s.base(), &org))
}

async fn schema(
    State(s): State<ScimState>,
    Provisioner(org): Provisioner,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Scim, ScimError> {
    let base = s.base();
    if id.eq_ignore_ascii_case(user::USER) {
        Ok(Scim(StatusCode::OK, discovery::user_schema(&base)))
    } else if id.eq_ignore_ascii_case(user::ENTERPRISE) && discovery::uses_enterprise(&org) {
        Ok(Scim(StatusCode::OK, discovery::enterprise_schema(&base)))
    } else {
        Err(ScimError::not_found(format!("no schema {id:?}")))
    }
}

/// Groups are not provisioned: turn "Provision Microsoft Entra ID Groups" off in the mappings.
async fn groups(_: Provisioner) -> ScimError {
    ScimError::not_found("Groups are not supported: provision users only")
}

/// Only users are served: a search across resource types is theirs alone, so it is not offered.
async fn search_everything(_: Provisioner) -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "search across resource types is not supported: POST /Users/.search",
    )
}

async fn unknown(_: Provisioner) -> ScimError {
    ScimError::not_found("no such SCIM endpoint")
}
