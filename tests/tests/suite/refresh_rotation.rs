//! Refresh token rotation: one use per token, reuse detection, the grace
//! window, idle and absolute lifetimes, and users who lose access.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth_server::db::schema::{refresh_tokens, sessions};
use auth_server::db::sessions::{RefreshTokenRow, Session};
use diesel::prelude::*;
use integration_tests::auth::Tokens;
use integration_tests::{TestAuthServer, TestAuthServerBuilder, unverified_claims};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn token_rows(server: &TestAuthServer) -> Vec<RefreshTokenRow> {
    server
        .with_db(|conn| {
            refresh_tokens::table
                .order(refresh_tokens::id.asc())
                .select(RefreshTokenRow::as_select())
                .load(conn)
        })
        .await
}

async fn session_row(server: &TestAuthServer, session_id: &str) -> Session {
    let session_id = session_id.to_owned();
    server
        .with_db(move |conn| {
            sessions::table
                .find(session_id)
                .select(Session::as_select())
                .first(conn)
        })
        .await
}

fn session_id_of(tokens: &Tokens) -> String {
    unverified_claims(&tokens.access_token)["sid"]
        .as_str()
        .expect("access tokens carry sid")
        .to_owned()
}

/// Asserts a 401 `invalid_grant` and returns the error description.
async fn assert_invalid_grant(response: reqwest::Response, context: &str) -> String {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{context}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{context}: {body}");
    body["error_description"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_links_token_to_successor() {
    let server = TestAuthServer::spawn().await;
    let first = server.signed_up("rotate@example.com").await;

    let second = server.refresh_tokens(&first.refresh_token).await;

    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(session_id_of(&second), session_id_of(&first));
    let rows = token_rows(&server).await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].used_at.is_some(),
        "the presented token is marked used"
    );
    assert_eq!(rows[0].replaced_by, Some(rows[1].id));
    assert_eq!(rows[1].session_id, rows[0].session_id);
    assert!(rows[1].used_at.is_none());
    assert!(rows[1].replaced_by.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_after_grace_revokes_family() {
    let server = TestAuthServer::spawn().await;
    let first = server.signed_up("reuse@example.com").await;
    let other_login = server.login_tokens("reuse@example.com", PASSWORD).await;
    let second = server.refresh_tokens(&first.refresh_token).await;
    let third = server.refresh_tokens(&second.refresh_token).await;

    server.clock().advance(6);
    let replay = server.refresh(&first.refresh_token).await;

    let description = assert_invalid_grant(replay, "replayed token").await;
    assert!(description.contains("already used"), "{description}");
    let current = server.refresh(&third.refresh_token).await;
    assert_invalid_grant(current, "the newest token of the revoked family").await;
    let session = session_row(&server, &session_id_of(&first)).await;
    assert!(session.revoked_at.is_some());
    assert_eq!(
        session.revoked_reason.as_deref(),
        Some("refresh token reused")
    );
    let other = server.refresh(&other_login.refresh_token).await;
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "another session of the same user stays live"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_within_grace_keeps_session() {
    let server = TestAuthServer::spawn().await;
    let first = server.signed_up("tabs@example.com").await;

    let tab_one = server.refresh_tokens(&first.refresh_token).await;
    server.clock().advance(4);
    let tab_two = server.refresh_tokens(&first.refresh_token).await;

    assert_ne!(tab_one.refresh_token, tab_two.refresh_token);
    assert_eq!(session_id_of(&tab_two), session_id_of(&first));
    let rows = token_rows(&server).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0].replaced_by,
        Some(rows[1].id),
        "replaced_by names the first successor"
    );
    let after_one = server.refresh(&tab_one.refresh_token).await;
    assert_eq!(after_one.status(), StatusCode::OK, "first successor works");
    let after_two = server.refresh(&tab_two.refresh_token).await;
    assert_eq!(after_two.status(), StatusCode::OK, "second successor works");
    let session = session_row(&server, &session_id_of(&first)).await;
    assert!(session.revoked_at.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_after_grace_still_detected() {
    let server = TestAuthServer::spawn().await;
    let first = server.signed_up("late@example.com").await;
    let within = server.refresh_tokens(&first.refresh_token).await;
    server.refresh_tokens(&first.refresh_token).await;

    server.clock().advance(6);
    let late = server.refresh(&first.refresh_token).await;

    assert_invalid_grant(late, "duplicate after the grace window").await;
    let successor = server.refresh(&within.refresh_token).await;
    assert_invalid_grant(successor, "successor in the revoked family").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_window_is_configurable() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_REFRESH_REUSE_GRACE_SECS", "30")
        .spawn()
        .await;
    let first = server.signed_up("grace30@example.com").await;
    server.refresh_tokens(&first.refresh_token).await;

    server.clock().advance(25);
    let inside = server.refresh(&first.refresh_token).await;
    assert_eq!(
        inside.status(),
        StatusCode::OK,
        "25 s is inside a 30 s window"
    );

    server.clock().advance(10);
    let outside = server.refresh(&first.refresh_token).await;
    assert_invalid_grant(outside, "35 s is outside a 30 s window").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_grace_revokes_on_first_duplicate() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_REFRESH_REUSE_GRACE_SECS", "0")
        .spawn()
        .await;
    let first = server.signed_up("grace0@example.com").await;
    let second = server.refresh_tokens(&first.refresh_token).await;

    let duplicate = server.refresh(&first.refresh_token).await;

    assert_invalid_grant(duplicate, "an immediate duplicate with no window").await;
    let successor = server.refresh(&second.refresh_token).await;
    assert_invalid_grant(successor, "successor in the revoked family").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_lifetime_expires_unused_token() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_REFRESH_TOKEN_TTL_SECS", "100")
        .spawn()
        .await;
    let tokens = server.signed_up("idle@example.com").await;
    assert_eq!(tokens.body["refresh_expires_in"], 100);

    server.clock().advance(101);
    let response = server.refresh(&tokens.refresh_token).await;

    let description = assert_invalid_grant(response, "token past its idle lifetime").await;
    assert!(description.contains("expired"), "{description}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_extends_idle_lifetime() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_REFRESH_TOKEN_TTL_SECS", "100")
        .spawn()
        .await;
    let first = server.signed_up("extend@example.com").await;

    server.clock().advance(60);
    let second = server.refresh_tokens(&first.refresh_token).await;
    assert_eq!(second.body["refresh_expires_in"], 100);
    server.clock().advance(90);
    let third = server.refresh(&second.refresh_token).await;

    assert_eq!(
        third.status(),
        StatusCode::OK,
        "150 s after login, 90 s after the last rotation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn family_lifetime_caps_rotation() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_REFRESH_TOKEN_TTL_SECS", "100")
        .env("AUTH_REFRESH_FAMILY_TTL_SECS", "250")
        .spawn()
        .await;
    let mut tokens = server.signed_up("absolute@example.com").await;

    server.clock().advance(90);
    tokens = server.refresh_tokens(&tokens.refresh_token).await;
    assert_eq!(tokens.body["refresh_expires_in"], 100);
    server.clock().advance(90);
    tokens = server.refresh_tokens(&tokens.refresh_token).await;
    let capped = tokens.body["refresh_expires_in"].as_i64().unwrap();
    assert!(
        (69..=70).contains(&capped),
        "the last token ends with the family at 250 s, found {capped} s left"
    );

    server.clock().advance(75);
    let response = server.refresh(&tokens.refresh_token).await;
    assert_invalid_grant(response, "family past its absolute lifetime").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_of_expired_rotated_token_revokes_family() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_REFRESH_TOKEN_TTL_SECS", "100")
        .spawn()
        .await;
    let first = server.signed_up("stolen@example.com").await;
    let second = server.refresh_tokens(&first.refresh_token).await;
    server.clock().advance(90);
    let third = server.refresh_tokens(&second.refresh_token).await;

    server.clock().advance(20);
    let replay = server.refresh(&first.refresh_token).await;

    let description = assert_invalid_grant(replay, "expired rotated token").await;
    assert!(description.contains("already used"), "{description}");
    let current = server.refresh(&third.refresh_token).await;
    assert_invalid_grant(current, "the newest token of the revoked family").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inactive_user_cannot_refresh() {
    let server = TestAuthServer::spawn().await;
    let user = server.register_user("inactive@example.com", PASSWORD).await;
    let tokens = server.login_tokens("inactive@example.com", PASSWORD).await;
    let user_id = user["id"].as_i64().unwrap();

    server.set_user_active(user_id, false).await;
    let refused = server.refresh(&tokens.refresh_token).await;
    assert_invalid_grant(refused, "refresh of an inactive user").await;

    server.set_user_active(user_id, true).await;
    let after_reactivation = server.refresh(&tokens.refresh_token).await;
    assert_invalid_grant(
        after_reactivation,
        "the session ended when the inactive user tried to refresh",
    )
    .await;
    let session = session_row(&server, &session_id_of(&tokens)).await;
    assert_eq!(session.revoked_reason.as_deref(), Some("user inactive"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_user_cannot_refresh() {
    let server = TestAuthServer::spawn().await;
    let user = server.register_user("deleted@example.com", PASSWORD).await;
    let tokens = server.login_tokens("deleted@example.com", PASSWORD).await;
    let user_id = user["id"].as_i64().unwrap();

    let deleted = server
        .with_db(move |conn| auth_server::db::users::delete(conn, user_id))
        .await;
    assert!(deleted);

    let response = server.refresh(&tokens.refresh_token).await;
    assert_invalid_grant(response, "refresh of a deleted user").await;
}

/// Deactivation and deletion through the admin API end refresh at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_deactivation_and_deletion_stop_refresh() {
    let server = TestAuthServer::spawn().await;
    let admin = server.register_user("admin@example.com", PASSWORD).await;
    let admin_id = admin["id"].as_i64().unwrap();
    server
        .with_db(move |conn| {
            let changes = auth_server::db::users::FlagChanges {
                is_active: None,
                is_staff: Some(true),
                is_superuser: None,
            };
            auth_server::db::users::set_flags(conn, admin_id, &changes)
        })
        .await;
    let admin_tokens = server.login_tokens("admin@example.com", PASSWORD).await;
    let deactivated = server.register_user("off@example.com", PASSWORD).await;
    let deactivated_tokens = server.login_tokens("off@example.com", PASSWORD).await;
    let removed = server.register_user("gone@example.com", PASSWORD).await;
    let removed_tokens = server.login_tokens("gone@example.com", PASSWORD).await;

    let patch = server
        .client
        .patch(server.url(&format!("/admin/users/{}", deactivated["id"])))
        .bearer_auth(&admin_tokens.access_token)
        .json(&json!({ "is_active": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::OK);
    let delete = server
        .client
        .delete(server.url(&format!("/admin/users/{}", removed["id"])))
        .bearer_auth(&admin_tokens.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);

    let refused = server.refresh(&deactivated_tokens.refresh_token).await;
    assert_invalid_grant(refused, "refresh after deactivation").await;
    let refused = server.refresh(&removed_tokens.refresh_token).await;
    assert_invalid_grant(refused, "refresh after deletion").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_refresh_requests_rejected() {
    let server = TestAuthServer::spawn().await;
    server.signed_up("invalid@example.com").await;

    let unknown_tokens = [
        (
            "a token never issued",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
        ),
        ("an empty token", String::new()),
        ("a 4 KiB token", "x".repeat(4096)),
    ];
    for (case, token) in unknown_tokens {
        let response = server.refresh(&token).await;
        assert_invalid_grant(response, case).await;
    }

    let bad_bodies = [
        ("no token and no cookie", json!({})),
        ("a number as the token", json!({ "refresh_token": 42 })),
        (
            "an unknown field",
            json!({ "refresh_token": "x", "grant": "y" }),
        ),
    ];
    for (case, body) in bad_bodies {
        let response = server.post_json("/auth/refresh", &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
    }
}
