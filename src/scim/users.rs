//! `/scim/v2/Users`: the handlers. Every write goes through the directory's rules
//! (`crate::directory`), as an import's would.

use crate::model::UnixTime;
use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State, rejection::BytesRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{
    MAX_RESULTS, Provisioner, Scim, ScimError, ScimJson, ScimState, discovery, filter,
    user::{self, Incoming},
};
use crate::{
    directory::{self, Leaving, Source},
    org::Organisation,
    store::{
        Conn, accounts,
        directory::{self as entries, Entry},
    },
};

/// `count` when the client names none.
const DEFAULT_COUNT: i64 = 100;

impl ScimState {
    fn location(&self, id: &str) -> String {
        format!("{}/Users/{id}", self.base())
    }

    fn render(&self, entry: &Entry, org: &Organisation) -> serde_json::Value {
        user::render(entry, org, &self.location(&entry.account.id.0))
    }
}

/// A query parameter by name, compared without case (RFC 7644 §3.4.2).
fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn number(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ScimError> {
    param(params, name)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ScimError::value(format!("{name} must be an integer")))
        })
        .transpose()
}

/// A query, from the URL (`GET /Users`) or a body (`POST /Users/.search`).
#[derive(Debug, Default)]
struct Search {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    attributes: Option<String>,
    excluded: Option<String>,
}

impl Search {
    fn from_params(params: &HashMap<String, String>) -> Result<Self, ScimError> {
        Ok(Self {
            filter: param(params, "filter").map(str::to_string),
            start_index: number(params, "startIndex")?,
            count: number(params, "count")?,
            attributes: param(params, "attributes").map(str::to_string),
            excluded: param(params, "excludedAttributes").map(str::to_string),
        })
    }

