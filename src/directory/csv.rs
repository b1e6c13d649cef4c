//! `users import`: a CSV file as Excel writes it, all rows or none.

use std::io::Read;

use std::collections::{HashMap, HashSet};

use super::{Leaving, Source};
use crate::{
    i18n::Locale,
    model::{AccountId, EmailAddress, Username},
    org::Organisation,
    store::{
        Store, StoreError,
        accounts::NewAccount,
        directory::{self, Entry},
    },
};

/// One refused row: its line in the file and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub reason: String,
}

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

const REQUIRED: [&str; 3] = ["username", "email", "display_name"];

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

/// The columns, by the names a spreadsheet may give them (English or French, any case, with or
/// without accents, spaces, underscores or apostrophes).
const COLUMNS: [(&str, &[&str]); 6] = [
    (
        "username",
        &[
            "username",
            "nomdutilisateur",
            "utilisateur",
            "nomutilisateur",
        ],
    ),
    (
        "email",
        &[
            "email",
            "courriel",
            "adressecourriel",
            "adressedecourriel",
            "mail",
        ],
    ),
    ("display_name", &["displayname", "nomcomplet", "nomaffiche"]),
    (
        "entra_object_id",
        &["entraobjectid", "objectid", "iddobjet", "identifiantdobjet"],
    ),
    (
        "upn",
        &["upn", "userprincipalname", "nomdutilisateurprincipal"],
    ),
    ("locale", &["locale", "langue", "language"]),
];

/// A header as compared: lower case, accents and everything but letters and digits dropped.
fn header_key(h: &str) -> String {
    h.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            other => other,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The file as text: UTF-8 (a byte-order mark dropped), else Windows-1252 (what Excel's plain
/// "CSV" writes in a French locale), and which it was.
fn decode(bytes: &[u8]) -> Result<(String, &'static str), ImportError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((text.to_string(), "UTF-8")),
        // UTF-8 up to a bad byte (non-ASCII text before it): a damaged UTF-8 file, not
        // Windows-1252, whose reading would turn every accent into two wrong characters.
        Err(e) if !bytes[..e.valid_up_to()].is_ascii() => Err(ImportError::Csv(format!(
            "byte {}: not UTF-8, although the text before it is; save the file again as \
             « CSV UTF-8 »",
            e.valid_up_to()
        ))),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            Ok((text.into_owned(), "Windows-1252"))
        }
    }
}

