//! PATCH operations on a `User` (RFC 7644 §3.5.2) as Entra ID sends them: `add`, `replace` and
//! `remove`, with or without a path, applied to the rendered resource before it is read back.

use serde_json::{Map, Value, json};

use super::{
    error::ScimError,
    user::{ENTERPRISE, IGNORED, USER, boolean, check_known, get, work_email},
};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Applies a PATCH request's operations to a rendered resource.
pub fn patch(resource: &mut Value, body: &Value) -> Result<(), ScimError> {
    let schemas = body.as_object().and_then(|b| get(b, "schemas"));
    if let Some(schemas) = schemas
        && !schemas
            .as_array()
            .is_some_and(|list| list.iter().any(|s| s.as_str() == Some(PATCH_OP)))
    {
        return Err(ScimError::syntax(format!(
            "a PATCH body has the schema {PATCH_OP}"
        )));
    }
    let ops = body
        .as_object()
        .and_then(|b| get(b, "Operations"))
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::syntax("a PatchOp needs an Operations list"))?;
    for op in ops {
        let op = op
            .as_object()
            .ok_or_else(|| ScimError::syntax("each operation is an object"))?;
        let kind = get(op, "op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| ScimError::syntax("an operation has no op"))?;
        let path = get(op, "path").and_then(Value::as_str).map(str::trim);
        let value = get(op, "value").cloned().unwrap_or(Value::Null);
        let user = resource
            .as_object_mut()
            .ok_or_else(|| ScimError::syntax("the resource is not an object"))?;
        match (kind.as_str(), path) {
            ("add" | "replace", None) => {
                let Value::Object(values) = value else {
                    return Err(ScimError::value(
                        "an operation without path takes an object",
                    ));
                };
                for (key, v) in values {
                    set(user, &key, v)?;
                }
            }
            ("add" | "replace", Some(path)) => set(user, path, value)?,
            ("remove", Some(path)) => remove(user, path)?,
            ("remove", None) => return Err(ScimError::no_target("remove needs a path")),
            (other, _) => {
                return Err(ScimError::syntax(format!(
                    "op {other:?}: only add, replace and remove"
                )));
            }
        }
    }
    Ok(())
}

/// A path without the core schema's URN, and which part it names.
enum Target {
    /// A top-level attribute.
    Attribute(String),
    /// `name.givenName` and the like.
    Name(String),
    /// The work address: `emails[type eq "work"].value`, `emails.value`.
    WorkEmail,
    /// An attribute of the enterprise extension (`…:enterprise:2.0:User:employeeNumber`), or
    /// the whole extension (`None`).
    Enterprise(Option<String>),
    /// A core attribute accepted and not kept (`phoneNumbers[type eq "work"].value`, `title`).
    Ignored,
}

fn target(path: &str) -> Result<Target, ScimError> {
    let lower = path.to_ascii_lowercase();
    let enterprise = ENTERPRISE.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix(&enterprise) {
        let attribute = rest
            .strip_prefix(':')
            .map(|_| path[ENTERPRISE.len() + 1..].to_string());
        return Ok(Target::Enterprise(attribute));
    }
    let core = format!("{}:", USER.to_ascii_lowercase());
    let path = if lower.starts_with(&core) {
        &path[core.len()..]
    } else {
        path
    };
    let lower = path.to_ascii_lowercase();
    let top = lower.split(['[', '.']).next().unwrap_or_default();
    if IGNORED.contains(&top) {
        return Ok(Target::Ignored);
    }
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.starts_with("emails") {
        return match compact.as_str() {
            "emails[typeeq\"work\"].value"
            | "emails[primaryeqtrue].value"
            | "emails.value"
            | "emails" => Ok(Target::WorkEmail),
            _ => Err(ScimError::path(format!(
                "{path:?}: only the work address is kept"
            ))),
        };
    }
    if lower.starts_with("name.") {
        return Ok(Target::Name(path["name.".len()..].to_string()));
    }
    check_known(path)?;
    Ok(Target::Attribute(path.to_string()))
}

fn set(user: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), ScimError> {
    match target(path)? {
        Target::Ignored => Ok(()),
        Target::Attribute(a) if matches!(a.to_ascii_lowercase().as_str(), "id" | "meta") => {
            Err(ScimError::mutability(format!("{a} is set by the service")))
        }
        Target::Attribute(a) if a.eq_ignore_ascii_case("active") => {
            let b =
                boolean(&value).ok_or_else(|| ScimError::value("active must be true or false"))?;
            put(user, "active", Value::Bool(b));
            Ok(())
        }
        Target::Attribute(a) => {
            put(user, &a, value);
            Ok(())
        }
        Target::Name(part) => {
            let name = object_at(user, "name");
            put(name, &part, value);
            Ok(())
        }
        Target::WorkEmail => {
            let address = match value {
                Value::Array(list) => {
                    let mut only = Map::new();
                    only.insert("emails".into(), Value::Array(list));
                    work_email(&only)?.full().to_string()
                }
                Value::String(s) => s,
                _ => return Err(ScimError::value("an email address is a string")),
            };
            put(
                user,
                "emails",
                json!([{ "value": address, "type": "work", "primary": true }]),
            );
            Ok(())
        }
        Target::Enterprise(None) => {
            let Value::Object(values) = value else {
                return Err(ScimError::value("the enterprise extension takes an object"));
            };
            let ext = object_at(user, ENTERPRISE);
            for (k, v) in values {
                put(ext, &k, v);
            }
            Ok(())
        }
        Target::Enterprise(Some(attribute)) => {
            put(object_at(user, ENTERPRISE), &attribute, value);
            Ok(())
        }
    }
}

fn remove(user: &mut Map<String, Value>, path: &str) -> Result<(), ScimError> {
    match target(path)? {
        Target::Ignored => Ok(()),
        Target::Attribute(a)
            if matches!(
                a.to_ascii_lowercase().as_str(),
                "id" | "meta" | "username" | "schemas"
            ) =>
        {
            Err(ScimError::mutability(format!("{a} cannot be removed")))
        }
        Target::WorkEmail => Err(ScimError::mutability(
            "the work address cannot be removed: it receives the reset links",
        )),
        Target::Attribute(a) => {
            user.retain(|k, _| !k.eq_ignore_ascii_case(&a));
            Ok(())
        }
        Target::Name(part) => {
            if let Some(Value::Object(name)) = user.get_mut("name") {
                name.retain(|k, _| !k.eq_ignore_ascii_case(&part));
            }
            Ok(())
        }
        Target::Enterprise(None) => {
            user.retain(|k, _| !k.eq_ignore_ascii_case(ENTERPRISE));
            Ok(())
        }
        Target::Enterprise(Some(attribute)) => {
            if let Some(Value::Object(ext)) = user.get_mut(ENTERPRISE) {
                ext.retain(|k, _| !k.eq_ignore_ascii_case(&attribute));
            }
            Ok(())
        }
    }
}

/// Sets `key`, replacing a key that differs only by case.
fn put(object: &mut Map<String, Value>, key: &str, value: Value) {
    object.retain(|k, _| !k.eq_ignore_ascii_case(key));
    object.insert(key.to_string(), value);
}

/// The object at `key`, made when absent or not an object.
fn object_at<'a>(object: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let key = object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(key))
        .cloned()
        .unwrap_or_else(|| key.to_string());
    let slot = object.entry(key).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    match slot {
        Value::Object(map) => map,
        _ => unreachable!("an object was just put there"),
    }
}
