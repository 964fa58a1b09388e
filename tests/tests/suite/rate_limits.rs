//! Rate limits return 429 with Retry-After, per client IP and per account,
//! without letting an attacker lock the owner out from another address.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::{TestAuthServer, TestAuthServerBuilder};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

async fn login_from(server: &TestAuthServer, ip: &str, email: &str, password: &str) -> Response {
    server
        .client
        .post(server.url("/auth/login"))
        .header("X-Forwarded-For", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn assert_rate_limited(response: Response) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_limit_spares_owner_elsewhere() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_TRUST_FORWARDED_FOR", "true")
        .env("AUTH_RATE_LIMIT_LOGIN_PER_ACCOUNT", "3")
        .env("AUTH_RATE_LIMIT_LOGIN_PER_IP", "100")
        .spawn()
        .await;
    server
        .register_user("target@example.com", "correct horse battery")
        .await;

    for _ in 0..3 {
        let guess = login_from(&server, "203.0.113.5", "target@example.com", "guess guess").await;
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(
        login_from(&server, "203.0.113.5", "target@example.com", "guess guess").await,
    )
    .await;
    assert_rate_limited(
        login_from(
            &server,
            "203.0.113.5",
            "TARGET@example.com",
            "correct horse battery",
        )
        .await,
    )
    .await;

    let owner = login_from(
        &server,
        "198.51.100.7",
        "target@example.com",
        "correct horse battery",
    )
    .await;
    assert_eq!(
        owner.status(),
        StatusCode::OK,
        "the owner logs in from their own address"
    );
    let other_account =
        login_from(&server, "203.0.113.5", "nobody@example.com", "guess guess").await;
    assert_eq!(
        other_account.status(),
        StatusCode::UNAUTHORIZED,
        "other accounts have their own bucket"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_limit_covers_every_account() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_TRUST_FORWARDED_FOR", "true")
        .env("AUTH_RATE_LIMIT_LOGIN_PER_IP", "4")
        .spawn()
        .await;

    for index in 0..4 {
        let response = login_from(
            &server,
            "203.0.113.9",
            &format!("user{index}@example.com"),
            "guess guess",
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_rate_limited(
        login_from(&server, "203.0.113.9", "user9@example.com", "guess guess").await,
    )
    .await;
    let elsewhere = login_from(&server, "203.0.113.10", "user9@example.com", "guess guess").await;
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_ignored_by_default() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_RATE_LIMIT_LOGIN_PER_IP", "2")
        .spawn()
        .await;

    for index in 0..2 {
        let response = login_from(
            &server,
            &format!("203.0.113.{index}"),
            "someone@example.com",
            "guess guess",
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let spoofed = login_from(
        &server,
        "203.0.113.99",
        "someone@example.com",
        "guess guess",
    )
    .await;
    assert_rate_limited(spoofed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_limit_writes_nothing() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_RATE_LIMIT_REGISTER_PER_IP", "2")
        .spawn()
        .await;

    server
        .register_user("first@example.com", "correct horse battery")
        .await;
    server
        .register_user("second@example.com", "correct horse battery")
        .await;
    assert_rate_limited(
        server
            .register("third@example.com", "correct horse battery")
            .await,
    )
    .await;

    let admin_view = server.settings().clone();
    let third_exists = tokio::task::spawn_blocking(move || {
        auth_server::commands::users::set_active(&admin_view, "third@example.com", true).is_ok()
    })
    .await
    .unwrap();
    assert!(!third_exists, "a rate-limited registration creates no user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_limit_applies_per_ip() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_RATE_LIMIT_REFRESH_PER_IP", "2")
        .spawn()
        .await;
    let tokens = server.signed_up("refresher@example.com").await;

    let first = server.refresh_tokens(&tokens.refresh_token).await;
    let second = server.refresh_tokens(&first.refresh_token).await;
    assert_rate_limited(server.refresh(&second.refresh_token).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_password_checks_are_limited() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_RATE_LIMIT_LOGIN_PER_ACCOUNT", "3")
        .spawn()
        .await;
    let tokens = server.signed_up("guessed@example.com").await;
    let change_password = |current: &str| {
        server
            .client
            .post(server.url("/auth/me/password"))
            .bearer_auth(&tokens.access_token)
            .json(&json!({"current_password": current, "new_password": "a brand new password"}))
            .send()
    };

    for attempt in 0..3 {
        let wrong = change_password("wrong guess").await.unwrap();
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST, "guess {attempt}");
    }
    assert_rate_limited(change_password("wrong guess").await.unwrap()).await;

    let email_change = server
        .client
        .patch(server.url("/auth/me"))
        .bearer_auth(&tokens.access_token)
        .json(&json!({"email": "taken-over@example.com", "current_password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_rate_limited(email_change).await;

    let login = server
        .login("guessed@example.com", "correct horse battery")
        .await;
    assert_eq!(login.status(), StatusCode::OK, "the owner can still log in");
}
