//! Cookie mode for browsers: the refresh token travels only in an HttpOnly,
//! SameSite=Strict cookie scoped to the refresh and logout paths, and
//! cookie requests must come from an allowed Origin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::{TestAuthServer, TestAuthServerBuilder};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";
const APP_ORIGIN: &str = "https://app.example.com";

/// One `Set-Cookie` header, split into its value and attributes.
#[derive(Debug)]
struct SetCookie {
    name: String,
    value: String,
    /// Attribute names in lower case, with their values when they have one.
    attributes: Vec<(String, Option<String>)>,
}

impl SetCookie {
    fn parse(header: &str) -> SetCookie {
        let mut parts = header.split(';').map(str::trim);
        let (name, value) = parts.next().unwrap().split_once('=').unwrap();
        let attributes = parts
            .map(|part| match part.split_once('=') {
                Some((key, value)) => (key.to_ascii_lowercase(), Some(value.to_owned())),
                None => (part.to_ascii_lowercase(), None),
            })
            .collect();
        SetCookie {
            name: name.to_owned(),
            value: value.to_owned(),
            attributes,
        }
    }

    fn has(&self, attribute: &str) -> bool {
        self.attributes.iter().any(|(key, _)| key == attribute)
    }

    fn get(&self, attribute: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == attribute)
            .and_then(|(_, value)| value.as_deref())
    }
}

fn set_cookies(response: &Response) -> Vec<SetCookie> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| SetCookie::parse(value.to_str().unwrap()))
        .collect()
}

async fn cookie_login(server: &TestAuthServer, email: &str) -> Response {
    server.register_user(email, PASSWORD).await;
    server
        .post_json(
            "/auth/login",
            &json!({ "email": email, "password": PASSWORD, "token_delivery": "cookie" }),
        )
        .await
}

/// Returns the refresh token from the cookies of a response, after checking
/// that both path-scoped copies carry the same value.
fn refresh_cookie_value(cookies: &[SetCookie]) -> String {
    let values: Vec<&str> = cookies
        .iter()
        .filter(|cookie| cookie.name == "refresh_token")
        .map(|cookie| cookie.value.as_str())
        .collect();
    assert_eq!(values.len(), 2, "one cookie per path: {cookies:?}");
    assert_eq!(values[0], values[1]);
    values[0].to_owned()
}

