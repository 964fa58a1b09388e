//! The actix-web extractors and scope guards: status codes, JSON bodies and
//! RFC 6750 `WWW-Authenticate` challenges.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use auth_shared::jwks::{JwksClient, JwksConfig};
use auth_shared::scope::RequiredScope;
use auth_shared::testing::{FakeIssuer, JwksMode, TestKey, access_claims};
use auth_shared::{
    AdminUser, AuthError, AuthenticatedUser, Authenticator, RequireScope, Verifier, VerifierConfig,
};
use serde_json::Value;

const AUDIENCE: &str = "api";

struct ReportsRead;

impl RequiredScope for ReportsRead {
    const SCOPE: &'static str = "reports:read";
}

async fn me(user: AuthenticatedUser) -> HttpResponse {
    HttpResponse::Ok().json(user.claims())
}

async fn reports(user: RequireScope<ReportsRead>) -> HttpResponse {
    HttpResponse::Ok().body(user.subject().to_owned())
}

async fn admin(_user: AdminUser) -> HttpResponse {
    HttpResponse::Ok().finish()
}

async fn admin_by_helper(user: AuthenticatedUser) -> Result<HttpResponse, AuthError> {
    user.require_admin()?;
    Ok(HttpResponse::Ok().finish())
}

async fn both_extractors(_user: AuthenticatedUser, _admin: AdminUser) -> HttpResponse {
    HttpResponse::Ok().finish()
}

struct Harness {
    key: TestKey,
    issuer: FakeIssuer,
    authenticator: web::Data<Authenticator>,
    verifications: Arc<AtomicUsize>,
}

impl Harness {
    async fn start() -> Harness {
        let key = TestKey::generate();
        let issuer = FakeIssuer::start(key.jwks()).await;
        let jwks = JwksClient::start(JwksConfig::from_url(issuer.jwks_url())).unwrap();
        tokio::time::timeout(Duration::from_secs(5), jwks.wait_until_ready())
            .await
            .unwrap();
        Harness::with_jwks(key, issuer, jwks)
    }

    fn with_jwks(key: TestKey, issuer: FakeIssuer, jwks: JwksClient) -> Harness {
        let verifications = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&verifications);
        let authenticator = Authenticator::new(
            Verifier::new(VerifierConfig::new(issuer.issuer(), AUDIENCE)),
            jwks,
        )
        .with_realm("reports \"api\"\r\n")
        .with_observer(Arc::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        }));

        Harness {
            key,
            issuer,
            authenticator: web::Data::new(authenticator),
            verifications,
        }
    }

    fn token(&self, scope: &str) -> String {
        self.key.sign(&access_claims(
            self.issuer.issuer(),
            AUDIENCE,
            "7",
            scope,
            SystemTime::now(),
        ))
    }

    async fn get(&self, path: &str, authorization: &[&str]) -> ServiceResponse {
        let app = test::init_service(
            App::new()
                .app_data(self.authenticator.clone())
                .route("/me", web::get().to(me))
                .route("/reports", web::get().to(reports))
                .route("/admin", web::get().to(admin))
                .route("/admin-by-helper", web::get().to(admin_by_helper))
                .route("/both", web::get().to(both_extractors)),
        )
        .await;
        let mut request = test::TestRequest::get().uri(path);
        for value in authorization {
            request = request.append_header(("Authorization", *value));
        }
        app.call(request.to_request()).await.unwrap()
    }
}

fn challenge(response: &ServiceResponse) -> String {
    response
        .headers()
        .get("WWW-Authenticate")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn json_body(response: ServiceResponse) -> Value {
    serde_json::from_slice(&test::read_body(response).await).unwrap()
}

#[actix_web::test]
async fn valid_token_yields_claims() {
    let harness = Harness::start().await;
    let token = harness.token("");

    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = harness.get("/me", &[&format!("{scheme} {token}")]).await;

        assert_eq!(response.status(), StatusCode::OK, "scheme {scheme}");
        assert_eq!(json_body(response).await["sub"], "7");
    }
}

