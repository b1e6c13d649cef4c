//! What `check-config` says of each organisation.

use crate::{
    config::{Config, Description},
    org::Organisation,
};

pub(in crate::config) fn describe(cfg: &Config, out: &mut Description) {
    for org in cfg.organisations.iter() {
        let key = format!("organisation[{}]", org.slug);
        out.line(
            &format!("{key}.scim"),
            format!(
                "username from {:?} · object id from a GUID externalId: {}",
                org.provisioning.username, org.provisioning.object_id_from_external_id
            ),
        );
        out.line(
            &key,
            format!(
                "tenant {} · {} · portal {} · sender {} · tz {} · {} · link {} min · api key {}",
                org.tenant_id,
                org.name,
                org.portal_url,
                org.sender,
                org.time_zone,
                org.default_locale.tag(),
                org.token_lifetime.as_secs() / 60,
                if org.api_key.is_some() {
                    "[redacted]"
                } else {
                    "none"
                },
            ),
        );
        if !org.local_test_clients.is_empty() {
            let names: Vec<&str> = org.local_test_clients.iter().map(|c| c.name()).collect();
            out.line(
                &key,
                format!(
                    "also serves the local test clients {} (local-development mode only)",
                    names.join(", ")
                ),
            );
        }
        out.line(
            &key,
            format!(
                "helpdesk: {} agent(s) by Entra object id may ask the bot « statut <username> » \
                 and « vérifier <username> »",
                org.helpdesk.agent_object_ids.len()
            ),
        );
        describe_desk(org, &key, out);
    }
}

/// What an organisation sends its service desk: requests in Octopus, alerts in a channel.
fn describe_desk(org: &Organisation, key: &str, out: &mut Description) {
    if let Some(r) = &org.octopus_requests {
        let mode = match (r.mode, r.enclosing_token.as_deref()) {
            (crate::org::RequestMode::ServiceRequest, Some(token)) => {
                format!("service requests (body enclosed in {token})")
            }
            _ => "incidents".to_string(),
        };
        out.line(
            &format!("{key}.octopus_requests"),
            format!(
                "« Ouvrir une demande » mails {} as {mode}, {} field line(s), one per person and situation per {} h",
                r.mailbox,
                r.field_lines.len(),
                r.window_hours
            ),
        );
    }
    if let Some(d) = &org.desk_channel {
        out.line(
            &format!("{key}.desk_channel"),
            format!(
                "alerts to channel {} of team {} (served like team_ids) via {} · a card at most every {} s · refusal burst {}",
                d.channel_id,
                d.team_id,
                d.service_url
                    .as_ref()
                    .map_or("the latest activity's serviceUrl".to_string(), |u| u.to_string()),
                d.min_interval_secs,
                if d.refusal_burst == 0 {
                    "off".to_string()
                } else {
                    format!("{} per 10 min", d.refusal_burst)
                },
            ),
        );
    }
}
