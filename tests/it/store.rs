//! The store on both dialects.

use octopus_teams::model::UnixTime;

use crate::harness::TestApp;

#[test]
fn both_migration_folders_list_the_same_versions() {
    let names = |dialect: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dialect);
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"));
    assert!(!names("sqlite").is_empty());
}

#[tokio::test]
async fn sqlite_enforces_foreign_keys_and_postgres_runs_the_same_suite() {
    let app = TestApp::spawn().await;
    if app.db.is_postgres() {
        let v: String = sqlx::query_scalar("select current_database()::text")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        assert!(v.starts_with("octo_test_"));
    } else {
        let mut conn = app.store.conn().await.unwrap();
        let fk: i64 = sqlx::query_scalar("pragma foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(fk, 1);
    }
    // A token for an account that does not exist is refused by the schema on both.
    let res = sqlx::query("insert into reset_token (token_id, token_hash, account_id, purpose, locale, created_at, expires_at) values ('t', $1, 'missing', 'reset', 'fr-CA', 0, 1)")
        .bind(vec![0u8; 32])
        .execute(app.store.pool())
        .await;
    let err = res.expect_err("a token for a missing account is refused");
    // Refused for the right reason: not a syntax, type or NOT NULL error that would also fail.
    let kind = err.as_database_error().map(|e| e.kind());
    assert!(
        matches!(kind, Some(sqlx::error::ErrorKind::ForeignKeyViolation)),
        "expected a foreign-key violation, got {kind:?}: {err}"
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await, (200, "ok".into()));
    assert_eq!(app.get("/readyz").await, (200, "ready".into()));
}

/// The bot's form reads the account and its lock on the calling thread on SQLite
/// (`store::inline`): the same answers as through the pool, and what the writer commits is seen
/// by the next read. PostgreSQL reads through its pool only.
#[tokio::test]
async fn reads_on_the_calling_thread_see_what_the_pool_sees() {
    use octopus_teams::store::{accounts, lockout};

    use crate::harness::{ACCOUNTS_CSV, JULIE_OID, TENANT};

    let app = TestApp::spawn().await;
    app.import(ACCOUNTS_CSV).await;
    let upper = JULIE_OID.to_ascii_uppercase();
    let now = app
        .store
        .read_now(|c| accounts::by_object_id_now(c, TENANT, &upper));
    if app.db.is_postgres() {
        assert!(
            now.is_none(),
            "no reads on the calling thread on PostgreSQL"
        );
        return;
    }
    let inline = now
        .expect("SQLite in a file reads on the calling thread")
        .expect("Julie is found by her object id, whatever its case");
    let pooled = {
        let mut conn = app.store.conn().await.unwrap();
        accounts::by_identity(&mut conn, TENANT, Some(JULIE_OID), None)
            .await
            .unwrap()
            .expect("Julie through the pool")
    };
    assert_eq!(format!("{inline:?}"), format!("{pooled:?}"));
    let nobody = app.store.read_now(|c| {
        accounts::by_object_id_now(c, TENANT, "22222222-2222-2222-2222-222222222222")
    });
    assert!(
        matches!(nobody, Some(None)),
        "an object id no account is bound to: {nobody:?}"
    );

    let subject = "a-subject";
    let locked = || {
        app.store
            .read_now(|c| lockout::locked_until_now(c, TENANT, subject))
            .expect("read on the calling thread")
    };
    assert_eq!(locked(), None);
    {
        let mut w = app.store.write().await.unwrap();
        let reserved = lockout::reserve(
            &mut w,
            lockout::Reserve {
                tenant_id: TENANT,
                subject,
                now: UnixTime(1_000),
                stale_before: UnixTime(0),
                threshold: 5,
                hard_limit: 10,
            },
        )
        .await
        .unwrap();
        assert!(reserved.is_some());
        lockout::lock_until(&mut w, TENANT, subject, UnixTime(9_999))
            .await
            .unwrap();
    }
    assert_eq!(
        locked(),
        Some(UnixTime(9_999)),
        "the writer's commit is seen at once"
    );
}
