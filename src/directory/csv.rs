//! `users import`: a CSV file as Excel writes it, all rows or none.

use crate::model::UnixTime;
use std::io::Read;

use std::collections::{HashMap, HashSet};

use super::{
    Leaving, Source,
    sheet::{self, BadRow, Sheet, SheetError},
};
use crate::{
    model::AccountId,
    org::Organisation,
    store::{
        Store, StoreError,
        accounts::NewAccount,
        directory::{self, Entry},
    },
};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("nothing imported: {} bad row(s)", .0.len())]
    BadRows(Vec<BadRow>),
    #[error("the file is not readable CSV: {0}")]
    Csv(String),
    #[error(
        "nothing imported: {leaving} of the {enabled} enabled accounts are not in the file and \
         would be disabled; check the file is the whole directory, or add --force"
    )]
    TooManyLeaving { leaving: usize, enabled: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SheetError> for ImportError {
    fn from(e: SheetError) -> Self {
        match e {
            SheetError::Unreadable(why) => ImportError::Csv(why),
            SheetError::BadRows(rows) => ImportError::BadRows(rows),
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    /// Rows identical to the account they name: nothing written.
    pub unchanged: usize,
    /// Disabled accounts the file lists again: enabled.
    pub enabled: usize,
    /// Enabled accounts the file leaves out (`--disable-missing`): disabled.
    pub disabled: usize,
    /// How the file was read: its encoding and separator, for the summary.
    pub read_as: String,
    /// Nothing was written (`--dry-run`).
    pub dry_run: bool,
}

/// How an import runs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// Read and check everything, say what would change, write nothing.
    pub dry_run: bool,
    /// The file is the whole directory: enabled accounts it leaves out are disabled.
    pub disable_missing: bool,
    /// Disable them even when they are more than half of the enabled accounts.
    pub force: bool,
}

/// Reads every row first; imports only when all are good, in one transaction.
pub async fn import_csv(
    store: &Store,
    org: &Organisation,
    input: impl Read,
    now: UnixTime,
) -> Result<ImportReport, ImportError> {
    import_csv_with(store, org, input, now, ImportOptions::default()).await
}

/// [`import_csv`], with its options.
// Long: one transaction: the file read, the plan checked, then every write or none.
pub async fn import_csv_with(
    store: &Store,
    org: &Organisation,
    mut input: impl Read,
    now: UnixTime,
    options: ImportOptions,
) -> Result<ImportReport, ImportError> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| ImportError::Csv(e.to_string()))?;
    let Sheet {
        rows,
        lines,
        read_as,
    } = sheet::read(&org.tenant_id, &bytes)?;
    // Everything is read before the transaction, which then only writes (on SQLite a
    // transaction that reads first may have to upgrade its lock and fail, should another
    // process write meanwhile).
    let entries = directory::all(&mut *store.conn().await?, &org.tenant_id).await?;
    let plan = plan(&entries, &rows, &lines, options)?;
    let report = ImportReport {
        read_as,
        dry_run: options.dry_run,
        created: plan.created.len(),
        updated: plan.updated.len(),
        unchanged: plan.unchanged,
        enabled: plan.enabled.len(),
        disabled: plan.disabled.len(),
    };
    if options.dry_run || plan.is_empty() {
        return Ok(report);
    }
    let mut tx = store.begin().await?;
    for row in &plan.created {
        directory::insert(&mut tx, row, None, now).await?;
    }
    for (existing, row) in &plan.updated {
        let external_id = existing.external_id.as_deref();
        super::update(
            &mut tx,
            org,
            &existing.account,
            row,
            external_id,
            Source::Import,
            now,
        )
        .await?;
    }
    for id in &plan.enabled {
        super::enable(&mut tx, org, id, Source::Import, now).await?;
    }
    for id in &plan.disabled {
        super::disable(
            &mut tx,
            org,
            id,
            Source::Import,
            Leaving::MissingFromImport,
            now,
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(report)
}

/// What an import writes.
struct Plan<'a> {
    created: Vec<&'a NewAccount>,
    updated: Vec<(&'a Entry, &'a NewAccount)>,
    unchanged: usize,
    /// Listed accounts that a `disable_missing` import had disabled.
    enabled: Vec<AccountId>,
    /// Enabled accounts the file leaves out (`disable_missing`), provisioned ones aside.
    disabled: Vec<AccountId>,
}

impl Plan<'_> {
    fn is_empty(&self) -> bool {
        self.created.is_empty()
            && self.updated.is_empty()
            && self.enabled.is_empty()
            && self.disabled.is_empty()
    }
}

/// Compares the good rows with the directory: what each row creates or changes, and which
/// accounts leave. With `disable_missing` the file is the whole directory: the accounts it leaves
/// out are disabled and those it lists that an import disabled come back; accounts that SCIM
/// provisions (they have an `externalId`) or disabled are Entra's to decide. Refuses an object id
/// another account holds, and a `disable_missing` that would disable more than half of the
/// enabled accounts (an empty or truncated file) unless forced.
// Long: the directory's rules applied in one pass over the file, each commented where it stands.
fn plan<'a>(
    entries: &'a [Entry],
    rows: &'a [NewAccount],
    lines: &[u64],
    options: ImportOptions,
) -> Result<Plan<'a>, ImportError> {
    let by_username: HashMap<&str, &Entry> = entries
        .iter()
        .map(|e| (e.account.username.as_str(), e))
        .collect();
    let holder: HashMap<&str, &str> = entries
        .iter()
        .filter_map(|e| {
            let oid = e.account.entra_object_id.as_deref()?;
            Some((oid, e.account.username.as_str()))
        })
        .collect();
    let mut plan = Plan {
        created: Vec::new(),
        updated: Vec::new(),
        unchanged: 0,
        enabled: Vec::new(),
        disabled: Vec::new(),
    };
    let mut bad = Vec::new();
    for (row, line) in rows.iter().zip(lines) {
        match by_username.get(row.username.as_str()) {
            Some(entry) => {
                if super::same(&entry.account, row) {
                    plan.unchanged += 1;
                } else {
                    plan.updated.push((entry, row));
                }
                if options.disable_missing
                    && entry.disabled_by.as_deref() == Some(Source::Import.as_str())
                    && entry.deleted_at.is_none()
                {
                    plan.enabled.push(entry.account.id.clone());
                }
            }
            None => plan.created.push(row),
        }
        if let Some(oid) = &row.entra_object_id
            && holder
                .get(oid.as_str())
                .is_some_and(|h| *h != row.username.as_str())
        {
            bad.push(BadRow {
                line: *line,
                reason: "entra_object_id already belongs to another account".into(),
            });
        }
    }
    if !bad.is_empty() {
        return Err(ImportError::BadRows(bad));
    }
    if options.disable_missing {
        let listed: HashSet<&str> = rows.iter().map(|r| r.username.as_str()).collect();
        let imported = |e: &&Entry| e.enabled() && e.external_id.is_none();
        let enabled = entries.iter().filter(imported).count();
        plan.disabled = entries
            .iter()
            .filter(imported)
            .filter(|e| !listed.contains(e.account.username.as_str()))
            .map(|e| e.account.id.clone())
            .collect();
        if plan.disabled.len() * 2 > enabled && !options.force {
            return Err(ImportError::TooManyLeaving {
                leaving: plan.disabled.len(),
                enabled,
            });
        }
    }
    Ok(plan)
}
