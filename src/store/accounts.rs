//! The account directory.

use crate::model::UnixTime;
use sqlx::AnyConnection;

use super::{Dialect, StoreError};
use crate::{
    i18n::Locale,
    model::{Account, AccountId, EmailAddress, Username},
};

pub(super) const COLUMNS: &str = "account_id, tenant_id, username, email, display_name, entra_object_id, upn, \
                       locale, password_hash, failed_logins, locked_until";

/// Every self-service lookup below sees only enabled accounts: a disabled one (it left the
/// directory) is « not found » to the pages, the bot, the tab and the credential check. The
/// directory's own reads (`store::directory`) see them all.
const ENABLED: &str = "and disabled_at is null";

/// A row of `COLUMNS`, from sqlx or from a read on the calling thread (`store::inline`). The
/// columns the schema requires are `Option`s all the same: a NULL there is reported as corrupt
/// data, the column named, rather than as a failed decoding.
#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    account_id: Option<String>,
    tenant_id: Option<String>,
    username: Option<String>,
    email: Option<String>,
    display_name: Option<String>,
    entra_object_id: Option<String>,
    upn: Option<String>,
    locale: Option<String>,
    password_hash: Option<String>,
    failed_logins: Option<i64>,
    locked_until: Option<UnixTime>,
}

impl AccountRow {
    /// The same row from rusqlite, which has no derive: its columns read by name.
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(AccountRow {
            account_id: row.get("account_id")?,
            tenant_id: row.get("tenant_id")?,
            username: row.get("username")?,
            email: row.get("email")?,
            display_name: row.get("display_name")?,
            entra_object_id: row.get("entra_object_id")?,
            upn: row.get("upn")?,
            locale: row.get("locale")?,
            password_hash: row.get("password_hash")?,
            failed_logins: row.get("failed_logins")?,
            locked_until: row.get::<_, Option<i64>>("locked_until")?.map(UnixTime),
        })
    }
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(row: AccountRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("account.{what}"));
        let required = |value: Option<String>, c: &str| value.ok_or_else(|| corrupt(c));
        Ok(Account {
            id: AccountId(required(row.account_id, "account_id")?),
            tenant_id: required(row.tenant_id, "tenant_id")?,
            username: Username::parse(&required(row.username, "username")?)
                .map_err(|_| corrupt("username"))?,
            email: EmailAddress::parse(&required(row.email, "email")?)
                .map_err(|_| corrupt("email"))?,
            display_name: required(row.display_name, "display_name")?,
            entra_object_id: row.entra_object_id,
            upn: row.upn,
            locale: row.locale.and_then(|l| Locale::from_tag(&l)),
            password_hash: row.password_hash,
            failed_logins: u32::try_from(
                row.failed_logins.ok_or_else(|| corrupt("failed_logins"))?,
            )
            .unwrap_or(u32::MAX),
            locked_until: row.locked_until,
        })
    }
}

