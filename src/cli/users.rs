//! `users import|list`.

use super::{args::*, out::*};

use anyhow::Context;

use crate::{
    clock::{Clock, SystemClock},
    config::Config,
    directory::{self, ImportError},
    store::{self, Store, lockout},
};

pub(super) async fn users(cfg: Config, cmd: UsersCommand) -> anyhow::Result<()> {
    let store = Store::connect(&cfg.database.url)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    let pick = |hint: &Option<String>| -> anyhow::Result<_> {
        match hint {
            None => Ok(cfg.organisations.default_org().clone()),
            Some(h) => cfg
                .organisations
                .by_slug(h)
                .or_else(|| cfg.organisations.by_tenant(h))
                .cloned()
                .with_context(|| format!("no organisation {h:?} in the configuration")),
        }
    };
    match cmd {
        UsersCommand::Import {
            file,
            org,
            dry_run,
            disable_missing,
            force,
        } => {
            let org = pick(&org)?;
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let db = database_label(secrecy::ExposeSecret::expose_secret(&cfg.database.url));
            let options = directory::ImportOptions {
                dry_run,
                disable_missing,
                force,
            };
            match directory::import_csv_with(&store, &org, f, SystemClock.unix(), options).await {
                Ok(r) => {
                    let verb = if r.dry_run { "would be" } else { "" };
                    say(format!(
                        "{} ({}) in {db}, from {} ({}): {} {verb} created, {} {verb} updated, \
                         {} unchanged, {} {verb} enabled again, {} {verb} disabled{}",
                        org.slug,
                        org.name,
                        file.display(),
                        r.read_as,
                        r.created,
                        r.updated,
                        r.unchanged,
                        r.enabled,
                        r.disabled,
                        if r.dry_run {
                            " (dry run: nothing written)"
                        } else {
                            ""
                        }
                    )
                    .replace("  ", " "));
                    Ok(())
                }
                Err(ImportError::BadRows(rows)) => {
                    const SHOWN: usize = 20;
                    for r in rows.iter().take(SHOWN) {
                        say(format!("{}:{}: {}", file.display(), r.line, r.reason));
                    }
                    if rows.len() > SHOWN {
                        say(format!("… and {} more bad row(s)", rows.len() - SHOWN));
                    }
                    anyhow::bail!("nothing imported: {} bad row(s)", rows.len())
                }
                Err(e) => Err(e.into()),
            }
        }
        UsersCommand::List { org } => {
            let orgs: Vec<_> = match &org {
                Some(_) => vec![pick(&org)?],
                None => cfg.organisations.iter().cloned().collect(),
            };
            let mut conn = store.conn().await?;
            let now = SystemClock.unix();
            let mut table = table(["username", "email", "display name", "enrolled", "state"]);
            let mut count = 0;
            for org in &orgs {
                for e in store::directory::all(&mut conn, &org.tenant_id).await? {
                    let a = &e.account;
                    let subject = crate::reset::signin::lock_subject(a.username.as_str());
                    let locked = lockout::locked_until(&mut conn, &a.tenant_id, &subject).await?;
                    let state = match (&e.disabled_by, e.disabled_at) {
                        (by, Some(_)) => format!("disabled ({})", by.as_deref().unwrap_or("?")),
                        _ if locked.is_some_and(|t| t > now) => "locked".into(),
                        _ => "ok".into(),
                    };
                    let enrolled = if a.password_hash.is_some() {
                        "yes"
                    } else {
                        "no"
                    };
                    table.add_row([
                        a.username.to_string(),
                        a.email.full().to_string(),
                        a.display_name.clone(),
                        enrolled.to_string(),
                        state,
                    ]);
                    count += 1;
                }
            }
            say_table(&table);
            say(format!("{count} account(s)"));
            Ok(())
        }
    }
}
