//! The account directory as the admin handles it: CSV import (all rows or none) and listing.

use std::io::Read;

use crate::{
    i18n::Locale,
    org::Organisation,
    reset::{
        audit::{Audit, AuditEvent},
        model::{EmailAddress, Username},
    },
    store::{Store, accounts, sessions, tokens},
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
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    /// Rows identical to the account they name: nothing written.
    pub unchanged: usize,
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

/// How an import row changes whom the account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnerChange {
    /// A new address; the Teams identity stays (the row names the same one, or none while the
    /// UPN stays).
    Email,
    /// Another Teams identity (a different object id) for the account.
    Identity,
    /// A new address or UPN and no object id in the row: the bound identity was the former
    /// owner's and is dropped.
    Reassigned,
}

/// Whom the account belongs to after the row, if that changes.
fn owner_change(
    existing: &crate::reset::model::Account,
    row: &accounts::NewAccount,
) -> Option<OwnerChange> {
    let email = !existing.email.full().eq_ignore_ascii_case(row.email.full());
    let upn =
        existing.upn.as_deref().map(str::to_lowercase) != row.upn.as_deref().map(str::to_lowercase);
    match (&row.entra_object_id, &existing.entra_object_id) {
        (Some(new), Some(old)) if !new.eq_ignore_ascii_case(old) => Some(OwnerChange::Identity),
        (None, Some(_)) if email || upn => Some(OwnerChange::Reassigned),
        _ if email => Some(OwnerChange::Email),
        _ => None,
    }
}

/// Whether the row says nothing new about the account (an object id the row leaves out is
/// kept, so it counts as the same).
fn same(existing: &crate::reset::model::Account, row: &accounts::NewAccount) -> bool {
    existing.email.full().eq_ignore_ascii_case(row.email.full())
        && existing.display_name == row.display_name
        && existing.upn.as_deref().map(str::to_lowercase)
            == row.upn.as_deref().map(str::to_lowercase)
        && existing.locale == row.locale
        && row
            .entra_object_id
            .as_deref()
            .is_none_or(|o| existing.entra_object_id.as_deref() == Some(o))
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
    let line_at = |byte: u64| {
        let bytes = text.as_bytes();
        let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        1 + bytes[..start].iter().filter(|b| **b == b'\n').count() as u64
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
                rows.push(accounts::NewAccount {
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
    // transaction that reads first may have to upgrade its lock and fail).
    let mut report = ImportReport {
        read_as,
        dry_run: options.dry_run,
        ..ImportReport::default()
    };
    let mut ended = Vec::new();
    let mut unbind = Vec::new();
    let mut changed = Vec::new();
    {
        let mut conn = store.conn().await?;
        for (row, line) in rows.iter().zip(&lines) {
            match accounts::by_username(&mut conn, &row.tenant_id, &row.username).await? {
                Some(existing) if same(&existing, row) => report.unchanged += 1,
                Some(existing) => {
                    report.updated += 1;
                    changed.push(row);
                    if let Some(change) = owner_change(&existing, row) {
                        if change == OwnerChange::Reassigned {
                            unbind.push(existing.id.clone());
                        }
                        ended.push((existing.id, change));
                    }
                }
                None => {
                    report.created += 1;
                    changed.push(row);
                }
            }
            if let Some(oid) = &row.entra_object_id
                && let Some(holder) =
                    accounts::holder_of_object_id(&mut conn, &row.tenant_id, oid).await?
                && holder != row.username.as_str()
            {
                bad.push(BadRow {
                    line: *line,
                    reason: "entra_object_id already belongs to another account".into(),
                });
            }
        }
    }
    if !bad.is_empty() {
        return Err(ImportError::BadRows(bad));
    }
    if options.dry_run || changed.is_empty() {
        return Ok(report);
    }
    let mut tx = store.begin().await?;
    for row in changed {
        accounts::upsert(&mut tx, row, now).await?;
    }
    // The account now belongs to someone else (a new address, another Teams identity): links
    // mailed before, sessions opened before and the former identity's binding stop working.
    for id in &unbind {
        accounts::clear_object_id(&mut tx, id).await?;
    }
    for (id, change) in &ended {
        let (event, reason) = match change {
            OwnerChange::Email | OwnerChange::Reassigned => {
                (AuditEvent::EmailChanged, "email_changed")
            }
            OwnerChange::Identity => (AuditEvent::IdentityChanged, "identity_changed"),
        };
        let links = tokens::revoke_active(&mut tx, id, now, reason).await?;
        let sessions_ended = sessions::delete_for_account(&mut tx, id).await?;
        Audit::event(event, now)
            .tenant(&org.tenant_id)
            .account(id)
            .client("import")
            .detail(format!(
                "links_revoked={} sessions_ended={sessions_ended}",
                links.len()
            ))
            .record(&mut tx)
            .await?;
    }
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(report)
}