pub async fn by_username(
    conn: &mut AnyConnection,
    tenant_id: &str,
    username: &Username,
) -> Result<Option<Account>, StoreError> {
    let row = sqlx::query_as::<_, AccountRow>(&format!(
        "select {COLUMNS} from account where tenant_id = $1 and username = $2 {ENABLED}"
    ))
    .bind(tenant_id)
    .bind(username.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(Account::try_from).transpose()
}

/// Holds the account row until the caller's transaction ends, so that simultaneous link requests
/// for one account take turns (each supersedes the links before it, then issues its own) and
/// exactly one link stays usable. PostgreSQL: `select … for update`, which also serialises
/// instances. SQLite: nothing to do: its writers are serialised by the database, and the request
/// transaction writes (supersedes) before it reads. A partial unique index on active links was
/// not chosen: expiry is time-based, so "active" cannot be an index predicate, and a loser would
/// get an error instead of a link that supersedes the winner's.
pub async fn lock(
    conn: &mut AnyConnection,
    dialect: Dialect,
    id: &AccountId,
) -> Result<(), StoreError> {
    if dialect == Dialect::Postgres {
        sqlx::query("select account_id from account where account_id = $1 for update")
            .bind(&id.0)
            .fetch_optional(conn)
            .await?;
    }
    Ok(())
}

pub async fn by_id(
    conn: &mut AnyConnection,
    id: &AccountId,
) -> Result<Option<Account>, StoreError> {
    let row = sqlx::query_as::<_, AccountRow>(&format!(
        "select {COLUMNS} from account where account_id = $1 {ENABLED}"
    ))
    .bind(&id.0)
    .fetch_optional(conn)
    .await?;
    row.map(Account::try_from).transpose()
}

/// The account linked to an Entra identity: by object id first, else by UPN / sign-in name,
/// but only among accounts that have no object id bound (a bound account is its object id's).
pub async fn by_identity(
    conn: &mut AnyConnection,
    tenant_id: &str,
    object_id: Option<&str>,
    upn: Option<&str>,
) -> Result<Option<Account>, StoreError> {
    if let Some(oid) = object_id {
        let row = sqlx::query_as::<_, AccountRow>(&by_object_id_sql())
            .bind(tenant_id)
            .bind(oid.to_ascii_lowercase())
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = row {
            return Account::try_from(row).map(Some);
        }
    }
    match upn {
        Some(upn) => by_unbound_upn(conn, tenant_id, upn).await,
        None => Ok(None),
    }
}

/// The accounts with no object id bound that a UPN names (`upn = UPN`, or no UPN recorded and
/// the address is that UPN).
const BY_UNBOUND_UPN: &str = "from account where tenant_id = $1 and entra_object_id is null \
     and (upn = $2 or (upn is null and lower(email) = $2)) and disabled_at is null";

/// The one account with no object id bound that `upn` names; `None` when none does, or when
/// several do (a shared address names nobody in particular).
pub async fn by_unbound_upn(
    conn: &mut AnyConnection,
    tenant_id: &str,
    upn: &str,
) -> Result<Option<Account>, StoreError> {
    let upn = upn.trim().to_lowercase();
    let rows = sqlx::query_as::<_, AccountRow>(&format!(
        "select {COLUMNS} {BY_UNBOUND_UPN} order by username limit 2"
    ))
    .bind(tenant_id)
    .bind(&upn)
    .fetch_all(&mut *conn)
    .await?;
    match <[AccountRow; 1]>::try_from(rows) {
        Ok([one]) => Account::try_from(one).map(Some),
        Err(_) => Ok(None),
    }
}

/// Binds `object_id` to the account if `upn` still names it and it has none bound yet.
/// `false`: it had one, an import changed what names it meanwhile, or another account of the
/// organisation has this object id.
pub async fn bind_object_id(
    conn: &mut AnyConnection,
    id: &AccountId,
    upn: &str,
    object_id: &str,
) -> Result<bool, StoreError> {
    let oid = object_id.to_ascii_lowercase();
    let upn = upn.trim().to_lowercase();
    let done = sqlx::query(
        "update account set entra_object_id = $2 where account_id = $1 and entra_object_id is null \
         and (upn = $3 or (upn is null and lower(email) = $3)) \
         and not exists (select 1 from account other where other.tenant_id = account.tenant_id \
                         and other.entra_object_id = $2)",
    )
    .bind(&id.0)
    .bind(&oid)
    .bind(&upn)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

fn by_object_id_sql() -> String {
    format!("select {COLUMNS} from account where tenant_id = $1 and entra_object_id = $2 {ENABLED}")
}

/// `by_identity` by object id alone, on the calling thread (`store::inline`).
pub fn by_object_id_now(
    conn: &rusqlite::Connection,
    tenant_id: &str,
    object_id: &str,
) -> Result<Option<Account>, StoreError> {
    let mut statement = conn.prepare_cached(&by_object_id_sql())?;
    let mut rows = statement.query((tenant_id, object_id.to_ascii_lowercase()))?;
    match rows.next()? {
        Some(row) => Account::try_from(AccountRow::from_sqlite(row)?).map(Some),
        None => Ok(None),
    }
}

pub async fn list(
    conn: &mut AnyConnection,
    tenant_id: Option<&str>,
) -> Result<Vec<Account>, StoreError> {
    let rows = sqlx::query_as::<_, AccountRow>(&format!(
        "select {COLUMNS} from account where ($1 = '' or tenant_id = $1) {ENABLED} \
         order by tenant_id, username"
    ))
    .bind(tenant_id.unwrap_or(""))
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Account::try_from).collect()
}

/// One row of an import.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub tenant_id: String,
    pub username: Username,
    pub email: EmailAddress,
    pub display_name: String,
    pub entra_object_id: Option<String>,
    pub upn: Option<String>,
    pub locale: Option<Locale>,
}

