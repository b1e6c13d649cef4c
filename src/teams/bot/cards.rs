//! Adaptive Cards: the templates in `adaptive-cards/` filled with data and the locale's `cards`
//! strings. The expander implements the subset of the templating language the templates use:
//! `${path}` (whole value or inside a string) and `"$when": "${flag}"` / `"${!flag}"`. It is
//! single-pass: an inserted value (a typed username, say) is never expanded again.

use std::{collections::HashMap, str::FromStr};

use serde_json::{Map, Value, json};

use crate::{
    i18n::{Locale, Strings},
    model::UnknownName,
};

/// The bot's cards, one template each in `adaptive-cards/` (compiled in: a missing file does not
/// build).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Card {
    Welcome,
    Invite,
    Request,
    Status,
    Error,
    Helpdesk,
    Account,
    CallerCode,
    DeskRequest,
    DeskAlert,
}

impl Card {
    pub const ALL: [Card; 10] = [
        Card::Welcome,
        Card::Invite,
        Card::Request,
        Card::Status,
        Card::Error,
        Card::Helpdesk,
        Card::Account,
        Card::CallerCode,
        Card::DeskRequest,
        Card::DeskAlert,
    ];

    /// Its template's file name in `adaptive-cards/`, without `.json`.
    pub fn name(self) -> &'static str {
        match self {
            Card::Welcome => "welcome",
            Card::Invite => "invite",
            Card::Request => "request",
            Card::Status => "status",
            Card::Error => "error",
            Card::Helpdesk => "helpdesk",
            Card::Account => "account",
            Card::CallerCode => "caller-code",
            Card::DeskRequest => "desk-request",
            Card::DeskAlert => "desk-alert",
        }
    }

    fn template(self) -> &'static str {
        match self {
            Card::Welcome => include_str!("../../../adaptive-cards/welcome.json"),
            Card::Invite => include_str!("../../../adaptive-cards/invite.json"),
            Card::Request => include_str!("../../../adaptive-cards/request.json"),
            Card::Status => include_str!("../../../adaptive-cards/status.json"),
            Card::Error => include_str!("../../../adaptive-cards/error.json"),
            Card::Helpdesk => include_str!("../../../adaptive-cards/helpdesk.json"),
            Card::Account => include_str!("../../../adaptive-cards/account.json"),
            Card::CallerCode => include_str!("../../../adaptive-cards/caller-code.json"),
            Card::DeskRequest => include_str!("../../../adaptive-cards/desk-request.json"),
            Card::DeskAlert => include_str!("../../../adaptive-cards/desk-alert.json"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Cards {
    templates: std::sync::Arc<HashMap<Card, Value>>,
    /// Each language's `cards` strings, read once: a card binds them as `${t.…}`.
    strings: std::sync::Arc<HashMap<Locale, Value>>,
}

impl Cards {
    pub fn load(strings: Strings) -> anyhow::Result<Self> {
        let mut templates = HashMap::new();
        for card in Card::ALL {
            let v: Value = serde_json::from_str(card.template())
                .map_err(|e| anyhow::anyhow!("adaptive-cards/{}.json: {e}", card.name()))?;
            templates.insert(card, v);
        }
        let tables = Locale::ALL
            .iter()
            .map(|l| (*l, strings.section(*l, "cards")))
            .collect();
        Ok(Self {
            templates: std::sync::Arc::new(templates),
            strings: std::sync::Arc::new(tables),
        })
    }

    /// The card for `data`, with the locale's strings under `t`.
    pub fn render(&self, card: Card, locale: Locale, data: Value) -> Value {
        let (Some(template), Some(t)) = (self.templates.get(&card), self.strings.get(&locale))
        else {
            return Value::Null;
        };
        expand_in(
            template,
            &Scope {
                data: &data,
                t: Some(t),
            },
        )
        .unwrap_or(Value::Null)
    }
}

/// Where bindings are looked up: the card's data, and the string table for `t.…` paths.
struct Scope<'a> {
    data: &'a Value,
    t: Option<&'a Value>,
}

impl Scope<'_> {
    fn lookup(&self, path: &str) -> Option<&Value> {
        match (self.t, path.strip_prefix("t.")) {
            (Some(t), Some(key)) => lookup(t, key),
            _ => lookup(self.data, path),
        }
    }
}

