//! Template + locale + organisation → subject, plain text and HTML.

use crate::model::UnixTime;
use chrono::{DateTime, Utc};
use minijinja::context;

use super::{MailParams, MailTemplate};
use crate::{
    i18n::{Locale, Strings},
    org::Organisation,
    templates::{Templates, local_date_time, local_time},
};

#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    /// `None` for a mail that a program reads (`MailTemplate::is_plain`).
    pub html: Option<String>,
}

pub fn render(
    templates: &Templates,
    strings: &Strings,
    template: MailTemplate,
    locale: Locale,
    org: &Organisation,
    params: &MailParams,
    now: DateTime<Utc>,
) -> Result<Rendered, minijinja::Error> {
    let at = |ts: Option<UnixTime>| {
        ts.and_then(UnixTime::to_utc)
            .map(|t| local_time(t, now, org.time_zone, locale))
            .unwrap_or_default()
    };
    let url = |s: Option<&str>| s.unwrap_or_default().to_string();
    let dated = |t: UnixTime| {
        t.to_utc()
            .map(|t| local_date_time(t, org.time_zone, locale))
            .unwrap_or_default()
    };
    let desk = params.desk.as_ref().map(|d| {
        context! {
            reason => &d.reason,
            upn => d.upn.as_deref().unwrap_or_default(),
            username => d.username.as_deref().unwrap_or_default(),
            object_id => d.object_id.as_deref().unwrap_or_default(),
            references => d.references.iter()
                .map(|(t, event)| context! { at => dated(*t), event => event })
                .collect::<Vec<_>>(),
            field_lines => &d.field_lines,
            token => d.enclosing_token.as_deref().unwrap_or_default(),
            occurred => params.occurred_at.map(dated).unwrap_or_default(),
        }
    });
    let ctx = context! {
        t => strings.table(locale),
        lang => locale.tag(),
        org => context! { name => &org.name, portal_url => url(Some(org.portal_url.as_str())) },
        contact => org.words_in(locale, strings).contact,
        replies_reach_a_person => org.reply_to.is_some(),
        name => &params.name,
        link => url(params.link.as_deref()),
        cancel_link => url(params.cancel_link.as_deref()),
        expires_local => at(params.expires_at),
        occurred_local => at(params.occurred_at),
        login_url => url(params.login_url.as_deref()),
        usernames => &params.usernames,
        by_agent => params.by_agent,
        code => params.code.as_deref().unwrap_or_default(),
        agent_name => params.agent_name.as_deref().unwrap_or_default(),
        desk => desk,
        time_zone => org.time_zone.name(),
    };
    let name = template.name();
    let subject = templates.render(&format!("mail/{name}/subject.txt"), ctx.clone())?;
    Ok(Rendered {
        subject: subject.trim().to_string(),
        text: templates.render(&format!("mail/{name}/body.txt"), ctx.clone())?,
        html: if template.is_plain() {
            None
        } else {
            Some(templates.render(&format!("mail/{name}/body.html"), ctx)?)
        },
    })
}
