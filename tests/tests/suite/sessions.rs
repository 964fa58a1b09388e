//! The session list and revoking one session: a user sees and ends only
//! their own refresh token families.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::{TestAuthServer, TestAuthServerBuilder, unverified_claims};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

async fn list_sessions(server: &TestAuthServer, access_token: &str) -> Vec<Value> {
    let response = server.get("/auth/sessions", Some(access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    body["sessions"].as_array().unwrap().clone()
}

async fn delete_session(server: &TestAuthServer, access_token: &str, id: &str) -> StatusCode {
    server
        .client
        .delete(server.url(&format!("/auth/sessions/{id}")))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_session_details() {
    let server = TestAuthServer::spawn().await;
    server.register_user("list@example.com", PASSWORD).await;
    let browser = server
        .client
        .post(server.url("/auth/login"))
        .header("user-agent", "TestBrowser/1.0")
        .json(&json!({ "email": "list@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let browser = integration_tests::auth::tokens_from(browser).await;
    let cli = server.login_tokens("list@example.com", PASSWORD).await;

    let sessions = list_sessions(&server, &browser.access_token).await;

    assert_eq!(sessions.len(), 2);
    let browser_sid = unverified_claims(&browser.access_token)["sid"].clone();
    let current: Vec<_> = sessions
        .iter()
        .filter(|session| session["current"] == true)
        .collect();
    assert_eq!(current.len(), 1, "one session is the caller's");
    assert_eq!(current[0]["id"], browser_sid);
    assert_eq!(current[0]["user_agent"], "TestBrowser/1.0");
    assert_eq!(current[0]["ip_address"], "127.0.0.1");
    for field in ["created_at", "last_used_at", "expires_at"] {
        assert!(current[0][field].is_string(), "{field} is present");
    }
    let cli_sid = unverified_claims(&cli.access_token)["sid"].clone();
    assert!(sessions.iter().any(|session| session["id"] == cli_sid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_updates_last_used() {
    let server = TestAuthServer::spawn().await;
    let tokens = server.signed_up("lastused@example.com").await;
    let before = list_sessions(&server, &tokens.access_token).await;

    server.clock().advance(120);
    let refreshed = server.refresh_tokens(&tokens.refresh_token).await;
    let after = list_sessions(&server, &refreshed.access_token).await;

    assert_eq!(before[0]["created_at"], after[0]["created_at"]);
    assert_ne!(before[0]["last_used_at"], after[0]["last_used_at"]);
    assert_eq!(after[0]["current"], true, "rotation keeps the sid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_omits_dead_sessions() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_REFRESH_TOKEN_TTL_SECS", "100")
        .env("AUTH_ACCESS_TOKEN_TTL_SECS", "900")
        .spawn()
        .await;
    let idle = server.signed_up("dead@example.com").await;
    let logged_out = server.login_tokens("dead@example.com", PASSWORD).await;
    assert_eq!(
        server.logout(&logged_out.refresh_token).await.status(),
        StatusCode::NO_CONTENT
    );

    server.clock().advance(60);
    let live = server.login_tokens("dead@example.com", PASSWORD).await;
    server.clock().advance(60);
    let sessions = list_sessions(&server, &live.access_token).await;

    assert_eq!(
        sessions.len(),
        1,
        "logged out and idle-expired sessions are gone"
    );
    assert_eq!(sessions[0]["current"], true);
    let idle_sid = unverified_claims(&idle.access_token)["sid"].clone();
    assert_ne!(sessions[0]["id"], idle_sid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_revokes_own_session() {
    let server = TestAuthServer::spawn().await;
    let keep = server.signed_up("delete@example.com").await;
    let lost = server.login_tokens("delete@example.com", PASSWORD).await;
    let lost_sid = unverified_claims(&lost.access_token)["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    let status = delete_session(&server, &keep.access_token, &lost_sid).await;

    assert_eq!(status, StatusCode::NO_CONTENT);
    let refresh = server.refresh(&lost.refresh_token).await;
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
    let sessions = list_sessions(&server, &keep.access_token).await;
    assert_eq!(sessions.len(), 1);
    let kept = server.refresh(&keep.refresh_token).await;
    assert_eq!(kept.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_users_sessions_are_invisible() {
    let server = TestAuthServer::spawn().await;
    let alice = server.signed_up("alice@example.com").await;
    let mallory = server.signed_up("mallory@example.com").await;
    let alice_sid = unverified_claims(&alice.access_token)["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    let mallory_view = list_sessions(&server, &mallory.access_token).await;
    let status = delete_session(&server, &mallory.access_token, &alice_sid).await;
    let unknown = delete_session(&server, &mallory.access_token, "no-such-session").await;

    assert_eq!(mallory_view.len(), 1);
    assert_ne!(mallory_view[0]["id"].as_str(), Some(alice_sid.as_str()));
    assert_eq!(status, StatusCode::NOT_FOUND, "another user's session");
    assert_eq!(unknown, StatusCode::NOT_FOUND, "an unknown session");
    let still = server.refresh(&alice.refresh_token).await;
    assert_eq!(still.status(), StatusCode::OK, "alice's session survives");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_require_access_token() {
    let server = TestAuthServer::spawn().await;

    let list = server.get("/auth/sessions", None).await;
    let delete = server
        .client
        .delete(server.url("/auth/sessions/anything"))
        .send()
        .await
        .unwrap();

    assert_eq!(list.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(delete.status(), StatusCode::UNAUTHORIZED);
}
