//! No password, token, key or cookie value ever reaches a log line: a full
//! walk-through runs with every server log captured at trace level, and the
//! capture is searched for each secret.
//!
//! This file is its own test binary so it can install the global tracing
//! subscriber that captures the logs of the in-process servers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use integration_tests::{TestAuthServer, TestResourceServer};
use reqwest::StatusCode;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walkthrough_logs_no_secret() {
    let capture = Capture::default();
    tracing_subscriber::fmt()
        .with_env_filter("info,auth_server=trace,auth_shared=trace,resource_server=trace,tracing_actix_web=trace,actix_web=trace")
        .with_writer(capture.clone())
        .with_ansi(false)
        .init();

    let auth = TestAuthServer::spawn().await;
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    let password = "correct horse battery";
    let new_password = "new password for the log test";

    auth.register_user("logged@example.com", password).await;
    let tokens = auth.login_tokens("logged@example.com", password).await;
    assert_eq!(
        auth.login("logged@example.com", "a wrong password!")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        resource
            .get("/api/me", Some(&tokens.access_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        resource
            .get("/api/me?access_token=leak-check", Some("bad.token.value"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let refreshed = auth.refresh_tokens(&tokens.refresh_token).await;
    let token_in_query = format!("/auth/me?access_token={}", refreshed.access_token);
    assert_eq!(
        auth.get(&token_in_query, Some(&refreshed.access_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        auth.refresh(&tokens.refresh_token).await.status(),
        StatusCode::OK,
        "inside the grace window"
    );

    let cookie_login = auth
        .post_json("/auth/login", &json!({"email": "logged@example.com", "password": password, "token_delivery": "cookie"}))
        .await;
    let cookie_header = cookie_login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let cookie_value = cookie_header
        .split(';')
        .next()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .to_owned();

    let changed = auth
        .client
        .post(auth.url("/auth/me/password"))
        .bearer_auth(&refreshed.access_token)
        .json(&json!({"current_password": password, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let logout = auth
        .post_json(
            "/auth/logout",
            &json!({"refresh_token": refreshed.refresh_token}),
        )
        .await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    let key_file = std::fs::read_dir(auth.data_dir.path().join("keys"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|extension| extension == "pem"))
        .unwrap();
    let pem = std::fs::read_to_string(key_file).unwrap();
    let key_lines: Vec<String> = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .map(str::to_owned)
        .collect();

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("request completed"),
        "the capture must hold the request lines"
    );
    let signature_of = |token: &str| token.rsplit('.').next().unwrap().to_owned();
    let secrets = [
        ("password", password.to_owned()),
        ("new password", new_password.to_owned()),
        ("wrong password", "a wrong password!".to_owned()),
        ("access token", tokens.access_token.clone()),
        ("access token signature", signature_of(&tokens.access_token)),
        (
            "refreshed access token signature",
            signature_of(&refreshed.access_token),
        ),
        ("refresh token", tokens.refresh_token.clone()),
        ("rotated refresh token", refreshed.refresh_token.clone()),
        ("cookie value", cookie_value),
        ("query string token", "leak-check".to_owned()),
        ("rejected token", "bad.token.value".to_owned()),
    ];
    for (name, secret) in secrets {
        assert!(!logs.contains(&secret), "the {name} appears in the logs");
    }
    for line in key_lines {
        assert!(
            !logs.contains(&line),
            "a line of the private key appears in the logs"
        );
    }
}
