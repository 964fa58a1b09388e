//! Refresh tokens at rest: the database holds only their hashes, and dead
//! rows are purged on a schedule.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use auth_server::db::schema::{refresh_tokens, sessions};
use auth_server::tokens::refresh::RefreshToken;
use diesel::prelude::*;
use integration_tests::auth::tokens_from;
use integration_tests::{TestAuthServer, TestAuthServerBuilder, unverified_claims};
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

/// Returns every byte the database keeps: a `pg_dump` of the test database,
/// or the SQLite file with its write-ahead log.
fn dump_database(server: &TestAuthServer) -> Vec<u8> {
    if server.database.is_postgres() {
        let output = std::process::Command::new("pg_dump")
            .arg("--no-owner")
            .arg(&server.database.url)
            .output()
            .expect("pg_dump runs (install the PostgreSQL client tools)");
        assert!(
            output.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return output.stdout;
    }

    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = format!("{}{suffix}", server.database.url);
        if let Ok(content) = std::fs::read(&path) {
            bytes.extend(content);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_dump_has_no_refresh_tokens() {
    let server = TestAuthServer::spawn().await;
    let mut issued = Vec::new();
    let login = server.signed_up("dump@example.com").await;
    issued.push(login.refresh_token.clone());
    let rotated = server.refresh_tokens(&login.refresh_token).await;
    issued.push(rotated.refresh_token.clone());
    let second = server.login_tokens("dump@example.com", PASSWORD).await;
    issued.push(second.refresh_token.clone());
    assert_eq!(
        server.logout(&second.refresh_token).await.status(),
        StatusCode::NO_CONTENT
    );
    let cookie_login = server
        .post_json(
            "/auth/login",
            &json!({ "email": "dump@example.com", "password": PASSWORD, "token_delivery": "cookie" }),
        )
        .await;
    let cookie = cookie_login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("refresh_token=")
        .to_owned();
    issued.push(cookie);
    let access_tokens = [
        login.access_token,
        rotated.access_token,
        tokens_from(cookie_login).await.access_token,
    ];

    let dump = dump_database(&server);

    assert!(
        dump.len() > 1000,
        "the dump has content ({} bytes)",
        dump.len()
    );
    for token in &issued {
        assert_eq!(token.len(), 43);
        assert!(
            !contains(&dump, token),
            "a refresh token is stored in clear"
        );
        let hash = RefreshToken::presented(token).hash();
        assert!(contains(&dump, &hash), "its SHA-256 hash is stored");
    }
    for token in &access_tokens {
        assert!(!contains(&dump, token), "access tokens are not stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_task_deletes_dead_rows() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_REFRESH_TOKEN_TTL_SECS", "100")
        .env("AUTH_PURGE_INTERVAL_SECS", "1")
        .spawn()
        .await;
    let idle = server.signed_up("purge@example.com").await;
    let logged_out = server.login_tokens("purge@example.com", PASSWORD).await;
    assert_eq!(
        server.logout(&logged_out.refresh_token).await.status(),
        StatusCode::NO_CONTENT
    );
    let active = server.login_tokens("purge@example.com", PASSWORD).await;
    server.clock().advance(90);
    let active = server.refresh_tokens(&active.refresh_token).await;
    server.clock().advance(60);

    let sid = |access_token: &str| {
        unverified_claims(access_token)["sid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let revoked_sid = sid(&logged_out.access_token);
    let deadline = Instant::now() + Duration::from_secs(10);
    let (hashes, session_ids) = loop {
        let rows = server
            .with_db(|conn| {
                let hashes: Vec<String> = refresh_tokens::table
                    .select(refresh_tokens::token_hash)
                    .load(conn)?;
                let session_ids: Vec<String> = sessions::table.select(sessions::id).load(conn)?;
                Ok((hashes, session_ids))
            })
            .await;
        let purged = rows.0.len() == 1 && !rows.1.contains(&revoked_sid);
        if purged || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    assert_eq!(
        hashes,
        [RefreshToken::presented(&active.refresh_token).hash()],
        "only the live token of the active session remains"
    );
    assert!(
        !session_ids.contains(&revoked_sid),
        "the revoked session is deleted"
    );
    assert!(session_ids.contains(&sid(&active.access_token)));
    let refresh = server.refresh(&active.refresh_token).await;
    assert_eq!(
        refresh.status(),
        StatusCode::OK,
        "the purge spares live tokens"
    );
    let expired = server.refresh(&idle.refresh_token).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
}
