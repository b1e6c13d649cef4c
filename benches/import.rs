//! `users import` of a large directory as Excel writes it (Windows-1252, semicolons, CRLF,
//! French headers): the first import (every row created), the same file again (every row
//! unchanged), and a file where 500 people changed address and 1,000 left
//! (`--disable-missing`). On SQLite in a temporary file, and on PostgreSQL when DATABASE_URL is
//! set. Figures only.
//!
//!     cargo bench --bench import                      # 50,000 rows
//!     ROWS=200000 cargo bench --bench import
//!     DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench import

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark prints its figures, and its set-up fails loudly"
)]

use std::time::Instant;

use octopus_teams::{
    config::{Config, RawConfig},
    directory::{ImportOptions, ImportReport, import_csv_with},
    org::Organisation,
    store::Store,
};
use secrecy::SecretString;

/// The directory as Excel's plain "CSV" writes it in a French-Canadian locale.
fn excel(rows: usize, changed: usize, left: usize) -> Vec<u8> {
    let mut text = String::from("Nom d'utilisateur;Courriel;Nom complet;Langue\r\n");
    for n in left..rows {
        let domain = if n < left + changed {
            "nouveau.example"
        } else {
            "cegepsi.ca"
        };
        text.push_str(&format!(
            "emp{n:06};prenom.nom{n}@{domain};Hélène Côté-Gagné {n};fr-CA\r\n"
        ));
    }
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    bytes.into_owned()
}

async fn timed(
    store: &Store,
    org: &Organisation,
    file: &[u8],
    options: ImportOptions,
) -> (f64, ImportReport) {
    let start = Instant::now();
    let report = import_csv_with(
        store,
        org,
        file,
        octopus_teams::model::UnixTime(1_800_000_000),
        options,
    )
    .await
    .expect("the import");
    (start.elapsed().as_secs_f64(), report)
}

async fn run(label: &str, url: &str, org: &Organisation, rows: usize) {
    let store = Store::connect(&SecretString::from(url.to_string()))
        .await
        .expect("the database");
    store.migrate().await.expect("the schema");
    let first = excel(rows, 0, 0);
    let next = excel(rows, 500, 1_000);
    let leavers = ImportOptions {
        disable_missing: true,
        ..ImportOptions::default()
    };
    println!("{label}: {rows} rows, {} kB", first.len() / 1024);
    let (s, r) = timed(&store, org, &first, ImportOptions::default()).await;
    println!(
        "  first import          {s:>7.2} s  ({} created)",
        r.created
    );
    let (s, r) = timed(&store, org, &first, ImportOptions::default()).await;
    println!(
        "  same file again       {s:>7.2} s  ({} unchanged)",
        r.unchanged
    );
    let dry = ImportOptions {
        dry_run: true,
        ..leavers
    };
    let (s, r) = timed(&store, org, &next, dry).await;
    println!(
        "  leavers, --dry-run    {s:>7.2} s  ({} would be updated, {} disabled)",
        r.updated, r.disabled
    );
    let (s, r) = timed(&store, org, &next, leavers).await;
    println!(
        "  leavers               {s:>7.2} s  ({} updated, {} disabled)",
        r.updated, r.disabled
    );
    store.close().await;
}

fn main() {
    let rows: usize = std::env::var("ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50_000);
    let raw: RawConfig = Config::figment(None).extract().expect("the defaults");
    let config = raw.validate().expect("the defaults validate");
    let org = config.organisations.default_org().clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("import.db").display()
    );
    rt.block_on(run("SQLite", &sqlite, &org, rows));
    if let Ok(url) = std::env::var("DATABASE_URL") {
        rt.block_on(async {
            let admin = sqlx::PgPool::connect(&url).await.expect("PostgreSQL");
            let db = format!("bench_import_{}", std::process::id());
            sqlx::query(&format!("create database {db}"))
                .execute(&admin)
                .await
                .unwrap();
            let (base, _) = url.rsplit_once('/').unwrap();
            run("PostgreSQL", &format!("{base}/{db}"), &org, rows).await;
            sqlx::query(&format!("drop database {db}"))
                .execute(&admin)
                .await
                .unwrap();
        });
    }
}
