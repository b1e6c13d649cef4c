//! `users import|list`.

use super::{args::*, out::*};

use anyhow::Context;

use crate::{
    clock::{Clock, SystemClock},
    config::Config,
    directory::{self, ImportError, ImportReport},
    org::Organisation,
    store::{self, Store, lockout},
};

pub(super) async fn users(cfg: Config, cmd: UsersCommand) -> anyhow::Result<()> {
    let store = Store::connect(&cfg.database.url)
        .await
        .context("cannot open the database")?;
    store.migrate().await?;
    match cmd {
        UsersCommand::Import {
            file,
            org,
            dry_run,
            disable_missing,
            force,
        } => {
            let org = pick(&cfg, org.as_deref())?;
            let f = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let options = directory::ImportOptions {
                dry_run,
                disable_missing,
                force,
            };
            match directory::import_csv_with(&store, &org, f, SystemClock.unix(), options).await {
                Ok(r) => {
                    let db =
                        database_label(secrecy::ExposeSecret::expose_secret(&cfg.database.url));
                    say(imported(&org, &file, &db, &r));
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
            let orgs: Vec<_> = match org.as_deref() {
                Some(hint) => vec![pick(&cfg, Some(hint))?],
                None => cfg.organisations.iter().cloned().collect(),
            };
            list(&store, &orgs).await
        }
    }
}

/// The organisation a `--org` names, by slug or tenant id; the default one without it.
fn pick(cfg: &Config, hint: Option<&str>) -> anyhow::Result<Organisation> {
    match hint {
        None => Ok(cfg.organisations.default_org().clone()),
        Some(h) => cfg
            .organisations
            .by_slug(h)
            .or_else(|| cfg.organisations.by_tenant(h))
            .cloned()
            .with_context(|| format!("no organisation {h:?} in the configuration")),
    }
}

/// What an import did (or would do, on a dry run), in one line.
fn imported(org: &Organisation, file: &std::path::Path, db: &str, r: &ImportReport) -> String {
    let verb = if r.dry_run { "would be" } else { "" };
    format!(
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
    .replace("  ", " ")
}

/// `users list`: every account of `orgs` with whether it is enrolled, locked or disabled.
async fn list(store: &Store, orgs: &[Organisation]) -> anyhow::Result<()> {
    let mut conn = store.conn().await?;
    let now = SystemClock.unix();
    let mut table = table(["username", "email", "display name", "enrolled", "state"]);
    let mut count = 0;
    for org in orgs {
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