    fn from_body(body: &serde_json::Value) -> Result<Self, ScimError> {
        let field = |name: &str| {
            body.as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .map(|(_, v)| v)
        };
        let int = |name: &str| match field(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ScimError::value(format!("{name} must be an integer"))),
        };
        let list = |name: &str| match field(name) {
            Some(serde_json::Value::Array(items)) => Some(
                items
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        Ok(Self {
            filter: field("filter").and_then(|f| f.as_str()).map(str::to_string),
            start_index: int("startIndex")?,
            count: int("count")?,
            attributes: list("attributes"),
            excluded: list("excludedAttributes"),
        })
    }

    async fn run(self, state: &ScimState, org: &Organisation) -> Result<Scim, ScimError> {
        let query = match &self.filter {
            Some(f) => filter::parse(f).map_err(|e| ScimError::filter(e.0))?,
            None => entries::Query::default(),
        };
        // RFC 7644 §3.4.2.4: below 1 means 1; a negative count means 0.
        let start = self.start_index.unwrap_or(1).max(1);
        let count = self.count.unwrap_or(DEFAULT_COUNT).clamp(0, MAX_RESULTS);
        let mut conn = state.store.conn().await?;
        let (total, found) =
            entries::find(&mut conn, &org.tenant_id, &query, start - 1, count).await?;
        let resources = found
            .iter()
            .map(|e| {
                let mut r = state.render(e, org);
                user::project(&mut r, self.attributes.as_deref(), self.excluded.as_deref());
                r
            })
            .collect();
        Ok(Scim(
            StatusCode::OK,
            discovery::page(total, start, resources),
        ))
    }
}

pub async fn list(
    State(state): State<ScimState>,
    Provisioner(org): Provisioner,
    RawQuery(query): RawQuery,
) -> Result<Scim, ScimError> {
    Search::from_params(&super::parameters(query.as_deref()))?
        .run(&state, &org)
        .await
}

pub async fn search(
    State(state): State<ScimState>,
    Provisioner(org): Provisioner,
    body: Result<Bytes, BytesRejection>,
) -> Result<Scim, ScimError> {
    let ScimJson(body) = ScimJson::read(body)?;
    Search::from_body(&body)?.run(&state, &org).await
}

pub async fn get(
    State(state): State<ScimState>,
    Provisioner(org): Provisioner,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Scim, ScimError> {
    let params = super::parameters(query.as_deref());
    let mut conn = state.store.conn().await?;
    let entry = visible(&mut conn, &org, &id).await?;
    let mut resource = state.render(&entry, &org);
    user::project(
        &mut resource,
        param(&params, "attributes"),
        param(&params, "excludedAttributes"),
    );
    Ok(Scim(StatusCode::OK, resource))
}

/// A user the organisation's SCIM client can see: not deleted.
async fn visible(conn: &mut Conn, org: &Organisation, id: &str) -> Result<Entry, ScimError> {
    let found = match uuid::Uuid::parse_str(id) {
        Ok(_) => entries::by_id(conn, &org.tenant_id, id).await?,
        Err(_) => None,
    };
    found
        .filter(|e| e.deleted_at.is_none())
        .ok_or_else(|| ScimError::not_found(format!("no user {id}")))
}

/// The account this user already is: the one its userName names, else the one whose username
/// the mapping gives.
async fn existing(
    conn: &mut Conn,
    org: &Organisation,
    incoming: &Incoming,
) -> Result<Option<Entry>, ScimError> {
    let named = entries::Query {
        user_name: Some(
            incoming
                .account
                .upn
                .clone()
                .unwrap_or_else(|| incoming.account.username.to_string()),
        ),
        ..entries::Query::default()
    };
    let by_name = entries::find(conn, &org.tenant_id, &named, 0, 1).await?.1;
    Ok(match by_name.into_iter().next() {
        Some(e) => Some(e),
        None => {
            entries::by_username(conn, &org.tenant_id, incoming.account.username.as_str()).await?
        }
    })
}

pub async fn create(
    State(state): State<ScimState>,
    Provisioner(org): Provisioner,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let ScimJson(resource) = ScimJson::read(body)?;
    let incoming = user::read(&org, &resource)?;
    let now = state.clock.unix();
    let mut tx = state.store.begin().await?;
    let existing = existing(&mut tx, &org, &incoming).await?;
    let id = match existing {
        // Deleted before, or imported from a file before provisioning took the directory over,
        // and the same person (object id, else UPN, else address): the same account, its
        // username kept.
        Some(entry)
            if (entry.deleted_at.is_some() || entry.external_id.is_none())
                && same_person(&entry, &incoming) =>
        {
            if entry.deleted_at.is_some() {
                entries::set_deleted(&mut tx, &entry.account.id, None).await?;
            }
            let mut incoming = incoming;
            incoming.account.username = entry.account.username.clone();
            write(&mut tx, &org, &entry, &incoming, now).await?;
            tracing::info!(org = %org.slug, account = %entry.account.id, "SCIM: existing account taken over");
            entry.account.id
        }
        Some(_) => {
            return Err(ScimError::uniqueness(
                "a provisioned user already has this userName or username",
            ));
        }
        None => {
            object_id_free(&mut tx, &org, &incoming, None).await?;
            let id = entries::insert(
                &mut tx,
                &incoming.account,
                incoming.external_id.as_deref(),
                now,
            )
            .await?;
            if incoming.active == Some(false) {
                directory::disable(&mut tx, &org, &id, Source::Scim, Leaving::Inactive, now)
                    .await?;
            }
            tracing::info!(org = %org.slug, account = %id, "SCIM: account created");
            id
        }
    };
    let entry = visible(&mut tx, &org, &id.0).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    let location = state.location(&id.0);
    let mut response = Scim(StatusCode::CREATED, state.render(&entry, &org)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

pub async fn replace(
    State(state): State<ScimState>,
    Provisioner(org): Provisioner,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Scim, ScimError> {
    let ScimJson(resource) = ScimJson::read(body)?;
    update(&state, &org, &id, |_| Ok(resource)).await
}

pub async fn patch(
    State(state): State<ScimState>,
    Provisioner(org): Provisioner,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Scim, ScimError> {
    let ScimJson(ops) = ScimJson::read(body)?;
    update(&state, &org, &id, |mut current| {
        super::patch::patch(&mut current, &ops)?;
        Ok(current)
    })
    .await
}

/// A PUT or PATCH: the new resource made from the current one, then written.
async fn update(
    state: &ScimState,
    org: &Organisation,
    id: &str,
    change: impl FnOnce(serde_json::Value) -> Result<serde_json::Value, ScimError>,
) -> Result<Scim, ScimError> {
    let now = state.clock.unix();
    let mut tx = state.store.begin().await?;
    let entry = visible(&mut tx, org, id).await?;
    let current = state.render(&entry, org);
    let before = user::read(org, &current).ok();
    let mut incoming = user::read(org, &change(current)?)?;
    // The username follows its source attribute only when that attribute changed: an account
    // taken over from a file keeps the username it had.
    if before.as_ref().is_some_and(|b| {
        b.username_source
            .eq_ignore_ascii_case(&incoming.username_source)
    }) {
        incoming.account.username = entry.account.username.clone();
    } else if let Some(other) =
        entries::by_username(&mut tx, &org.tenant_id, incoming.account.username.as_str()).await?
        && other.account.id != entry.account.id
    {
        return Err(ScimError::uniqueness(format!(
            "the username {} belongs to another user",
            incoming.account.username
        )));
    }
    write(&mut tx, org, &entry, &incoming, now).await?;
    let entry = visible(&mut tx, org, id).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(Scim(StatusCode::OK, state.render(&entry, org)))
}

/// Writes what the client sent over an account, and enables or disables it as `active` says.
async fn write(
    tx: &mut Conn,
    org: &Organisation,
    entry: &Entry,
    incoming: &Incoming,
    now: UnixTime,
) -> Result<(), ScimError> {
    object_id_free(tx, org, incoming, Some(entry)).await?;
    directory::update(
        tx,
        org,
        &entry.account,
        &incoming.account,
        incoming.external_id.as_deref(),
        Source::Scim,
        now,
    )
    .await?;
    let id = &entry.account.id;
    // No `active` (a PUT that leaves it out): the account stays as it is.
    match (entry.enabled(), incoming.active.unwrap_or(entry.enabled())) {
        (true, false) => {
            directory::disable(tx, org, id, Source::Scim, Leaving::Inactive, now).await?;
            tracing::info!(org = %org.slug, account = %id, "SCIM: account disabled");
        }
        (false, true) => {
            directory::enable(tx, org, id, Source::Scim, now).await?;
            tracing::info!(org = %org.slug, account = %id, "SCIM: account enabled");
        }
        _ => {}
    }
    Ok(())
}

/// Whether an account that provisioning does not hold yet is the person the client sent: the
/// same Entra object id; else, with none to compare, the same UPN, or the same address where the
/// account has no UPN. A username alone (the part of a UPN before its @) never is.
fn same_person(entry: &Entry, incoming: &Incoming) -> bool {
    let (had, sent) = (&entry.account, &incoming.account);
    if let (Some(a), Some(b)) = (&had.entra_object_id, &sent.entra_object_id) {
        return a.eq_ignore_ascii_case(b);
    }
    match &had.upn {
        Some(upn) => sent
            .upn
            .as_deref()
            .is_some_and(|u| u.eq_ignore_ascii_case(upn)),
        None => had.email.full().eq_ignore_ascii_case(sent.email.full()),
    }
}

/// The object id the client sent is no other account's.
async fn object_id_free(
    tx: &mut Conn,
    org: &Organisation,
    incoming: &Incoming,
    this: Option<&Entry>,
) -> Result<(), ScimError> {
    let Some(oid) = &incoming.account.entra_object_id else {
        return Ok(());
    };
    let holder = accounts::holder_of_object_id(tx, &org.tenant_id, oid).await?;
    match holder {
        Some(h) if this.is_none_or(|e| e.account.username.as_str() != h) => Err(
            ScimError::uniqueness("externalId: this Entra object id belongs to another user"),
        ),
        _ => Ok(()),
    }
}

pub async fn delete(
    State(state): State<ScimState>,
    Provisioner(org): Provisioner,
    Path(id): Path<String>,
) -> Result<StatusCode, ScimError> {
    let now = state.clock.unix();
    let mut tx = state.store.begin().await?;
    let entry = visible(&mut tx, &org, &id).await?;
    if entry.enabled() {
        directory::disable(
            &mut tx,
            &org,
            &entry.account.id,
            Source::Scim,
            Leaving::Deleted,
            now,
        )
        .await?;
    }
    entries::set_deleted(&mut tx, &entry.account.id, Some(now)).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    tracing::info!(org = %org.slug, account = %entry.account.id, "SCIM: account deleted (kept disabled)");
    Ok(StatusCode::NO_CONTENT)
}
