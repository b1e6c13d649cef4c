//! The directory as its sources (CSV import, SCIM provisioning) see it: every account of an
//! organisation, enabled or not, with what the self-service lookups in `accounts` leave out.

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::{
    StoreError,
    accounts::{AccountRow, COLUMNS, NewAccount},
};
use crate::model::{Account, AccountId, Username};

/// An account as the directory holds it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub account: Account,
    /// The identity source's own id (SCIM `externalId`).
    pub external_id: Option<String>,
    pub disabled_at: Option<UnixTime>,
    pub disabled_by: Option<String>,
    /// A SCIM DELETE: disabled, and hidden from SCIM until created again.
    pub deleted_at: Option<UnixTime>,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

impl Entry {
    pub fn enabled(&self) -> bool {
        self.disabled_at.is_none()
    }
}

fn select() -> String {
    format!(
        "select {COLUMNS}, external_id, disabled_at, disabled_by, deleted_at, created_at, \
         updated_at from account"
    )
}

/// A row of [`select`]: the account's columns, then the directory's own.
#[derive(sqlx::FromRow)]
struct EntryRow {
    #[sqlx(flatten)]
    account: AccountRow,
    external_id: Option<String>,
    disabled_at: Option<UnixTime>,
    disabled_by: Option<String>,
    deleted_at: Option<UnixTime>,
    created_at: UnixTime,
    updated_at: UnixTime,
}

impl TryFrom<EntryRow> for Entry {
    type Error = StoreError;

