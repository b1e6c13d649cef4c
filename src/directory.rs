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

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
}

const REQUIRED: [&str; 3] = ["username", "email", "display_name"];

/// Reads every row first; imports only when all are good, in one transaction.
pub async fn import_csv(
    store: &Store,
    org: &Organisation,
    input: impl Read,
    now: i64,
) -> Result<ImportReport, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| ImportError::Csv(e.to_string()))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let missing: Vec<_> = REQUIRED.iter().filter(|c| col(c).is_none()).collect();
    if !missing.is_empty() {
        return Err(ImportError::Csv(format!(
            "line 1: missing column(s) {missing:?}; expected username,email,display_name[,entra_object_id,upn,locale]"
        )));
    }
    let (c_user, c_mail, c_name) = (col("username"), col("email"), col("display_name"));
    let (c_oid, c_upn, c_locale) = (col("entra_object_id"), col("upn"), col("locale"));

    let mut rows = Vec::new();
    let mut bad = Vec::new();
    let mut seen = std::collections::HashMap::new();
    let mut seen_oids = std::collections::HashMap::new();
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                bad.push(BadRow {
                    line,
                    reason: format!("unreadable row ({e})"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let get = |c: Option<usize>| {
            c.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let mut reasons = Vec::new();
        let username = Username::parse(get(c_user).unwrap_or_default())
            .map_err(|e| reasons.push(format!("username {e}")))
            .ok();
        let email = EmailAddress::parse(get(c_mail).unwrap_or_default())
            .map_err(|_| reasons.push("email is not a valid address".to_string()))
            .ok();
        let display_name = get(c_name).map(str::to_string);
        if display_name.is_none() {
            reasons.push("display_name is empty".into());
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
    let mut report = ImportReport::default();
    let mut email_changed = Vec::new();
    {
        let mut conn = store.conn().await?;
        for (row, line) in rows.iter().zip(&lines) {
            match accounts::by_username(&mut conn, &row.tenant_id, &row.username).await? {
                Some(existing) => {
                    report.updated += 1;
                    if !existing.email.full().eq_ignore_ascii_case(row.email.full()) {
                        email_changed.push(existing.id);
                    }
                }
                None => report.created += 1,
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
    let mut tx = store.begin().await?;
    for row in &rows {
        accounts::upsert(&mut tx, row, now).await?;
    }
    // A new address: links mailed to the old one and sessions opened before stop working.
    for id in &email_changed {
        let links = tokens::revoke_active(&mut tx, id, now, "email_changed").await?;
        let ended = sessions::delete_for_account(&mut tx, id).await?;
        Audit::event(AuditEvent::EmailChanged, now)
            .tenant(&org.tenant_id)
            .account(id)
            .detail(format!(
                "links_revoked={} sessions_ended={ended}",
                links.len()
            ))
            .record(&mut tx)
            .await?;
    }
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(report)
}
