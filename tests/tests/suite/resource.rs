//! The resource server verifies the auth server's access tokens with nothing
//! but the published keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integration_tests::{
    TestAuthServer, TestAuthServerBuilder, TestResourceServer, unverified_claims,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn tamper_payload(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("admin");
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    format!("{}.{}.{}", parts[0], payload, parts[2])
}

async fn assert_rejected(resource: &TestResourceServer, token: Option<&str>, case: &str) {
    let response = resource.get("/api/me", token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "{case}: {challenge}");
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string(), "{case}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_server_accepts_login_token() {
    let auth = TestAuthServer::spawn().await;
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    let tokens = auth.signed_up("reader@example.com").await;

    let response = resource.get("/api/me", Some(&tokens.access_token)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let claims: Value = response.json().await.unwrap();
    assert_eq!(claims["email"], "reader@example.com");
    assert_eq!(
        claims["sub"],
        unverified_claims(&tokens.access_token)["sub"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_server_rejects_bad_tokens() {
    let auth = TestAuthServer::spawn().await;
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    let tokens = auth.signed_up("victim@example.com").await;

    assert_rejected(&resource, None, "missing").await;
    assert_rejected(&resource, Some("garbage"), "malformed").await;
    assert_rejected(
        &resource,
        Some(&tamper_payload(&tokens.access_token)),
        "tampered payload",
    )
    .await;

    // Another auth server with its own key, pretending to be the same issuer.
    let impostor = TestAuthServerBuilder::new()
        .env("AUTH_ISSUER", &auth.base_url)
        .spawn()
        .await;
    let forged = impostor.signed_up("victim@example.com").await;
    assert_rejected(
        &resource,
        Some(&forged.access_token),
        "signed by an unknown key",
    )
    .await;

    // The real key, but tokens for another audience or long expired.
    let other_audience = TestAuthServerBuilder::new()
        .sharing_with(&auth)
        .env("AUTH_ISSUER", &auth.base_url)
        .env("AUTH_AUDIENCE", "billing")
        .spawn()
        .await;
    let wrong_audience = other_audience
        .login_tokens("victim@example.com", "correct horse battery")
        .await;
    assert_rejected(
        &resource,
        Some(&wrong_audience.access_token),
        "wrong audience",
    )
    .await;

    auth.clock().advance(-3600);
    let expired = auth
        .login_tokens("victim@example.com", "correct horse battery")
        .await;
    auth.clock().advance(3600);
    assert_rejected(&resource, Some(&expired.access_token), "expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_auth_server_does_not_stop_verification() {
    let auth = TestAuthServer::spawn().await;
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    let tokens = auth.signed_up("offline@example.com").await;

    auth.stop().await;

    for _ in 0..3 {
        let response = resource.get("/api/me", Some(&tokens.access_token)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(resource.get("/readyz", None).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kid_flood_causes_bounded_jwks_fetches() {
    let auth = TestAuthServer::spawn().await;
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    let jwks_before = auth.state().metrics.jwks_request_count();
    let started = Instant::now();

    let mut requests = tokio::task::JoinSet::new();
    for index in 0..1000u32 {
        let client = resource.client.clone();
        let url = format!("{}/api/me", resource.base_url);
        requests.spawn(async move {
            let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("random-{index}-{}", rand::random::<u64>())});
            let token = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(r#"{"sub":"1"}"#),
                URL_SAFE_NO_PAD.encode([7u8; 256])
            );
            client.get(url).bearer_auth(token).send().await.map(|response| response.status())
        });
        if requests.len() >= 50 {
            let status = requests.join_next().await.unwrap().unwrap().unwrap();
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap().unwrap(), StatusCode::UNAUTHORIZED);
    }

    // The default refetch cooldown is ten seconds: one fetch for the first
    // unknown kid, then at most one more per elapsed cooldown.
    let fetches = auth.state().metrics.jwks_request_count() - jwks_before;
    let allowed = 1 + started.elapsed().as_secs() / 10;
    assert!(
        fetches <= allowed,
        "{fetches} JWKS fetches for 1000 random kids in {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_and_admin_routes_follow_scope() {
    let auth = TestAuthServer::spawn().await;
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    let admin = auth.admin_tokens("root@example.com").await;
    let user = auth.signed_up("analyst@example.com").await;

    let forbidden = resource.get("/api/reports", Some(&user.access_token)).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let challenge = forbidden.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert_eq!(
        resource
            .get("/api/admin/stats", Some(&user.access_token))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    let user_id = unverified_claims(&user.access_token)["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let granted = auth
        .client
        .patch(auth.url(&format!("/admin/users/{user_id}")))
        .bearer_auth(&admin.access_token)
        .json(&json!({"permissions": ["reports:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    let refreshed = auth.refresh_tokens(&user.refresh_token).await;

    assert_eq!(
        resource
            .get("/api/reports", Some(&refreshed.access_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        resource
            .get("/api/admin/stats", Some(&admin.access_token))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_are_private_to_their_owner() {
    let auth = TestAuthServer::spawn().await;
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    let alice = auth.signed_up("alice@example.com").await;
    let bob = auth.signed_up("bob@example.com").await;

    let created = resource
        .client
        .post(format!("{}/api/items", resource.base_url))
        .bearer_auth(&alice.access_token)
        .json(&json!({"name": "alice's notes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let item: Value = created.json().await.unwrap();
    let path = format!("/api/items/{}", item["id"]);

    assert_eq!(
        resource
            .get(&path, Some(&alice.access_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        resource.get(&path, Some(&bob.access_token)).await.status(),
        StatusCode::NOT_FOUND
    );
    let bob_list: Value = resource
        .get("/api/items", Some(&bob.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !bob_list.to_string().contains("alice's notes"),
        "{bob_list}"
    );
    let bob_delete = resource
        .client
        .delete(format!("{}{path}", resource.base_url))
        .bearer_auth(&bob.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(bob_delete.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        resource
            .get(&path, Some(&alice.access_token))
            .await
            .status(),
        StatusCode::OK
    );
    let _ = Duration::ZERO;
}