/// Expands a template against `data` (which carries its strings under `t`); `None` when the
/// node is dropped by `$when`.
pub fn expand(node: &Value, data: &Value) -> Option<Value> {
    expand_in(node, &Scope { data, t: None })
}

fn expand_in(node: &Value, scope: &Scope<'_>) -> Option<Value> {
    match node {
        Value::String(s) => Some(expand_string(s, scope)),
        Value::Array(items) => Some(Value::Array(
            items.iter().filter_map(|i| expand_in(i, scope)).collect(),
        )),
        Value::Object(map) => {
            if let Some(Value::String(cond)) = map.get("$when")
                && !truthy(cond, scope)
            {
                return None;
            }
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                if k == "$when" {
                    continue;
                }
                if let Some(v) = expand_in(v, scope) {
                    out.insert(k.clone(), v);
                }
            }
            Some(Value::Object(out))
        }
        other => Some(other.clone()),
    }
}

fn lookup<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    let mut v = data;
    for part in path.split('.') {
        v = v.get(part)?;
    }
    Some(v)
}

fn is_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

fn truthy(cond: &str, scope: &Scope<'_>) -> bool {
    let Some(inner) = cond.strip_prefix("${").and_then(|c| c.strip_suffix('}')) else {
        return true;
    };
    let (negate, path) = match inner.strip_prefix('!') {
        Some(p) => (true, p),
        None => (false, inner),
    };
    let value = scope.lookup(path.trim()).is_some_and(|v| match v {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        _ => true,
    });
    value != negate
}

fn expand_string(s: &str, scope: &Scope<'_>) -> Value {
    // A whole-string binding keeps the value's type (booleans stay booleans).
    if let Some(path) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}'))
        && is_path(path)
        && let Some(v) = scope.lookup(path)
    {
        return v.clone();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if is_path(&after[..end]) && scope.lookup(&after[..end]).is_some() => {
                match scope.lookup(&after[..end]) {
                    Some(Value::String(v)) => out.push_str(v),
                    Some(Value::Null) | None => {}
                    Some(v) => out.push_str(&v.to_string()),
                }
                rest = &after[end + 1..];
            }
            // Unknown names stay literal, as the official expander leaves them.
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Value::String(out)
}

/// The verbs the cards' buttons carry (adaptive-cards/*.json), as written there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardVerb {
    Forgot,
    Enroll,
    Submit,
    Cancel,
    Unlock,
    NotMe,
    Refresh,
    HelpdeskStatus,
    HelpdeskResend,
    HelpdeskUnlock,
    HelpdeskVerify,
    HelpdeskConfirm,
    CallerDenied,
    DeskRequest,
    DeskResend,
}

impl CardVerb {
    const ALL: [CardVerb; 15] = [
        Self::Forgot,
        Self::Enroll,
        Self::Submit,
        Self::Cancel,
        Self::Unlock,
        Self::NotMe,
        Self::Refresh,
        Self::HelpdeskStatus,
        Self::HelpdeskResend,
        Self::HelpdeskUnlock,
        Self::HelpdeskVerify,
        Self::HelpdeskConfirm,
        Self::CallerDenied,
        Self::DeskRequest,
        Self::DeskResend,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forgot => "forgot",
            Self::Enroll => "enroll",
            Self::Submit => "submit",
            Self::Cancel => "cancel",
            Self::Unlock => "unlock",
            Self::NotMe => "notme",
            Self::Refresh => "refresh",
            Self::HelpdeskStatus => "helpdesk.status",
            Self::HelpdeskResend => "helpdesk.resend",
            Self::HelpdeskUnlock => "helpdesk.unlock",
            Self::HelpdeskVerify => "helpdesk.verify",
            Self::HelpdeskConfirm => "helpdesk.confirm",
            Self::CallerDenied => "caller.denied",
            Self::DeskRequest => "desk.request",
            Self::DeskResend => "desk.resend",
        }
    }
}

