//! A database of its own for each test: a SQLite file in the test's data
//! dir, or a new PostgreSQL database when `TEST_POSTGRES_URL` is set.

use diesel::{Connection, PgConnection, RunQueryDsl};

/// The environment variable that switches the suite to PostgreSQL.
pub const POSTGRES_URL_VARIABLE: &str = "TEST_POSTGRES_URL";

/// A database that lives as long as the test; a PostgreSQL one is dropped
/// when this value is dropped.
pub struct TestDatabase {
    pub url: String,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// Creates the database for a test whose data dir is `data_dir`.
    pub fn create(data_dir: &std::path::Path) -> TestDatabase {
        match std::env::var(POSTGRES_URL_VARIABLE)
            .ok()
            .filter(|url| !url.is_empty())
        {
            Some(admin_url) => TestDatabase::create_postgres(&admin_url),
            None => TestDatabase {
                url: data_dir.join("auth.db").to_string_lossy().into_owned(),
                postgres: None,
            },
        }
    }

    fn create_postgres(admin_url: &str) -> TestDatabase {
        let name = format!("auth_test_{:016x}", rand::random::<u64>());
        let mut admin = PgConnection::establish(admin_url).unwrap_or_else(|error| {
            panic!("{POSTGRES_URL_VARIABLE} is set but PostgreSQL is unreachable: {error}")
        });
        diesel::sql_query(format!(r#"CREATE DATABASE "{name}""#))
            .execute(&mut admin)
            .expect("create the test database");

        let mut url = url::Url::parse(admin_url).expect("TEST_POSTGRES_URL is a URL");
        url.set_path(&name);
        TestDatabase {
            url: url.to_string(),
            postgres: Some((admin_url.to_owned(), name)),
        }
    }

    /// Reports whether this test runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin_url, name)) = &self.postgres else {
            return;
        };
        if let Ok(mut admin) = PgConnection::establish(admin_url) {
            let _ = diesel::sql_query(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                .execute(&mut admin);
        }
    }
}
