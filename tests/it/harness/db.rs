//! A fresh database per test: SQLite in a temp dir, or a PostgreSQL database of its own when
//! DATABASE_URL points at a server (dropped when the test ends).

use secrecy::SecretString;

pub struct TestDb {
    pub url: String,
    pub postgres: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn create() -> Self {
        match std::env::var("DATABASE_URL") {
            Ok(base) if base.starts_with("postgres") => {
                let name = format!("octo_test_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&base)
                    .await
                    .expect("connect to DATABASE_URL");
                sqlx::query(&format!("create database {name}"))
                    .execute(&admin)
                    .await
                    .expect("create database");
                admin.close().await;
                let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    postgres: Some((base, name)),
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
                Self {
                    url,
                    postgres: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    pub fn secret_url(&self) -> SecretString {
        SecretString::from(self.url.clone())
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((base, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any runtime guarantee: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(admin) = sqlx::PgPool::connect(&base).await {
                    let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}
