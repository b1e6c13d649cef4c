//! The `filter` of a SCIM query (RFC 7644 §3.4.2.2), as far as Entra ID's provisioning uses
//! it: `attribute eq value`, joined by `and`. Anything else is named in the error.

use crate::store::directory::Query;

/// Why a filter is refused (the SCIM error's detail; `scimType` is `invalidFilter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFilter(pub String);

/// The attributes a filter may compare, by their names in any case, with or without the core
/// schema's URN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attribute {
    Id,
    UserName,
    ExternalId,
    Email,
    Active,
}

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:user:";

fn attribute(path: &str) -> Result<Attribute, BadFilter> {
    let lower = path.to_ascii_lowercase();
    let name = lower.strip_prefix(CORE).unwrap_or(&lower);
    Ok(match name {
        "id" => Attribute::Id,
        "username" => Attribute::UserName,
        "externalid" => Attribute::ExternalId,
        "emails" | "emails.value" | "emails[type eq \"work\"].value" => Attribute::Email,
        "active" => Attribute::Active,
        _ => {
            return Err(BadFilter(format!(
                "cannot filter on {path:?}: only id, userName, externalId, emails and active"
            )));
        }
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    Bool(bool),
}

/// Reads `filter` into a directory query.
pub fn parse(filter: &str) -> Result<Query, BadFilter> {
    let mut query = Query::default();
    let mut rest = filter.trim();
    if rest.is_empty() {
        return Err(BadFilter("the filter is empty".into()));
    }
    loop {
        let (path, after) = attribute_path(rest)?;
        let (op, after) =
            word(after).ok_or_else(|| BadFilter(format!("no operator after {path}")))?;
        if !op.eq_ignore_ascii_case("eq") {
            return Err(BadFilter(format!(
                "operator {op:?} is not supported: only eq, joined by and"
            )));
        }
        let (value, after) = value(after)?;
        set(&mut query, attribute(path)?, value)?;
        rest = after.trim_start();
        if rest.is_empty() {
            return Ok(query);
        }
        match word(rest) {
            Some((join, after)) if join.eq_ignore_ascii_case("and") => rest = after.trim_start(),
            _ => {
                return Err(BadFilter(format!(
                    "cannot read {rest:?}: only eq comparisons joined by and"
                )));
            }
        }
    }
}

fn set(query: &mut Query, attribute: Attribute, value: Value) -> Result<(), BadFilter> {
    let text = match (attribute, value) {
        (Attribute::Active, Value::Bool(b)) => {
            query.enabled = Some(b);
            return Ok(());
        }
        (Attribute::Active, Value::Text(t)) => {
            query.enabled = Some(match t.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(BadFilter("active compares with true or false".into())),
            });
            return Ok(());
        }
        (_, Value::Bool(_)) => {
            return Err(BadFilter("this attribute compares with a string".into()));
        }
        (_, Value::Text(t)) => t,
    };
    // Our ids are UUIDs: anything else is no account of ours.
    if attribute == Attribute::Id && uuid::Uuid::parse_str(&text).is_err() {
        query.impossible = true;
    }
    let slot = match attribute {
        Attribute::Id => &mut query.id,
        Attribute::UserName => &mut query.user_name,
        Attribute::ExternalId => &mut query.external_id,
        Attribute::Email | Attribute::Active => &mut query.email,
    };
    // Two different values for one attribute: nothing matches both.
    if slot.as_ref().is_some_and(|old| *old != text) {
        query.impossible = true;
    }
    *slot = Some(text);
    Ok(())
}

/// An attribute path: letters, digits, `.`, `:`, `_`, `-`, `$`, and one `[…]` value filter.
fn attribute_path(s: &str) -> Result<(&str, &str), BadFilter> {
    let s = s.trim_start();
    let mut end = 0;
    let mut in_brackets = false;
    for (i, c) in s.char_indices() {
        match c {
            '[' if !in_brackets => in_brackets = true,
            ']' if in_brackets => in_brackets = false,
            ' ' if !in_brackets => break,
            '(' | ')' if !in_brackets => {
                return Err(BadFilter("parentheses are not supported".into()));
            }
            _ => {}
        }
        end = i + c.len_utf8();
    }
    if end == 0 || in_brackets {
        return Err(BadFilter(format!("no attribute at {s:?}")));
    }
    Ok((&s[..end], &s[end..]))
}

/// The next space-separated word.
fn word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let end = s.find(' ').unwrap_or(s.len());
    (end > 0).then(|| (&s[..end], &s[end..]))
}

/// A JSON string, `true` or `false`.
fn value(s: &str) -> Result<(Value, &str), BadFilter> {
    let s = s.trim_start();
    if let Some(body) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Ok((Value::Text(out), &body[i + 1..])),
                '\\' => match chars.next() {
                    Some((_, '"')) => out.push('"'),
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, '/')) => out.push('/'),
                    _ => return Err(BadFilter("unsupported escape in a string".into())),
                },
                c => out.push(c),
            }
        }
        return Err(BadFilter("a string is not closed".into()));
    }
    let (w, after) = word(s).ok_or_else(|| BadFilter("a comparison has no value".into()))?;
    match w.to_ascii_lowercase().as_str() {
        "true" => Ok((Value::Bool(true), after)),
        "false" => Ok((Value::Bool(false), after)),
        _ => Err(BadFilter(format!(
            "{w:?} is not a value: strings are quoted"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_queries_read() {
        let q = parse(r#"userName eq "Julie.Tremblay@cegep.ca""#).expect("reads");
        assert_eq!(q.user_name.as_deref(), Some("Julie.Tremblay@cegep.ca"));
        let q = parse(r#"externalId eq "a1" and userName eq "x@y""#).expect("reads");
        assert_eq!(q.external_id.as_deref(), Some("a1"));
        assert_eq!(q.user_name.as_deref(), Some("x@y"));
        let q = parse(r#"USERNAME EQ "a\"b" AND active eq false"#).expect("reads");
        assert_eq!(q.user_name.as_deref(), Some("a\"b"));
        assert_eq!(q.enabled, Some(false));
        let q = parse(r#"emails[type eq "work"].value eq "j@c.ca""#).expect("reads");
        assert_eq!(q.email.as_deref(), Some("j@c.ca"));
        let q =
            parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#).expect("reads");
        assert_eq!(q.user_name.as_deref(), Some("x"));
    }

    #[test]
    fn an_id_that_is_no_uuid_matches_nothing() {
        assert!(
            parse(r#"id eq "5171a35d82074e068ce2""#)
                .expect("reads")
                .impossible
        );
        assert!(
            !parse(r#"id eq "9b2f1d62-3c0a-4c8e-9d4e-6f1a2b3c4d5e""#)
                .expect("reads")
                .impossible
        );
    }

    #[test]
    fn what_entra_never_sends_is_refused_by_name() {
        for bad in [
            "",
            r#"userName co "x""#,
            r#"userName eq "x" or userName eq "y""#,
            r#"(userName eq "x")"#,
            r#"title eq "x""#,
            r#"userName eq x"#,
            r#"userName eq "x"#,
            "userName eq",
            r#"active eq "maybe""#,
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