async fn post_with_cookie(
    server: &TestAuthServer,
    path: &str,
    token: &str,
    origin: Option<&str>,
) -> Response {
    let mut request = server
        .client
        .post(server.url(path))
        .header("cookie", format!("refresh_token={token}"));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_scoped_strict_cookies() {
    let server = TestAuthServer::spawn().await;

    let response = cookie_login(&server, "cookie@example.com").await;

    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    let token = refresh_cookie_value(&cookies);
    assert_eq!(token.len(), 43, "the cookie carries the 256-bit token");
    let mut paths: Vec<&str> = cookies.iter().filter_map(|c| c.get("path")).collect();
    paths.sort();
    assert_eq!(paths, ["/auth/logout", "/auth/refresh"]);
    for cookie in &cookies {
        assert!(cookie.has("httponly"), "{cookie:?}");
        assert_eq!(cookie.get("samesite"), Some("Strict"), "{cookie:?}");
        assert_eq!(cookie.get("max-age"), Some("1209600"), "{cookie:?}");
        assert!(
            !cookie.has("secure"),
            "an http://127.0.0.1 issuer relaxes Secure: {cookie:?}"
        );
        assert!(!cookie.has("domain"), "host-only cookie: {cookie:?}");
    }
    let body: Value = response.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "not in the body: {body}"
    );
    assert!(body["access_token"].is_string());
    assert_eq!(body["refresh_expires_in"], 1_209_600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_secure_unless_local_http() {
    let cases = [
        ("https://auth.example.com", true),
        ("http://auth.example.com", true),
        ("http://localhost:8080", false),
    ];

    for (issuer, secure) in cases {
        let server = TestAuthServerBuilder::new()
            .env("AUTH_ISSUER", issuer)
            .spawn()
            .await;
        let response = cookie_login(&server, "secure@example.com").await;
        let cookies = set_cookies(&response);

        assert_eq!(cookies.len(), 2, "{issuer}");
        for cookie in cookies {
            assert_eq!(cookie.has("secure"), secure, "{issuer}: {cookie:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_with_cookie_rotates_cookie() {
    let server = TestAuthServer::spawn().await;
    let login = cookie_login(&server, "rotate-cookie@example.com").await;
    let first = refresh_cookie_value(&set_cookies(&login));

    let response = post_with_cookie(&server, "/auth/refresh", &first, Some(&server.base_url)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let second = refresh_cookie_value(&set_cookies(&response));
    assert_ne!(second, first);
    let body: Value = response.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "cookie mode stays: {body}"
    );
    assert!(body["access_token"].is_string());
    let next = post_with_cookie(&server, "/auth/refresh", &second, Some(&server.base_url)).await;
    assert_eq!(next.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_cookie_is_deleted() {
    let server = TestAuthServer::spawn().await;
    let login = cookie_login(&server, "dead-cookie@example.com").await;
    let first = refresh_cookie_value(&set_cookies(&login));
    let rotated = post_with_cookie(&server, "/auth/refresh", &first, Some(&server.base_url)).await;
    assert_eq!(rotated.status(), StatusCode::OK);

    server.clock().advance(6);
    let replay = post_with_cookie(&server, "/auth/refresh", &first, Some(&server.base_url)).await;

    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let cookies = set_cookies(&replay);
    assert_eq!(cookies.len(), 2, "both path copies are deleted");
    for cookie in &cookies {
        assert_eq!(cookie.value, "");
        assert_eq!(cookie.get("max-age"), Some("0"), "{cookie:?}");
    }
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_requests_check_origin() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_ALLOWED_ORIGINS", APP_ORIGIN)
        .spawn()
        .await;
    let login = cookie_login(&server, "origin@example.com").await;
    let token = refresh_cookie_value(&set_cookies(&login));

    let rejected = [
        ("no Origin", None),
        ("a foreign origin", Some("https://evil.example.com")),
        (
            "an allowed host on another scheme",
            Some("http://app.example.com"),
        ),
        ("the literal null origin", Some("null")),
    ];
    for (case, origin) in rejected {
        for path in ["/auth/refresh", "/auth/logout"] {
            let response = post_with_cookie(&server, path, &token, origin).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{case} on {path}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "forbidden_origin", "{case} on {path}");
        }
    }

    let allowed = post_with_cookie(&server, "/auth/refresh", &token, Some(APP_ORIGIN)).await;
    assert_eq!(
        allowed.status(),
        StatusCode::OK,
        "the token survived the rejected requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_with_cookie_clears_it() {
    let server = TestAuthServer::spawn().await;
    let login = cookie_login(&server, "logout-cookie@example.com").await;
    let token = refresh_cookie_value(&set_cookies(&login));

    let response = post_with_cookie(&server, "/auth/logout", &token, Some(&server.base_url)).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 2);
    for cookie in &cookies {
        assert_eq!(cookie.value, "");
        assert_eq!(cookie.get("max-age"), Some("0"), "{cookie:?}");
    }
    let refresh = post_with_cookie(&server, "/auth/refresh", &token, Some(&server.base_url)).await;
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_mode_is_default() {
    let server = TestAuthServer::spawn().await;
    server.register_user("body@example.com", PASSWORD).await;

    let response = server.login("body@example.com", PASSWORD).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookies(&response).is_empty(), "no cookie in body mode");
    let body: Value = response.json().await.unwrap();
    let token = body["refresh_token"].as_str().unwrap();
    let refreshed = server.refresh(token).await;
    assert!(set_cookies(&refreshed).is_empty());
    let refreshed: Value = refreshed.json().await.unwrap();
    assert!(refreshed["refresh_token"].is_string());
}
