//! The resource server over real HTTP, with keys from a fake issuer on
//! 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use actix_web::dev::ServerHandle;
use auth_shared::testing::{FakeIssuer, JwksMode, TestKey, access_claims};
use reqwest::StatusCode;
use resource_server::{Application, Settings};
use serde_json::{Value, json};

const AUDIENCE: &str = "api";

struct TestApp {
    address: String,
    issuer: FakeIssuer,
    key: TestKey,
    http: reqwest::Client,
    handle: ServerHandle,
}

impl TestApp {
    /// Starts a fake issuer and a resource server that trusts it, and waits
    /// until the server has loaded the keys.
    async fn spawn() -> TestApp {
        let app = TestApp::spawn_with(|_| {}).await;
        app.wait_until_ready().await;
        app
    }

    /// Starts the servers without waiting for keys. `configure` may change
    /// the issuer or the settings first.
    async fn spawn_with(configure: impl FnOnce(&mut (Settings, &FakeIssuer))) -> TestApp {
        let key = TestKey::generate();
        let issuer = FakeIssuer::start(key.jwks()).await;
        let mut setup = (Settings::for_issuer(issuer.issuer(), AUDIENCE), &issuer);
        configure(&mut setup);
        let (settings, _) = setup;

        let application = Application::build(settings).await.unwrap();
        let address = format!("http://127.0.0.1:{}", application.port());
        let handle = application.handle();
        tokio::spawn(application.run_until_stopped());

        TestApp {
            address,
            issuer,
            key,
            http: reqwest::Client::new(),
            handle,
        }
    }