impl FromStr for CardVerb {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(UnknownName)
    }
}

/// Adds a refresh block so the card refreshes for `user_id` when shown (Universal Actions).
pub fn with_refresh(mut card: Value, verb: &str, data: Value, user_id: &str) -> Value {
    if let Value::Object(m) = &mut card {
        m.insert(
            "refresh".into(),
            json!({
                "action": {"type": "Action.Execute", "verb": verb, "data": data},
                "userIds": [user_id]
            }),
        );
    }
    card
}

/// Every button of `card` carries the card's language (`"lang"` in its data), so that what a
/// click brings back is in the language of the card clicked, whatever the client's locale.
pub fn with_language(mut card: Value, locale: Locale) -> Value {
    fn walk(v: &mut Value, lang: &str) {
        match v {
            Value::Object(m) => {
                let is_action = matches!(
                    m.get("type").and_then(Value::as_str),
                    Some("Action.Execute" | "Action.Submit")
                );
                if is_action {
                    let data = m.entry("data").or_insert_with(|| json!({}));
                    if let Value::Object(d) = data {
                        d.insert("lang".into(), Value::String(lang.into()));
                    }
                }
                m.values_mut().for_each(|x| walk(x, lang));
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, lang)),
            _ => {}
        }
    }
    walk(&mut card, locale.tag());
    card
}

/// The language a card's button brought back (see [`with_language`]).
pub fn language_of(data: &Value) -> Option<Locale> {
    data.get("lang")
        .and_then(Value::as_str)
        .and_then(Locale::from_tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_verbs_are_read_as_the_cards_write_them() {
        for v in CardVerb::ALL {
            assert_eq!(v.as_str().parse(), Ok(v));
        }
        assert_eq!("helpdesk.delete".parse::<CardVerb>(), Err(UnknownName));
        assert_eq!("".parse::<CardVerb>(), Err(UnknownName));
    }

    #[test]
    fn every_button_carries_the_card_s_language() {
        let card = json!({
            "body": [{"type": "ActionSet", "actions": [
                {"type": "Action.Execute", "verb": "forgot", "data": {"purpose": "reset"}},
                {"type": "Action.OpenUrl", "url": "https://example.org"}
            ]}],
            "actions": [{"type": "Action.Submit", "title": "x"}],
            "refresh": {"action": {"type": "Action.Execute", "verb": "refresh"}}
        });
        let out = with_language(card, Locale::Pt);
        let exec = &out["body"][0]["actions"][0]["data"];
        assert_eq!(exec["lang"], "pt");
        assert_eq!(exec["purpose"], "reset");
        assert!(out["body"][0]["actions"][1].get("data").is_none());
        assert_eq!(out["actions"][0]["data"]["lang"], "pt");
        assert_eq!(
            language_of(&out["refresh"]["action"]["data"]),
            Some(Locale::Pt)
        );
    }

    #[test]
    fn bindings_when_and_single_pass() {
        let template = json!({
            "body": [
                {"type": "TextBlock", "text": "${t.hello}, ${name}!"},
                {"type": "TextBlock", "text": "only enrol", "$when": "${isEnroll}"},
                {"type": "TextBlock", "text": "only reset", "$when": "${!isEnroll}"},
                {"type": "Input.Toggle", "value": "${flag}"},
                {"type": "TextBlock", "text": "${unknown} stays"}
            ]
        });
        let data = json!({"t": {"hello": "Bonjour"}, "name": "${t.hello}", "isEnroll": false, "flag": true});
        let out = expand(&template, &data).expect("kept");
        assert_eq!(out["body"][0]["text"], "Bonjour, ${t.hello}!");
        assert_eq!(out["body"][1]["text"], "only reset");
        assert_eq!(out["body"][2]["value"], true);
        assert_eq!(out["body"][3]["text"], "${unknown} stays");
        assert_eq!(out["body"].as_array().map(Vec::len), Some(4));
    }
}
