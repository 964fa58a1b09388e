//! Ending sessions: logout, logout-all, RFC 7009 revocation and a password
//! change.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::TestAuthServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_only_this_family() {
    let server = TestAuthServer::spawn().await;
    let phone = server.signed_up("logout@example.com").await;
    let laptop = server.login_tokens("logout@example.com", PASSWORD).await;
    let rotated = server.refresh_tokens(&phone.refresh_token).await;

    let response = server.logout(&phone.refresh_token).await;

    assert_eq!(
        response.status(),
        StatusCode::NO_CONTENT,
        "a rotated token of the family logs it out"
    );
    let after = server.refresh(&rotated.refresh_token).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    let other = server.refresh(&laptop.refresh_token).await;
    assert_eq!(other.status(), StatusCode::OK, "the other session stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_with_unknown_token_succeeds() {
    let server = TestAuthServer::spawn().await;

    let response = server.logout("never-issued").await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_all_revokes_every_family() {
    let server = TestAuthServer::spawn().await;
    let first = server.signed_up("everywhere@example.com").await;
    let second = server
        .login_tokens("everywhere@example.com", PASSWORD)
        .await;
    let third = server
        .login_tokens("everywhere@example.com", PASSWORD)
        .await;
    let bystander = server.signed_up("bystander@example.com").await;

    let response = server
        .client
        .post(server.url("/auth/logout-all"))
        .bearer_auth(&second.access_token)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for (name, tokens) in [("first", &first), ("second", &second), ("third", &third)] {
        let refresh = server.refresh(&tokens.refresh_token).await;
        assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED, "{name} session");
    }
    let other_user = server.refresh(&bystander.refresh_token).await;
    assert_eq!(
        other_user.status(),
        StatusCode::OK,
        "another user keeps theirs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_all_requires_access_token() {
    let server = TestAuthServer::spawn().await;
    let tokens = server.signed_up("noauth@example.com").await;

    let without = server
        .client
        .post(server.url("/auth/logout-all"))
        .send()
        .await
        .unwrap();
    let with_refresh_token = server
        .client
        .post(server.url("/auth/logout-all"))
        .bearer_auth(&tokens.refresh_token)
        .send()
        .await
        .unwrap();

    assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
    assert!(without.headers().contains_key("www-authenticate"));
    assert_eq!(with_refresh_token.status(), StatusCode::UNAUTHORIZED);
    let still = server.refresh(&tokens.refresh_token).await;
    assert_eq!(still.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_endpoint_revokes_refresh_family() {
    let server = TestAuthServer::spawn().await;
    let tokens = server.signed_up("revoke@example.com").await;
    let rotated = server.refresh_tokens(&tokens.refresh_token).await;

    let response = server
        .post_form(
            "/oauth/revoke",
            &[
                ("token", &rotated.refresh_token),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.bytes().await.unwrap().is_empty());
    let after = server.refresh(&rotated.refresh_token).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_endpoint_ignores_wrong_hint() {
    let server = TestAuthServer::spawn().await;
    let tokens = server.signed_up("wronghint@example.com").await;

    let response = server
        .post_form(
            "/oauth/revoke",
            &[
                ("token", &tokens.refresh_token),
                ("token_type_hint", "access_token"),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let after = server.refresh(&tokens.refresh_token).await;
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "a refresh token is revoked whatever the hint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_endpoint_accepts_unknown_token() {
    let server = TestAuthServer::spawn().await;

    let response = server
        .post_form("/oauth/revoke", &[("token", "never-issued")])
        .await;

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_endpoint_leaves_access_tokens() {
    let server = TestAuthServer::spawn().await;
    let tokens = server.signed_up("access-revoke@example.com").await;

    let response = server
        .post_form(
            "/oauth/revoke",
            &[
                ("token", &tokens.access_token),
                ("token_type_hint", "access_token"),
            ],
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let me = server.get("/auth/me", Some(&tokens.access_token)).await;
    assert_eq!(me.status(), StatusCode::OK, "access tokens live until exp");
    let refresh = server.refresh(&tokens.refresh_token).await;
    assert_eq!(refresh.status(), StatusCode::OK, "the session is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_endpoint_rejects_malformed_requests() {
    let server = TestAuthServer::spawn().await;

    let form_cases: [(&str, &[(&str, &str)]); 3] = [
        ("no token", &[("token_type_hint", "refresh_token")]),
        ("an empty token", &[("token", "")]),
        ("a repeated token", &[("token", "a"), ("token", "b")]),
    ];
    for (case, fields) in form_cases {
        let response = server.post_form("/oauth/revoke", fields).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{case}");
    }

    let json_body = server
        .post_json("/oauth/revoke", &json!({ "token": "abc" }))
        .await;
    assert_eq!(
        json_body.status(),
        StatusCode::BAD_REQUEST,
        "a JSON body is not a form"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_revokes_other_sessions() {
    let server = TestAuthServer::spawn().await;
    let current = server.signed_up("password@example.com").await;
    let other = server.login_tokens("password@example.com", PASSWORD).await;

    let response = server
        .client
        .post(server.url("/auth/me/password"))
        .bearer_auth(&current.access_token)
        .json(&json!({
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase"
        }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let kept = server.refresh(&current.refresh_token).await;
    assert_eq!(
        kept.status(),
        StatusCode::OK,
        "the session named by sid stays"
    );
    let revoked = server.refresh(&other.refresh_token).await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
}
