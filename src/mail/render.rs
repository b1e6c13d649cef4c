//! Template + locale + organisation → subject, plain text and HTML.

use chrono::{DateTime, Utc};
use minijinja::context;

use super::{MailParams, MailTemplate};
use crate::{
    i18n::{Locale, Strings},
    org::Organisation,
    templates::{Templates, local_time},
};

#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
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
    let at = |ts: Option<i64>| {
        ts.and_then(|t| DateTime::from_timestamp(t, 0))
            .map(|t| local_time(t, now, org.time_zone, locale))
            .unwrap_or_default()
    };
    let url = |s: Option<&str>| s.unwrap_or_default().to_string();
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
    };
    let name = template.name();
    let subject = templates.render(&format!("mail/{name}/subject.txt"), ctx.clone())?;
    Ok(Rendered {
        subject: subject.trim().to_string(),
        text: templates.render(&format!("mail/{name}/body.txt"), ctx.clone())?,
        html: templates.render(&format!("mail/{name}/body.html"), ctx)?,
    })
}
