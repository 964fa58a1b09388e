//! Signing key rotation end to end: a new key is published before it signs,
//! running resource servers accept it without a restart, and a retired key's
//! tokens stop verifying.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use auth_server::commands::keys as key_commands;
use integration_tests::{
    TestAuthServer, TestAuthServerBuilder, TestResourceServer, unverified_header,
};
use reqwest::StatusCode;
use serde_json::Value;

async fn published_kids(auth: &TestAuthServer) -> Vec<String> {
    let jwks: Value = auth
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid_of(token: &str) -> String {
    unverified_header(token)["kid"].as_str().unwrap().to_owned()
}

async fn wait_for(mut condition: impl AsyncFnMut() -> bool, what: &str) {
    for _ in 0..100 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_publishes_first_then_signs_then_retires() {
    let auth = TestAuthServerBuilder::new()
        .env("AUTH_KEY_RELOAD_SECS", "1")
        .spawn()
        .await;
    let mut resource_settings =
        resource_server::config::Settings::for_issuer(&auth.base_url, "api");
    resource_settings.jwks_min_ttl = Duration::from_secs(1);
    resource_settings.jwks_max_ttl = Duration::from_secs(1);
    resource_settings.jwks_refetch_cooldown = Duration::from_secs(1);
    let resource = TestResourceServer::spawn_with(resource_settings).await;
    resource.wait_until_ready().await;

    let old_tokens = auth.signed_up("rotate@example.com").await;
    let old_kid = kid_of(&old_tokens.access_token);

    // Add a key that signs three seconds from now.
    let settings = auth.settings().clone();
    let new_entry = tokio::task::spawn_blocking(move || {
        key_commands::rotate(&settings, Duration::from_secs(3)).unwrap()
    })
    .await
    .unwrap();
    wait_for(
        async || published_kids(&auth).await.len() == 2,
        "the new key to be published",
    )
    .await;

    let during_overlap = auth
        .login_tokens("rotate@example.com", "correct horse battery")
        .await;
    assert_eq!(
        kid_of(&during_overlap.access_token),
        old_kid,
        "the new key must not sign before its activation"
    );

    // After activation, new tokens carry the new kid and verify at once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let new_tokens = auth
        .login_tokens("rotate@example.com", "correct horse battery")
        .await;
    assert_eq!(kid_of(&new_tokens.access_token), new_entry.kid);
    assert_eq!(
        resource
            .get("/api/me", Some(&new_tokens.access_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        resource
            .get("/api/me", Some(&old_tokens.access_token))
            .await
            .status(),
        StatusCode::OK
    );

    // The signing key cannot be retired; the old one can (forced, because its
    // tokens have not expired yet).
    let settings = auth.settings().clone();
    let (refused, kid) = (new_entry.kid.clone(), old_kid.clone());
    tokio::task::spawn_blocking(move || {
        assert!(key_commands::retire(&settings, &refused, true).is_err());
        let early = key_commands::retire(&settings, &kid, false).unwrap_err();
        assert!(early.to_string().contains("--force"), "{early}");
        key_commands::retire(&settings, &kid, true).unwrap();
    })
    .await
    .unwrap();
    wait_for(
        async || published_kids(&auth).await == vec![new_entry.kid.clone()],
        "the old key to be withdrawn",
    )
    .await;

    wait_for(
        async || {
            resource
                .get("/api/me", Some(&old_tokens.access_token))
                .await
                .status()
                == StatusCode::UNAUTHORIZED
        },
        "the resource server to reject the retired key",
    )
    .await;
    assert_eq!(
        resource
            .get("/api/me", Some(&new_tokens.access_token))
            .await
            .status(),
        StatusCode::OK
    );

    let old_key_file = auth
        .data_dir
        .path()
        .join("keys")
        .join(format!("{old_kid}.pem"));
    assert!(!old_key_file.exists(), "retiring deletes the private key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_list_shows_each_state() {
    let auth = TestAuthServer::spawn().await;
    let settings = auth.settings().clone();

    let lines = tokio::task::spawn_blocking(move || {
        key_commands::rotate(&settings, Duration::from_secs(600)).unwrap();
        key_commands::list(&settings).unwrap()
    })
    .await
    .unwrap();

    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("signing"), "{lines:?}");
    assert!(lines[1].contains("pending"), "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_key_file_signs() {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};

    let directory = tempfile::tempdir().unwrap();
    let key_path = directory.path().join("signing.pem");
    let private_key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    std::fs::write(
        &key_path,
        private_key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();

    let auth = TestAuthServerBuilder::new()
        .env("AUTH_SIGNING_KEY_FILE", key_path.to_str().unwrap())
        .spawn()
        .await;
    let tokens = auth.signed_up("pinned@example.com").await;

    assert_eq!(
        published_kids(&auth).await,
        vec![kid_of(&tokens.access_token)]
    );
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    assert_eq!(
        resource
            .get("/api/me", Some(&tokens.access_token))
            .await
            .status(),
        StatusCode::OK
    );
}