/// Unbinds the account's Entra object id (an import gave the account to someone else).
pub async fn clear_object_id(conn: &mut AnyConnection, id: &AccountId) -> Result<(), StoreError> {
    sqlx::query("update account set entra_object_id = null where account_id = $1")
        .bind(&id.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// The username of the account bound to an Entra object id, if any.
pub async fn holder_of_object_id(
    conn: &mut AnyConnection,
    tenant_id: &str,
    object_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "select username from account where tenant_id = $1 and entra_object_id = $2",
    )
    .bind(tenant_id)
    .bind(object_id.to_ascii_lowercase())
    .fetch_optional(conn)
    .await?)
}

/// Does the account exist?
pub async fn exists(
    conn: &mut AnyConnection,
    tenant_id: &str,
    username: &Username,
) -> Result<bool, StoreError> {
    let found: Option<String> = sqlx::query_scalar(
        "select account_id from account where tenant_id = $1 and username = $2 \
             and disabled_at is null",
    )
    .bind(tenant_id)
    .bind(username.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Insert or update by (tenant, username); the password and lock state are kept. Writes only,
/// so that on SQLite a transaction made of upserts never has to upgrade a read lock.
pub async fn upsert(
    conn: &mut AnyConnection,
    a: &NewAccount,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into account (account_id, tenant_id, username, email, display_name, entra_object_id, \
         upn, locale, failed_logins, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9) \
         on conflict (tenant_id, username) do update set email = $4, display_name = $5, \
         entra_object_id = coalesce($6, account.entra_object_id), upn = $7, locale = $8, \
         updated_at = $9",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&a.tenant_id)
    .bind(a.username.as_str())
    .bind(a.email.full())
    .bind(&a.display_name)
    .bind(a.entra_object_id.as_ref().map(|s| s.to_ascii_lowercase()))
    .bind(a.upn.as_ref().map(|s| s.to_lowercase()))
    .bind(a.locale.map(|l| l.tag().to_string()))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A new password: also clears the failure count and any lock.
pub async fn set_password(
    conn: &mut AnyConnection,
    id: &AccountId,
    hash: &str,
    now: UnixTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "update account set password_hash = $1, failed_logins = 0, locked_until = null, updated_at = $2 \
         where account_id = $3",
    )
    .bind(hash)
    .bind(now)
    .bind(&id.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts one more consecutive failure atomically and returns the new count.
pub async fn add_failure(conn: &mut AnyConnection, id: &AccountId) -> Result<u32, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "update account set failed_logins = failed_logins + 1 where account_id = $1 returning failed_logins",
    )
    .bind(&id.0)
    .fetch_one(conn)
    .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

pub async fn set_locked_until(
    conn: &mut AnyConnection,
    id: &AccountId,
    until: Option<UnixTime>,
) -> Result<(), StoreError> {
    sqlx::query("update account set locked_until = $1 where account_id = $2")
        .bind(until)
        .bind(&id.0)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn clear_failures(conn: &mut AnyConnection, id: &AccountId) -> Result<(), StoreError> {
    sqlx::query("update account set failed_logins = 0, locked_until = null where account_id = $1")
        .bind(&id.0)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn count(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("select count(*) from account")
        .fetch_one(conn)
        .await?)
}

/// The organisation's accounts whose email is `email`, compared case-insensitively (an address
/// may be shared, e.g. by a person's regular and admin accounts), by username.
pub async fn by_email(
    conn: &mut AnyConnection,
    tenant_id: &str,
    email: &EmailAddress,
) -> Result<Vec<Account>, StoreError> {
    let rows = sqlx::query_as::<_, AccountRow>(&format!(
        "select {COLUMNS} from account where tenant_id = $1 and lower(email) = $2 {ENABLED} \
         order by username"
    ))
    .bind(tenant_id)
    .bind(email.full().to_lowercase())
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Account::try_from).collect()
}
