//! The SCIM `User` resource (RFC 7643 §4.1) as the accounts carry it: rendering an account,
//! reading a resource into one. PATCH operations are in `patch.rs`.

use crate::model::UnixTime;
use serde_json::{Map, Value, json};

use super::error::ScimError;
use crate::{
    i18n::Locale,
    model::{EmailAddress, Username},
    org::{Organisation, UsernameFrom},
    store::{accounts::NewAccount, directory::Entry},
};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Core User attributes (RFC 7643 §4.1) that are accepted and not kept: Entra's default
/// mappings send some of them (title, addresses, phone numbers).
pub(super) const IGNORED: [&str; 15] = [
    "nickname",
    "profileurl",
    "title",
    "usertype",
    "locale",
    "timezone",
    "password",
    "phonenumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509certificates",
];

/// The resource of an account. `userName` is what the source sent (the UPN when one is kept).
pub fn render(entry: &Entry, org: &Organisation, location: &str) -> Value {
    let a = &entry.account;
    let mut user = json!({
        "schemas": [USER],
        "id": a.id.0,
        "userName": a.upn.as_deref().unwrap_or(a.username.as_str()),
        "displayName": a.display_name,
        "active": entry.enabled(),
        "emails": [{ "value": a.email.full(), "type": "work", "primary": true }],
        "meta": {
            "resourceType": "User",
            "created": instant(entry.created_at),
            "lastModified": instant(entry.updated_at),
            "location": location,
        },
    });
    if let Some(external_id) = &entry.external_id {
        user["externalId"] = json!(external_id);
    }
    if let Some(locale) = a.locale {
        user["preferredLanguage"] = json!(locale.tag());
    }
    if org.provisioning.username == UsernameFrom::EmployeeNumber {
        user["schemas"] = json!([USER, ENTERPRISE]);
        user[ENTERPRISE] = json!({ "employeeNumber": a.username.as_str() });
    }
    user
}

/// The attributes a query asks for (`attributes`) or leaves out (`excludedAttributes`), as
/// comma-separated paths; `id` and `schemas` are always returned.
pub fn project(resource: &mut Value, attributes: Option<&str>, excluded: Option<&str>) {
    let Some(user) = resource.as_object_mut() else {
        return;
    };
    let paths = |list: Option<&str>| -> Vec<(String, Option<String>)> {
        list.unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                let lower = p.to_ascii_lowercase();
                let core = format!("{}:", USER.to_ascii_lowercase());
                let p = lower.strip_prefix(&core).unwrap_or(&lower).to_string();
                match p.split_once('.') {
                    Some((top, sub)) if !p.starts_with("urn:") => {
                        (top.to_string(), Some(sub.to_string()))
                    }
                    _ => (p, None),
                }
            })
            .collect()
    };
    let always = |k: &str| k.eq_ignore_ascii_case("id") || k.eq_ignore_ascii_case("schemas");
    let wanted = paths(attributes);
    if !wanted.is_empty() {
        user.retain(|k, _| always(k) || wanted.iter().any(|(top, _)| k.eq_ignore_ascii_case(top)));
    }
    for (top, sub) in paths(excluded) {
        match sub {
            None => user.retain(|k, _| always(k) || !k.eq_ignore_ascii_case(&top)),
            Some(sub) => {
                let parent = user.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&top));
                if let Some((_, Value::Object(inner))) = parent {
                    inner.retain(|k, _| !k.eq_ignore_ascii_case(&sub));
                }
            }
        }
    }
}

fn instant(at: UnixTime) -> String {
    at.to_utc()
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A resource read into an account, with what SCIM keeps beside it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub account: NewAccount,
    pub external_id: Option<String>,
    /// `None` when the resource leaves it out: enabled on creation, unchanged on replacement.
    pub active: Option<bool>,
    /// The attribute the username comes from, as sent (to tell whether it changed).
    pub username_source: String,
}

/// Reads a whole resource (POST, PUT, or a PATCH's result).
pub fn read(org: &Organisation, resource: &Value) -> Result<Incoming, ScimError> {
    let user = resource
        .as_object()
        .ok_or_else(|| ScimError::syntax("the body is not a JSON object"))?;
    let text = |key: &str| -> Result<Option<String>, ScimError> {
        match get(user, key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(_) => Err(ScimError::value(format!("{key} must be a string"))),
        }
    };
    for key in user.keys() {
        check_known(key)?;
    }
    let user_name = text("userName")?.ok_or_else(|| ScimError::value("userName is required"))?;
    let external_id = text("externalId")?;
    let (username_source, username) = username(org, user, &user_name)?;
    let upn = user_name.contains('@').then(|| user_name.to_lowercase());
    let email = work_email(user)?;
    let display_name = display_name(user, &text)?.unwrap_or_else(|| username.to_string());
    if display_name.chars().any(char::is_control) {
        return Err(ScimError::value("displayName has control characters"));
    }
    let locale = text("preferredLanguage")?.and_then(|l| Locale::from_tag(&l));
    let entra_object_id = external_id
        .as_deref()
        .filter(|_| org.provisioning.object_id_from_external_id)
        .and_then(|e| uuid::Uuid::parse_str(e).ok())
        .map(|u| u.to_string());
    Ok(Incoming {
        account: NewAccount {
            tenant_id: org.tenant_id.clone(),
            username,
            email,
            display_name,
            entra_object_id,
            upn,
            locale,
        },
        external_id,
        active: match get(user, "active") {
            None | Some(Value::Null) => None,
            Some(v) => {
                Some(boolean(v).ok_or_else(|| ScimError::value("active must be true or false"))?)
            }
        },
        username_source,
    })
}