/// The separator of the header line: the most frequent of `,` `;` and tab outside quotes.
fn separator(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    let mut quoted = false;
    let mut counts = [(b',', 0), (b';', 0), (b'\t', 0)];
    for c in header.bytes() {
        if c == b'"' {
            quoted = !quoted;
        }
        if !quoted && let Some(n) = counts.iter_mut().find(|(s, _)| *s == c) {
            n.1 += 1;
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .map_or(b',', |(s, _)| *s)
}

fn separator_name(sep: u8) -> &'static str {
    match sep {
        b';' => "semicolons",
        b'\t' => "tabs",
        _ => "commas",
    }
}

/// Reads every row first; imports only when all are good, in one transaction.
pub async fn import_csv(
    store: &Store,
    org: &Organisation,
    input: impl Read,
    now: i64,
) -> Result<ImportReport, ImportError> {
    import_csv_with(store, org, input, now, ImportOptions::default()).await
}

/// [`import_csv`], with its options.
pub async fn import_csv_with(
    store: &Store,
    org: &Organisation,
    mut input: impl Read,
    now: i64,
    options: ImportOptions,
) -> Result<ImportReport, ImportError> {
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| ImportError::Csv(e.to_string()))?;
    let (text, encoding) = decode(&bytes)?;
    let sep = separator(&text);
    // The line a record starting at this byte offset is on, CRLF or LF alike (the reader may
    // place a record's start on the end of the previous line).
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let line_at = |byte: u64| {
        let bytes = text.as_bytes();
        let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        1 + newlines.partition_point(|n| *n < start) as u64
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ImportError::Csv(e.to_string()))?
        .clone();
    let matching = |name: &str| -> Vec<usize> {
        let aliases = COLUMNS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&[][..], |(_, a)| *a);
        headers
            .iter()
            .enumerate()
            .filter(|(_, h)| aliases.contains(&header_key(h).as_str()))
            .map(|(i, _)| i)
            .collect()
    };
    let twice: Vec<String> = COLUMNS
        .iter()
        .filter(|(name, _)| matching(name).len() > 1)
        .map(|(name, _)| {
            let found: Vec<&str> = matching(name)
                .iter()
                .filter_map(|i| headers.get(*i))
                .collect();
            format!("{name} ({})", found.join(", "))
        })
        .collect();
    if !twice.is_empty() {
        return Err(ImportError::Csv(format!(
            "line 1: more than one column for {}; keep one",
            twice.join(", ")
        )));
    }
    let col = |name: &str| matching(name).first().copied();
    let missing: Vec<_> = REQUIRED.iter().filter(|c| col(c).is_none()).collect();
    if !missing.is_empty() {
        return Err(ImportError::Csv(format!(
            "line 1: missing column(s) {missing:?} (read as {encoding} with {}; found {:?}); \
             expected username,email,display_name[,entra_object_id,upn,locale] or in French \
             « Nom d'utilisateur;Courriel;Nom complet »",
            separator_name(sep),
            headers.iter().collect::<Vec<_>>()
        )));
    }
    let (c_user, c_mail, c_name) = (col("username"), col("email"), col("display_name"));
    let (c_oid, c_upn, c_locale) = (col("entra_object_id"), col("upn"), col("locale"));
    let read_as = format!("{encoding}, {}", separator_name(sep));

    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut seen = std::collections::HashMap::new();
    let mut seen_oids = std::collections::HashMap::new();
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(p.byte()));
                bad.push(BadRow {
                    line,
                    reason: format!("unreadable row ({e})"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| line_at(p.byte()));
        let get = |c: Option<usize>| {
            c.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let mut reasons = Vec::new();
        let username = Username::parse(get(c_user).unwrap_or_default())
            .map_err(|e| reasons.push(format!("username {e}")))
            .ok();
        let email = match get(c_mail) {
            None => {
                reasons.push("courriel manquant / email missing".to_string());
                None
            }
            Some(raw) => EmailAddress::parse(&raw.to_lowercase())
                .map_err(|_| reasons.push("email is not a valid address".to_string()))
                .ok(),
        };
        let display_name = get(c_name).map(str::to_string);
        if display_name.is_none() {
            reasons.push("display_name is empty".into());
        }
        if display_name
            .as_deref()
            .is_some_and(|n| n.chars().any(char::is_control))
        {
            reasons.push("display_name has control characters".into());
        }
        let oid = get(c_oid).map(str::to_string);
        if let Some(o) = &oid
            && uuid::Uuid::parse_str(o).is_err()
        {
            reasons.push("entra_object_id is not a GUID".into());
        }
        let upn = get(c_upn).map(str::to_string);
        if let Some(u) = &upn
            && !u.contains('@')
        {
            reasons.push("upn must look like name@domain".into());
        }
        let locale = match get(c_locale) {
            None => None,
            Some(l) => match Locale::from_tag(l) {
                Some(l) => Some(l),
                None => {
                    reasons.push("locale must be fr-CA, en or pt".into());
                    None
                }
            },
        };
        if let Some(u) = &username
            && let Some(first) = seen.insert(u.as_str().to_string(), line)
        {
            reasons.push(format!("username repeats line {first}"));
        }
        let oid = oid.map(|o| o.to_ascii_lowercase());
        if let Some(o) = &oid
            && let Some(first) = seen_oids.insert(o.clone(), line)
        {
            reasons.push(format!("entra_object_id repeats line {first}"));
        }
        match (username, email, display_name) {
            (Some(username), Some(email), Some(display_name)) if reasons.is_empty() => {
                lines.push(line);
                rows.push(NewAccount {
                    tenant_id: org.tenant_id.clone(),
                    username,
                    email,
                    display_name,
                    entra_object_id: oid,
                    upn,
                    locale,
                })
            }
            _ => bad.push(BadRow {
                line,
                reason: reasons.join("; "),
            }),
        }
    }
    if !bad.is_empty() {
        return Err(ImportError::BadRows(bad));
    }
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
