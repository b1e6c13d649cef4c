//! `scim token`.

use super::out::*;

use anyhow::Context;

use crate::{
    clock::{Clock, SystemClock},
    config::Config,
    store::Store,
};

pub(super) async fn scim_token(
    cfg: Config,
    hint: &str,
    rotate: Option<std::time::Duration>,
    revoke: bool,
) -> anyhow::Result<()> {
    let org = cfg
        .organisations
        .by_slug(hint)
        .or_else(|| cfg.organisations.by_tenant(hint))
        .cloned()
        .with_context(|| format!("no organisation {hint:?} in the configuration"))?;
    let store = Store::connect(&cfg.database.url)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    let now = SystemClock.unix();
    if revoke {
        crate::scim::token::revoke(&store, &org, now).await?;
        say(format!(
            "{}: every provisioning token ended; provisioning stops",
            org.slug
        ));
        return Ok(());
    }
    let token = crate::scim::token::issue(&store, &org, rotate, now).await?;
    let base = cfg.http.public_base_url.as_str().trim_end_matches('/');
    say(format!("Tenant URL:   {base}/scim/v2"));
    say(format!("Secret Token: {}", token.expose()));
    say(match rotate {
        Some(grace) => format!(
            "{}: the previous token keeps working for {} h; paste this one into Entra ID now. \
             It is shown only once.",
            org.slug,
            grace.as_secs() / 3600
        ),
        None => format!("{}: shown only once; only its hash is kept.", org.slug),
    });
    Ok(())
}