/// The Octopus username as the organisation maps it (the UPN's local part, the whole userName,
/// or the employee number), and the attribute it came from, as sent.
fn username(
    org: &Organisation,
    user: &Map<String, Value>,
    user_name: &str,
) -> Result<(String, Username), ScimError> {
    let employee_number = match get(user, ENTERPRISE) {
        Some(Value::Object(ext)) => match get(ext, "employeeNumber") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => None,
        },
        _ => None,
    };
    let username_source = match org.provisioning.username {
        UsernameFrom::UpnLocalPart | UsernameFrom::UserName => user_name.to_string(),
        UsernameFrom::EmployeeNumber => employee_number.ok_or_else(|| {
            ScimError::value(format!(
                "{ENTERPRISE}:employeeNumber is required (it is the Octopus username)"
            ))
        })?,
    };
    let username_text = match org.provisioning.username {
        UsernameFrom::UpnLocalPart => user_name.split('@').next().unwrap_or_default(),
        _ => username_source.as_str(),
    };
    let username = Username::parse(username_text)
        .map_err(|e| ScimError::value(format!("the username {username_text:?}: {e}")))?;
    Ok((username_source, username))
}

/// A value by its attribute name, compared without case (RFC 7643 §2.1).
pub(super) fn get<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// `true`, `false`, or Entra's strings `"True"` / `"False"`.
pub(super) fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// The address to mail: the `work` one, else the primary one, else the only one.
pub(super) fn work_email(user: &Map<String, Value>) -> Result<EmailAddress, ScimError> {
    let emails = match get(user, "emails") {
        Some(Value::Array(list)) => list.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(ScimError::value("emails must be a list")),
    };
    let field = |e: &Value, k: &str| e.as_object().and_then(|o| get(o, k)).cloned();
    let is_type = |e: &Value, t: &str| {
        field(e, "type")
            .and_then(|v| v.as_str().map(|s| s.eq_ignore_ascii_case(t)))
            .unwrap_or(false)
    };
    let chosen = emails
        .iter()
        .find(|e| is_type(e, "work"))
        .or_else(|| {
            emails
                .iter()
                .find(|e| field(e, "primary").as_ref().and_then(boolean) == Some(true))
        })
        .or(if emails.len() == 1 {
            emails.first()
        } else {
            None
        });
    let value = chosen
        .and_then(|e| field(e, "value"))
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| {
            ScimError::value("emails: a work address is required (it receives the reset links)")
        })?;
    EmailAddress::parse(&value.to_lowercase())
        .map_err(|_| ScimError::value(format!("emails: {value:?} is not an address")))
}

fn display_name(
    user: &Map<String, Value>,
    text: &impl Fn(&str) -> Result<Option<String>, ScimError>,
) -> Result<Option<String>, ScimError> {
    if let Some(d) = text("displayName")? {
        return Ok(Some(d));
    }
    let Some(Value::Object(name)) = get(user, "name") else {
        return Ok(None);
    };
    let part = |k: &str| get(name, k).and_then(Value::as_str).map(str::trim);
    if let Some(f) = part("formatted").filter(|f| !f.is_empty()) {
        return Ok(Some(f.to_string()));
    }
    let joined = [part("givenName"), part("familyName")]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok((!joined.is_empty()).then_some(joined))
}

/// A top-level attribute of a User: known (kept or ignored) or refused.
pub(super) fn check_known(key: &str) -> Result<(), ScimError> {
    let lower = key.to_ascii_lowercase();
    let known = [
        "schemas",
        "id",
        "externalid",
        "meta",
        "username",
        "name",
        "displayname",
        "active",
        "emails",
        "preferredlanguage",
    ];
    if known.contains(&lower.as_str())
        || IGNORED.contains(&lower.as_str())
        || lower == ENTERPRISE.to_ascii_lowercase()
    {
        Ok(())
    } else {
        Err(ScimError::path(format!(
            "no attribute {key:?} in the User schema"
        )))
    }
}