    fn try_from(row: EntryRow) -> Result<Self, StoreError> {
        Ok(Entry {
            account: Account::try_from(row.account)?,
            external_id: row.external_id,
            disabled_at: row.disabled_at,
            disabled_by: row.disabled_by,
            deleted_at: row.deleted_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Every account of the organisation, by username (deleted ones included).
pub async fn all(conn: &mut AnyConnection, tenant_id: &str) -> Result<Vec<Entry>, StoreError> {
    let rows = sqlx::query_as::<_, EntryRow>(&format!(
        "{} where tenant_id = $1 order by username",
        select()
    ))
    .bind(tenant_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Entry::try_from).collect()
}

/// One account of the organisation by id (deleted ones included).
pub async fn by_id(
    conn: &mut AnyConnection,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Entry>, StoreError> {
    one(conn, tenant_id, "account_id", id).await
}

/// One account of the organisation by username (deleted ones included).
pub async fn by_username(
    conn: &mut AnyConnection,
    tenant_id: &str,
    username: &str,
) -> Result<Option<Entry>, StoreError> {
    one(conn, tenant_id, "username", username).await
}

/// The account whose `column` (a unique one: `account_id`, `username`) is `value`.
async fn one(
    conn: &mut AnyConnection,
    tenant_id: &str,
    column: &'static str,
    value: &str,
) -> Result<Option<Entry>, StoreError> {
    let row = sqlx::query_as::<_, EntryRow>(&format!(
        "{} where tenant_id = $1 and {column} = $2",
        select()
    ))
    .bind(tenant_id)
    .bind(value)
    .fetch_optional(conn)
    .await?;
    row.map(Entry::try_from).transpose()
}

/// What a directory query compares (all must hold). Text is compared as the attribute is:
/// `user_name` without case, `external_id` exactly.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: Option<String>,
    /// The UPN, or the username where none is recorded (what SCIM calls `userName`).
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub enabled: Option<bool>,
    /// Nothing can match (e.g. an `id` that is no id of ours).
    pub impossible: bool,
}

impl Query {
    fn sql(&self) -> (String, Vec<String>) {
        let mut clauses = vec!["tenant_id = $1".to_string(), "deleted_at is null".into()];
        let mut binds = Vec::new();
        let bind = |clause: &str, value: String, binds: &mut Vec<String>| {
            binds.push(value);
            clause.replace('?', &format!("${}", binds.len() + 1))
        };
        if let Some(v) = &self.id {
            clauses.push(bind("account_id = ?", v.clone(), &mut binds));
        }
        if let Some(v) = &self.user_name {
            // A UPN in lower case; a username folded as usernames are stored.
            let folded = Username::parse(v).map_or_else(|_| v.to_lowercase(), |u| u.to_string());
            let upn = bind("upn = ?", v.to_lowercase(), &mut binds);
            let username = bind("(upn is null and username = ?)", folded, &mut binds);
            clauses.push(format!("({upn} or {username})"));
        }
        if let Some(v) = &self.external_id {
            clauses.push(bind("external_id = ?", v.clone(), &mut binds));
        }
        if let Some(v) = &self.email {
            clauses.push(bind("lower(email) = ?", v.to_lowercase(), &mut binds));
        }
        match self.enabled {
            Some(true) => clauses.push("disabled_at is null".into()),
            Some(false) => clauses.push("disabled_at is not null".into()),
            None => {}
        }
        if self.impossible {
            clauses.push("1 = 0".into());
        }
        (clauses.join(" and "), binds)
    }
}

/// One page of the accounts matching `query` (deleted ones never), by creation, and how many
/// match in all.
pub async fn find(
    conn: &mut AnyConnection,
    tenant_id: &str,
    query: &Query,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<Entry>), StoreError> {
    let (clauses, binds) = query.sql();
    let count_sql = format!("select count(*) from account where {clauses}");
    let mut count = sqlx::query_scalar(&count_sql).bind(tenant_id);
    for b in &binds {
        count = count.bind(b);
    }
    let total: i64 = count.fetch_one(&mut *conn).await?;
    let page_sql = format!(
        "{} where {clauses} order by created_at, account_id limit {} offset {}",
        select(),
        limit.max(0),
        offset.max(0)
    );
    let mut page = sqlx::query_as::<_, EntryRow>(&page_sql).bind(tenant_id);
    for b in &binds {
        page = page.bind(b);
    }
    let rows = page.fetch_all(conn).await?;
    Ok((
        total,
        rows.into_iter()
            .map(Entry::try_from)
            .collect::<Result<_, _>>()?,
    ))
}

/// A new account; its id.
pub async fn insert(
    conn: &mut AnyConnection,
    a: &NewAccount,
    external_id: Option<&str>,
    now: UnixTime,
) -> Result<AccountId, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "insert into account (account_id, tenant_id, username, email, display_name, entra_object_id, \
         upn, locale, failed_logins, created_at, updated_at, external_id) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9, $10)",
    )
    .bind(&id)
    .bind(&a.tenant_id)
    .bind(a.username.as_str())
    .bind(a.email.full())
    .bind(&a.display_name)
    .bind(a.entra_object_id.as_ref().map(|s| s.to_ascii_lowercase()))
    .bind(a.upn.as_ref().map(|s| s.to_lowercase()))
    .bind(a.locale.map(|l| l.tag().to_string()))
    .bind(now)
    .bind(external_id)
    .execute(conn)
    .await?;
    Ok(AccountId(id))
}

/// Everything a source says about the account, its username included; the password and lock
/// state are kept. The object id is written as given (`None` unbinds).
pub async fn update(
    conn: &mut AnyConnection,
    id: &AccountId,
    a: &NewAccount,
    external_id: Option<&str>,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "update account set username = $2, email = $3, display_name = $4, entra_object_id = $5, \
         upn = $6, locale = $7, external_id = $8, updated_at = $9 where account_id = $1",
    )
    .bind(&id.0)
    .bind(a.username.as_str())
    .bind(a.email.full())
    .bind(&a.display_name)
    .bind(a.entra_object_id.as_ref().map(|s| s.to_ascii_lowercase()))
    .bind(a.upn.as_ref().map(|s| s.to_lowercase()))
    .bind(a.locale.map(|l| l.tag().to_string()))
    .bind(external_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Disables the account (`Some(by)`: which source) or enables it again (`None`).
pub async fn set_disabled(
    conn: &mut AnyConnection,
    id: &AccountId,
    disabled: Option<&str>,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "update account set disabled_at = $2, disabled_by = $3, updated_at = $4 \
         where account_id = $1",
    )
    .bind(&id.0)
    .bind(disabled.map(|_| now))
    .bind(disabled.map(str::to_string))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets the account's password and lock state: it belongs to someone else now.
pub async fn clear_password(conn: &mut AnyConnection, id: &AccountId) -> Result<(), StoreError> {
    sqlx::query(
        "update account set password_hash = null, failed_logins = 0, locked_until = null \
         where account_id = $1",
    )
    .bind(&id.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the account deleted by its source (`Some(when)`) or present again (`None`).
pub async fn set_deleted(
    conn: &mut AnyConnection,
    id: &AccountId,
    deleted_at: Option<UnixTime>,
) -> Result<(), StoreError> {
    sqlx::query("update account set deleted_at = $2 where account_id = $1")
        .bind(&id.0)
        .bind(deleted_at)
        .execute(conn)
        .await?;
    Ok(())
}