    async fn wait_until_ready(&self) {
        for _ in 0..250 {
            if self.get("/readyz", None).await.status() == StatusCode::OK {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the resource server did not load keys within 5 s");
    }

    fn token(&self, sub: &str, scope: &str) -> String {
        self.key.sign(&access_claims(
            self.issuer.issuer(),
            AUDIENCE,
            sub,
            scope,
            SystemTime::now(),
        ))
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        self.send(self.http.get(format!("{}{path}", self.address)), token)
            .await
    }

    async fn post_json(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.send(
            self.http.post(format!("{}{path}", self.address)).json(body),
            Some(token),
        )
        .await
    }

    async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(
            self.http.delete(format!("{}{path}", self.address)),
            Some(token),
        )
        .await
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        token: Option<&str>,
    ) -> reqwest::Response {
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        request.send().await.unwrap()
    }

    async fn stop(self) {
        self.handle.stop(false).await;
        self.issuer.stop().await;
    }
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

#[tokio::test]
async fn healthz_is_ok() {
    let app = TestApp::spawn().await;

    let response = app.get("/healthz", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await, json!({ "status": "ok" }));
    app.stop().await;
}

#[tokio::test]
async fn readyz_waits_for_keys() {
    let app = TestApp::spawn_with(|(_, issuer)| issuer.set_mode(JwksMode::Unavailable)).await;

    let before = app.get("/readyz", None).await;
    assert_eq!(before.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(before).await["error"], "temporarily_unavailable");

    let token = app.token("1", "");
    let unverifiable = app.get("/api/me", Some(&token)).await;
    assert_eq!(unverifiable.status(), StatusCode::SERVICE_UNAVAILABLE);

    app.issuer.set_mode(JwksMode::Keys);
    app.wait_until_ready().await;
    let after = app.get("/readyz", None).await;
    assert_eq!(
        json_of(after).await,
        json!({ "status": "ready", "keys": 1 })
    );
    app.stop().await;
}

#[tokio::test]
async fn explicit_jwks_url_skips_discovery() {
    let app = TestApp::spawn_with(|(settings, issuer)| {
        settings.jwks_url = Some(issuer.jwks_url());
    })
    .await;
    app.wait_until_ready().await;

    assert_eq!(app.issuer.discovery_fetches(), 0);
    assert_eq!(app.issuer.jwks_fetches(), 1);
    app.stop().await;
}

#[tokio::test]
async fn me_returns_verified_claims() {
    let app = TestApp::spawn().await;
    let token = app.token("42", "reports:read");

    let response = app.get("/api/me", Some(&token)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let claims = json_of(response).await;
    assert_eq!(claims["sub"], "42");
    assert_eq!(claims["iss"], app.issuer.issuer());
    assert_eq!(claims["scope"], "reports:read");
    app.stop().await;
}

#[tokio::test]
async fn me_without_token_is_challenged() {
    let app = TestApp::spawn().await;

    let response = app.get("/api/me", None).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="api""#
    );
    app.stop().await;
}

#[tokio::test]
async fn invalid_tokens_are_rejected() {
    let app = TestApp::spawn().await;
    let mut expired = access_claims(app.issuer.issuer(), AUDIENCE, "1", "", SystemTime::now());
    expired.exp -= 3_600;
    let other_key = TestKey::generate();
    let cases = [
        (app.key.sign(&expired), "the token has expired"),
        (
            other_key.sign(&access_claims(
                app.issuer.issuer(),
                AUDIENCE,
                "1",
                "",
                SystemTime::now(),
            )),
            "no published key matches the token kid",
        ),
        (
            "not.a.token".to_owned(),
            "the token is malformed: header is not base64url",
        ),
    ];

    for (token, description) in cases {
        let response = app.get("/api/me", Some(&token)).await;

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{description}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        let body = json_of(response).await;
        assert_eq!(body["error"], "invalid_token");
        assert_eq!(body["error_description"], description);
    }
    app.stop().await;
}

#[tokio::test]
async fn reports_need_reports_read() {
    let app = TestApp::spawn().await;
    let reader = app.token("1", "reports:read");
    let other = app.token("2", "profile");

    let denied = app.get("/api/reports", Some(&other)).await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let challenge = denied.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains(r#"scope="reports:read""#), "{challenge}");
    assert_eq!(json_of(denied).await["error"], "insufficient_scope");

    let allowed = app.get("/api/reports", Some(&reader)).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(json_of(allowed).await["subject"], "1");
    app.stop().await;
}

#[tokio::test]
async fn admin_stats_need_admin() {
    let app = TestApp::spawn().await;
    let user = app.token("1", "reports:read");
    let admin = app.token("2", "admin");

    let denied = app.get("/api/admin/stats", Some(&user)).await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);

    let allowed = app.get("/api/admin/stats", Some(&admin)).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    let stats = json_of(allowed).await;
    assert_eq!(stats["items"], 0);
    assert_eq!(stats["jwks"]["ready"], true);
    assert_eq!(stats["jwks"]["keys"], 1);
    app.stop().await;
}

#[tokio::test]
async fn items_belong_to_their_owner() {
    let app = TestApp::spawn().await;
    let alice = app.token("1", "");
    let bob = app.token("2", "");

    let created = app
        .post_json("/api/items", &alice, &json!({ "name": "  groceries " }))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let item = json_of(created).await;
    assert_eq!(item["name"], "groceries");
    let id = item["id"].as_u64().unwrap();
    assert_eq!(location, format!("/api/items/{id}"));

    let listed = json_of(app.get("/api/items", Some(&alice)).await).await;
    assert_eq!(listed["items"], json!([item]));
    assert_eq!(
        app.get(&location, Some(&alice)).await.status(),
        StatusCode::OK
    );

    assert_eq!(
        json_of(app.get("/api/items", Some(&bob)).await).await,
        json!({ "items": [] })
    );
    let foreign = app.get(&location, Some(&bob)).await;
    assert_eq!(foreign.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(foreign).await["error"], "not_found");
    assert_eq!(
        app.delete(&location, &bob).await.status(),
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        app.delete(&location, &alice).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&location, Some(&alice)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&location, &alice).await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn items_need_a_token() {
    let app = TestApp::spawn().await;

    let response = app
        .send(
            app.http
                .post(format!("{}/api/items", app.address))
                .json(&json!({ "name": "x" })),
            None,
        )
        .await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn invalid_item_bodies_are_named() {
    let app = TestApp::spawn().await;
    let token = app.token("1", "");
    let url = format!("{}/api/items", app.address);
    let raw = |body: &'static str, content_type: &'static str| {
        app.http
            .post(&url)
            .header("Content-Type", content_type)
            .body(body)
    };
    let cases = [
        (
            raw(r#"{"name":""}"#, "application/json"),
            400,
            "must not be empty",
        ),
        (raw(r#"{"name":"#, "application/json"), 400, "EOF"),
        (
            raw(r#"{}"#, "application/json"),
            400,
            "missing field `name`",
        ),
        (
            raw(r#"{"name":5}"#, "application/json"),
            400,
            "invalid type",
        ),
        (
            raw(r#"{"name":"a","owner":"2"}"#, "application/json"),
            400,
            "unknown field `owner`",
        ),
        (
            raw(r#"name=a"#, "application/x-www-form-urlencoded"),
            415,
            "must be JSON",
        ),
        (
            raw(r#"["a"]"#, "application/json"),
            400,
            "expected a JSON object",
        ),
    ];

    for (request, status, problem) in cases {
        let response = app.send(request, Some(&token)).await;

        assert_eq!(response.status().as_u16(), status, "{problem}");
        let body = json_of(response).await;
        assert_eq!(body["error"], "invalid_request", "{problem}");
        let text = body.to_string();
        assert!(text.contains(problem), "{problem} not in {text}");
    }

    let too_large = json!({ "name": "x".repeat(20_000) });
    let response = app.post_json("/api/items", &token, &too_large).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::spawn().await;
    let token = app.token("1", "");

    let missing = app.get("/nope", None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(missing).await["error"], "not_found");

    let bad_id = app.get("/api/items/abc", Some(&token)).await;
    assert_eq!(bad_id.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(bad_id).await["error"], "not_found");

    let wrong_method = app
        .send(
            app.http.post(format!("{}/api/me", app.address)),
            Some(&token),
        )
        .await;
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers()["allow"], "GET");
    assert_eq!(json_of(wrong_method).await["error"], "method_not_allowed");
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_verifications_and_fetches() {
    let app = TestApp::spawn().await;
    let token = app.token("1", "");
    app.get("/api/me", Some(&token)).await;
    app.get("/api/me", Some("not.a.token")).await;

    let response = app.get("/metrics", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for line in [
        r#"resource_token_verifications_total{outcome="accepted",reason="ok"} 1"#,
        r#"resource_token_verifications_total{outcome="rejected",reason="malformed"} 1"#,
        "resource_jwks_fetches_total 1",
        "resource_jwks_fetch_failures_total 0",
        "resource_jwks_keys 1",
        "resource_jwks_ready 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
    }
    app.stop().await;
}

#[tokio::test]
async fn stalled_item_body_times_out() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::spawn().await;
    let token = app.token("1", "");
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    let head = format!(
        "POST /api/items HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"na"
    );
    stream.write_all(head.as_bytes()).await.unwrap();

    let mut response = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut response))
        .await
        .expect("the server answers a stalled body before the client gives up")
        .unwrap();
    let text = String::from_utf8_lossy(&response[..read]);

    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    app.stop().await;
}
