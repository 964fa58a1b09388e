//! The `purge-tokens` subcommand of the binary, run on a SQLite file.
//!
//! Building this test also makes cargo build the `auth-server` binary, which
//! the multi-process tests of the integration suite start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::time::Duration;

use auth_server::db::schema::{refresh_tokens, sessions};
use auth_server::db::{Database, DbError};
use auth_server::service::accounts::{self, Registration};
use auth_server::service::sessions::{self as session_service, ClientInfo, RefreshPolicy};
use diesel::prelude::*;

fn auth_server(database_url: &str, data_dir: &std::path::Path, arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auth-server"))
        .args(arguments)
        .env_clear()
        .env("AUTH_DATA_DIR", data_dir)
        .env("AUTH_DATABASE_URL", database_url)
        .output()
        .expect("run auth-server")
}

#[test]
fn help_lists_purge_tokens() {
    let data_dir = tempfile::tempdir().unwrap();

    let output = auth_server("unused.db", data_dir.path(), &["--help"]);

    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("purge-tokens"), "{help}");
}

#[tokio::test]
async fn purge_tokens_deletes_dead_rows() {
    let data_dir = tempfile::tempdir().unwrap();
    let database_url = data_dir.path().join("auth.db").display().to_string();
    let db = Database::connect(&database_url, 1);
    db.migrate().unwrap();
    let policy = RefreshPolicy {
        idle_ttl: Duration::from_secs(100),
        family_ttl: Duration::from_secs(1000),
        reuse_grace: Duration::from_secs(5),
    };
    let now = chrono::Utc::now().naive_utc();
    let live_session = db
        .run(move |conn| {
            let registration = Registration {
                email: "purge@example.com".into(),
                password_hash: "not a real hash".into(),
                first_name: String::new(),
                last_name: String::new(),
                date_of_birth: None,
                phone: None,
                is_staff: false,
                is_superuser: false,
            };
            let user = accounts::register(conn, &registration, now).unwrap();
            let long_ago = now - chrono::Duration::days(30);
            session_service::start(
                conn,
                user.clone(),
                &policy,
                &ClientInfo::default(),
                long_ago,
            )?;
            let live = session_service::start(conn, user, &policy, &ClientInfo::default(), now)?;
            Ok::<_, DbError>(live.session_id)
        })
        .await
        .unwrap();

    let output = auth_server(&database_url, data_dir.path(), &["purge-tokens"]);

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("purged 1 refresh tokens and 1 sessions"),
        "{stdout}"
    );
    let (token_count, session_ids) = db
        .run(|conn| {
            let tokens: i64 = refresh_tokens::table.count().get_result(conn)?;
            let ids: Vec<String> = sessions::table.select(sessions::id).load(conn)?;
            Ok::<_, DbError>((tokens, ids))
        })
        .await
        .unwrap();
    assert_eq!(token_count, 1, "the live token stays");
    assert_eq!(session_ids, [live_session], "only the live session stays");
}