#[actix_web::test]
async fn missing_credentials_get_bare_challenge() {
    let harness = Harness::start().await;

    for authorization in [&[][..], &["Basic dXNlcjpwYXNz"][..]] {
        let response = harness.get("/me", authorization).await;

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(challenge(&response), r#"Bearer realm="reports api""#);
        let body = json_body(response).await;
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(
            body["error_description"],
            "a bearer access token is required"
        );
    }
}

#[actix_web::test]
async fn malformed_authorization_is_invalid_request() {
    let harness = Harness::start().await;
    let token = harness.token("");
    let two_headers = [format!("Bearer {token}"), format!("Bearer {token}")];
    let cases: [(&[&str], &str); 4] = [
        (&["Bearer"], "no token"),
        (&["Bearer   "], "blank token"),
        (&["Bearer a b"], "token with a space"),
        (&[&two_headers[0], &two_headers[1]], "two headers"),
    ];

    for (authorization, case) in cases {
        let response = harness.get("/me", authorization).await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{case}");
        assert!(
            challenge(&response).contains(r#"error="invalid_request""#),
            "{case}"
        );
        assert_eq!(
            json_body(response).await["error"],
            "invalid_request",
            "{case}"
        );
    }
}

#[actix_web::test]
async fn invalid_token_is_rejected_with_reason() {
    let harness = Harness::start().await;
    let mut expired = access_claims(
        harness.issuer.issuer(),
        AUDIENCE,
        "7",
        "",
        SystemTime::now(),
    );
    expired.exp -= 3_600;
    let expired = harness.key.sign(&expired);

    let response = harness.get("/me", &[&format!("Bearer {expired}")]).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&response),
        r#"Bearer realm="reports api", error="invalid_token", error_description="the token has expired""#
    );
    let body = json_body(response).await;
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["error_description"], "the token has expired");
}

#[actix_web::test]
async fn attacker_text_never_reaches_the_response() {
    let harness = Harness::start().await;
    let probes = [
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJldmlsIn0.",
        "Bearer x\"injected=1",
        "Bearer evil,error=\"none\"",
    ];

    for probe in probes {
        let response = harness.get("/me", &[probe]).await;
        let header = challenge(&response);
        let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();

        assert!(
            !header.contains("injected") && !header.contains("evil"),
            "{header}"
        );
        assert!(
            !body.contains("injected") && !body.contains("evil"),
            "{body}"
        );
    }
}

#[actix_web::test]
async fn scope_guard_requires_scope() {
    let harness = Harness::start().await;
    let without = format!("Bearer {}", harness.token("profile"));
    let with = format!("Bearer {}", harness.token("profile reports:read"));

    let denied = harness.get("/reports", &[&without]).await;

    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let header = challenge(&denied);
    assert!(header.contains(r#"error="insufficient_scope""#), "{header}");
    assert!(header.contains(r#"scope="reports:read""#), "{header}");
    let body = json_body(denied).await;
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(
        body["error_description"],
        "the token lacks the reports:read scope"
    );

    let allowed = harness.get("/reports", &[&with]).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(test::read_body(allowed).await, "7");
}

#[actix_web::test]
async fn scope_guard_without_token_is_unauthorized() {
    let harness = Harness::start().await;

    let response = harness.get("/reports", &[]).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn admin_requires_admin_scope() {
    let harness = Harness::start().await;
    let user = format!("Bearer {}", harness.token("reports:read"));
    let staff = format!("Bearer {}", harness.token("admin"));

    for path in ["/admin", "/admin-by-helper"] {
        let denied = harness.get(path, &[&user]).await;
        assert_eq!(denied.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(challenge(&denied).contains(r#"scope="admin""#), "{path}");

        let allowed = harness.get(path, &[&staff]).await;
        assert_eq!(allowed.status(), StatusCode::OK, "{path}");
    }
}

#[actix_web::test]
async fn token_is_verified_once_per_request() {
    let harness = Harness::start().await;
    let staff = format!("Bearer {}", harness.token("admin"));

    let response = harness.get("/both", &[&staff]).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(harness.verifications.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn keys_not_loaded_is_service_unavailable() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    issuer.set_mode(JwksMode::Unavailable);
    let jwks = JwksClient::start(JwksConfig::from_url(issuer.jwks_url())).unwrap();
    let harness = Harness::with_jwks(key, issuer, jwks);
    let token = format!("Bearer {}", harness.token(""));

    let response = harness.get("/me", &[&token]).await;

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers().get("Retry-After").unwrap(), "5");
    assert_eq!(
        json_body(response).await["error"],
        "temporarily_unavailable"
    );
}

#[actix_web::test]
async fn missing_authenticator_is_server_error() {
    let app = test::init_service(App::new().route("/me", web::get().to(me))).await;

    let response = app
        .call(test::TestRequest::get().uri("/me").to_request())
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json_body(response).await["error"], "server_error");
}
