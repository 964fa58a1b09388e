//! Registration and login errors: each gives a 4xx JSON error naming the
//! problem and leaves no row behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::prelude::*;
use integration_tests::TestAuthServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn user_count(server: &TestAuthServer) -> i64 {
    use auth_server::db::schema::users;
    server
        .state()
        .db
        .run(|conn| {
            Ok::<_, auth_server::db::DbError>(users::table.count().get_result::<i64>(conn)?)
        })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taken_email_in_any_case_conflicts() {
    let server = TestAuthServer::spawn().await;
    server
        .register_user("Bob@example.com", "correct horse battery")
        .await;

    for email in ["bob@example.com", "BOB@EXAMPLE.COM", "  bob@Example.com "] {
        let response = server.register(email, "another password").await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{email}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "email_taken");
    }
    assert_eq!(user_count(&server).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_registrations_name_the_field() {
    let server = TestAuthServer::spawn().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": "correct horse"}),
            "email",
        ),
        (json!({"email": "", "password": "correct horse"}), "email"),
        (
            json!({"email": "a@example.com", "password": ""}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "x".repeat(73)}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "correct horse", "date_of_birth": "30000-01-01"}),
            "date_of_birth",
        ),
        (
            json!({"email": "a@example.com", "password": "correct horse", "date_of_birth": "2999-01-01"}),
            "date_of_birth",
        ),
        (
            json!({"email": "a@example.com", "password": "correct horse", "phone": "call me"}),
            "phone",
        ),
        (
            json!({"email": "a@example.com", "password": "correct horse", "first_name": "x".repeat(151)}),
            "first_name",
        ),
        (
            json!({"email": "a@example.com", "password": "correct horse", "last_name": "bad\u{7}name"}),
            "last_name",
        ),
    ];

    for (body, field) in cases {
        let response = server.post_json("/auth/register", &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_request", "{body}");
        assert!(
            error["fields"][field].is_string(),
            "{field} should be named for {body}: {error}"
        );
    }
    assert_eq!(user_count(&server).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_json_errors() {
    let server = TestAuthServer::spawn().await;
    let cases: [(&str, &str, StatusCode, &str); 7] = [
        ("application/json", "{", StatusCode::BAD_REQUEST, "EOF"),
        ("application/json", "", StatusCode::BAD_REQUEST, "EOF"),
        (
            "application/json",
            r#"["a@example.com","correct horse"]"#,
            StatusCode::BAD_REQUEST,
            "object",
        ),
        (
            "application/json",
            r#"{"email":"a@example.com"}"#,
            StatusCode::BAD_REQUEST,
            "password",
        ),
        (
            "application/json",
            r#"{"email":"a@example.com","password":"correct horse","is_staff":true}"#,
            StatusCode::BAD_REQUEST,
            "is_staff",
        ),
        (
            "application/json",
            r#"{"email":5,"password":"correct horse"}"#,
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (
            "text/plain",
            r#"{"email":"a@example.com","password":"correct horse"}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "JSON",
        ),
    ];

    for (content_type, body, status, mentions) in cases {
        let response = server
            .client
            .post(server.url("/auth/register"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        let description = error["error_description"].as_str().unwrap();
        assert!(description.contains(mentions), "{body}: {description}");
    }
    assert_eq!(user_count(&server).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_is_rejected() {
    let server = TestAuthServer::spawn().await;
    let body = json!({"email": "big@example.com", "password": "correct horse", "first_name": "x".repeat(100_000)});

    let response = server.post_json("/auth/register", &body).await;

    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "payload_too_large");
    assert_eq!(user_count(&server).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_failures_look_the_same() {
    let server = TestAuthServer::spawn().await;
    server
        .register_user("carol@example.com", "correct horse battery")
        .await;

    let unknown = server
        .login("nobody@example.com", "correct horse battery")
        .await;
    let wrong = server.login("carol@example.com", "wrong password!").await;

    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown: Value = unknown.json().await.unwrap();
    let wrong: Value = wrong.json().await.unwrap();
    assert_eq!(unknown, wrong);
    assert_eq!(unknown["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_route_is_json_404() {
    let server = TestAuthServer::spawn().await;

    let response = server.get("/no/such/route", None).await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_route_without_token_challenges() {
    let server = TestAuthServer::spawn().await;

    let missing = server.get("/auth/me", None).await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(
        missing.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    let garbage = server.get("/auth/me", Some("not.a.jwt")).await;
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    let challenge = garbage.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    let error: Value = garbage.json().await.unwrap();
    assert_eq!(error["error"], "invalid_token");
}
