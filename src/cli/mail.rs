//! `mail list|retry`.

use super::{args::*, out::*};
use crate::model::UnixTime;

use anyhow::Context;

use crate::{
    config::Config,
    reset::service::Retry,
    store::{Store, outbox},
};

pub(super) async fn retry(cfg: Config, store: Store, id: &str) -> anyhow::Result<()> {
    let reset = crate::app::reset_service_for_cli(&cfg, store)?;
    match reset.retry_dead_letter(id, None).await? {
        Retry::Reissued(d) => {
            say(format!(
                "{id}: a fresh link for {} (valid until {}) is queued; older links no longer work",
                d.email.full(),
                d.expires_at
                    .to_utc()
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default()
            ));
            Ok(())
        }
        Retry::NotDead => {
            anyhow::bail!("{id}: no dead letter has this id (see `octopus-teams mail list --dead`)")
        }
        Retry::NothingToResend(template) => anyhow::bail!(
            "{id}: a \"{template}\" mail carries no link and its content is erased: nothing is \
             re-sent (tell the person directly if needed)"
        ),
        Retry::NoAccount => anyhow::bail!(
            "{id}: its address matches no single account of its organisation any more: nothing \
             is re-sent"
        ),
    }
}

pub(super) async fn mail(cfg: Config, cmd: MailCommand) -> anyhow::Result<()> {
    let store = Store::connect(&cfg.database.url)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    let (dead, limit) = match cmd {
        MailCommand::List { dead, limit } => (dead, limit),
        MailCommand::Retry { id } => return retry(cfg, store, &id).await,
    };
    let mut conn = store.conn().await?;
    let list = outbox::list(&mut conn, dead, limit.max(1)).await?;
    // In the organisation's own time, its zone shown (people at the desk work in it).
    let when = |t: UnixTime, tenant: &str| {
        let Some(utc) = t.to_utc() else {
            return String::new();
        };
        match cfg.organisations.by_exact_tenant(tenant) {
            Some(org) => utc
                .with_timezone(&org.time_zone)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string(),
            None => utc.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    };
    let mut table = table([
        "id",
        "template",
        "recipient",
        "queued",
        "state",
        "attempts",
        "last error",
    ]);
    for m in &list {
        let state = match (m.sent_at, m.dead_at, m.expired_at) {
            (Some(_), _, _) => "sent",
            (None, Some(_), Some(_)) => "expired",
            (None, Some(_), None) => "dead",
            (None, None, _) => "pending",
        };
        let error: String = m
            .last_error
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(80)
            .collect();
        table.add_row([
            m.outbox_id.clone(),
            m.template.clone(),
            m.recipient.clone(),
            when(m.created_at, &m.tenant_id),
            state.to_string(),
            m.attempts.to_string(),
            error,
        ]);
    }
    say_table(&table);
    say(format!(
        "{} mail(s){}",
        list.len(),
        if dead { " dead-lettered" } else { "" }
    ));
    Ok(())
}
