//! `report`.

use super::{args::*, out::*};

use anyhow::Context;

use crate::{
    clock::{Clock, SystemClock},
    config::Config,
    store::Store,
};

pub(super) async fn report(
    cfg: Config,
    org: &str,
    since: &str,
    format: ReportFormat,
    detail: bool,
) -> anyhow::Result<()> {
    let org = cfg
        .organisations
        .by_slug(org)
        .or_else(|| cfg.organisations.by_tenant(org))
        .cloned()
        .with_context(|| format!("no organisation {org:?} in the configuration"))?;
    let window = crate::reset::report::parse_window(since).with_context(|| {
        format!("--since {since:?}: expected a number and a unit, e.g. 30d, 12h, 2w or 90m")
    })?;
    let store = Store::connect(&cfg.database.url)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    let now = SystemClock.unix();
    let report = crate::reset::report::build(&store, &org, now.minus(window), now, detail).await?;
    say(match format {
        ReportFormat::Csv => report.to_csv(),
        ReportFormat::Md => report.to_markdown(),
    }
    .trim_end());
    Ok(())
}
