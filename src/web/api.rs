//! `POST /api/v1/credentials/verify`: lets the portal (or a directory bridge) check a username
//! and password. One API key per organisation (Bearer); rate limited; the same hashing path as
//! the login page; the answer says only valid, invalid or locked.

use std::net::IpAddr;

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::WebState;
use crate::model::{ClientAddr, NewPassword, Requester};
use crate::{
    http::{error::ApiError, extract::ClientIp},
    reset::signin::{Channel, CheckOutcome},
};

#[derive(Deserialize)]
pub struct VerifyRequest {
    username: String,
    password: String,
    /// The end user's address as the portal saw it: limits then apply per person, not to the
    /// whole organisation key.
    #[serde(default)]
    client_ip: Option<String>,
}

pub async fn verify(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Result<Json<VerifyRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    let org = state.orgs.by_api_key(presented).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required (Authorization: Bearer …)",
        )
    })?;
    let Json(req) =
        body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    let end_user = match req.client_ip.as_deref().map(str::trim) {
        None => None,
        Some(raw) => Some(raw.parse::<IpAddr>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "client_ip: not an IPv4 or IPv6 address",
            )
        })?),
    };
    let outcome = state
        .signin
        .check(
            org,
            &Requester::Browser {
                ip: end_user.map_or(ip, ClientAddr::from),
            },
            &req.username,
            &NewPassword::new(req.password),
            Channel::Api {
                on_behalf: end_user.is_some(),
            },
        )
        .await?;
    let result = match outcome {
        CheckOutcome::Valid(_) => "valid",
        CheckOutcome::Invalid => "invalid",
        CheckOutcome::Locked => "locked",
    };
    Ok(Json(json!({ "result": result })))
}
