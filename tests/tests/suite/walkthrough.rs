//! The main path: register, log in, use the access token, refresh, restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::{TestAuthServer, unverified_claims, unverified_header};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_profile_refresh() {
    let server = TestAuthServer::spawn().await;

    let user = server
        .register_user("Alice@Example.com", "correct horse battery")
        .await;
    assert_eq!(user["email"], "alice@example.com");
    assert!(user["id"].as_i64().is_some());
    assert!(user.get("password_hash").is_none());
    assert!(user.get("password").is_none());

    let tokens = server
        .login_tokens("ALICE@example.com", "correct horse battery")
        .await;
    assert_eq!(tokens.body["token_type"], "Bearer");
    assert_eq!(tokens.body["expires_in"], 900);
    assert!(tokens.body["refresh_expires_in"].as_i64().unwrap() > 1_000_000);
    assert_eq!(
        tokens.refresh_token.len(),
        43,
        "256 random bits in base64url"
    );

    let me = server.get("/auth/me", Some(&tokens.access_token)).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], user["id"]);

    let refreshed = server.refresh_tokens(&tokens.refresh_token).await;
    assert_ne!(refreshed.refresh_token, tokens.refresh_token);
    assert_ne!(refreshed.access_token, tokens.access_token);
    let me_again = server.get("/auth/me", Some(&refreshed.access_token)).await;
    assert_eq!(me_again.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_token_has_required_header_and_claims() {
    let server = TestAuthServer::spawn().await;
    let tokens = server.signed_up("claims@example.com").await;

    let header = unverified_header(&tokens.access_token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "at+jwt");
    assert!(header["kid"].as_str().is_some_and(|kid| kid.len() == 43));

    let claims = unverified_claims(&tokens.access_token);
    assert_eq!(claims["iss"], server.base_url);
    assert_eq!(claims["aud"], "api");
    assert_eq!(claims["email"], "claims@example.com");
    assert!(claims["sub"].as_str().unwrap().parse::<i64>().is_ok());
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 900);
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat);
    assert!(claims["jti"].as_str().is_some_and(|jti| !jti.is_empty()));
    assert_eq!(claims["scope"], "");
}

/// A client that knows nothing of this product: it reads the discovery
/// document, fetches the JWKS it names, and verifies with jsonwebtoken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_party_library_verifies_access_token() {
    let server = TestAuthServer::spawn().await;
    let tokens = server.signed_up("thirdparty@example.com").await;

    let discovery: Value = server
        .get("/.well-known/openid-configuration", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], server.base_url);
    let jwks_uri = discovery["jwks_uri"].as_str().unwrap();

    let jwks_response = server.client.get(jwks_uri).send().await.unwrap();
    let cache_control = jwks_response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cache_control.contains("max-age="), "{cache_control}");
    let jwks: JwkSet = jwks_response.json().await.unwrap();

    let kid = unverified_header(&tokens.access_token)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let jwk = jwks.find(&kid).expect("the token's kid is published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[discovery["issuer"].as_str().unwrap()]);
    validation.set_audience(&["api"]);

    let verified = jsonwebtoken::decode::<Value>(&tokens.access_token, &key, &validation).unwrap();
    assert_eq!(verified.claims["email"], "thirdparty@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_tokens_valid() {
    let server = TestAuthServer::spawn().await;
    let tokens = server.signed_up("restart@example.com").await;
    let jwks_before: Value = server
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();

    let server = server.restart().await;

    let jwks_after: Value = server
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks_before, jwks_after,
        "the same key is loaded, not a new one"
    );
    let me = server.get("/auth/me", Some(&tokens.access_token)).await;
    assert_eq!(me.status(), StatusCode::OK);
    let refreshed = server.refresh(&tokens.refresh_token).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_key_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let server = TestAuthServer::spawn().await;
    let keys_dir = server.data_dir.path().join("keys");
    let pem_files: Vec<_> = std::fs::read_dir(&keys_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "pem"))
        .collect();

    assert_eq!(pem_files.len(), 1);
    let mode = std::fs::metadata(&pem_files[0])
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(&keys_dir).unwrap().permissions().mode();
    assert_eq!(
        dir_mode & 0o077,
        0,
        "the keys dir is closed to group and others"
    );

    if !server.database.is_postgres() {
        let database_mode = std::fs::metadata(&server.database.url)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            database_mode & 0o777,
            0o600,
            "the SQLite file holds password hashes"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_update_keeps_identity_and_sessions() {
    let server = TestAuthServer::spawn().await;
    let tokens = server.signed_up("before@example.com").await;
    let sub = unverified_claims(&tokens.access_token)["sub"].clone();

    let response = server
        .client
        .patch(server.url("/auth/me"))
        .bearer_auth(&tokens.access_token)
        .json(&json!({
            "email": "After@Example.com",
            "current_password": "correct horse battery",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "date_of_birth": "1990-12-10",
            "phone": "+44 20 7946 0958"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let profile: Value = response.json().await.unwrap();
    assert_eq!(profile["email"], "after@example.com");
    assert_eq!(profile["first_name"], "Ada");
    assert_eq!(profile["date_of_birth"], "1990-12-10");
    assert_eq!(profile["phone"], "+44 20 7946 0958");
    assert_eq!(profile["id"].to_string(), sub.as_str().unwrap());

    let refreshed = server.refresh_tokens(&tokens.refresh_token).await;
    let claims = unverified_claims(&refreshed.access_token);
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["email"], "after@example.com");

    let old_login = server
        .login("before@example.com", "correct horse battery")
        .await;
    assert_eq!(old_login.status(), StatusCode::UNAUTHORIZED);
    let new_login = server
        .login("after@example.com", "correct horse battery")
        .await;
    assert_eq!(new_login.status(), StatusCode::OK);

    let cleared = server
        .client
        .patch(server.url("/auth/me"))
        .bearer_auth(&refreshed.access_token)
        .json(&json!({ "phone": null }))
        .send()
        .await
        .unwrap();
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!(cleared["phone"], Value::Null);
    assert_eq!(cleared["date_of_birth"], "1990-12-10");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_email_change_to_taken_email_conflicts() {
    let server = TestAuthServer::spawn().await;
    server
        .register_user("taken@example.com", "correct horse battery")
        .await;
    let tokens = server.signed_up("mover@example.com").await;

    let response = server
        .client
        .patch(server.url("/auth/me"))
        .bearer_auth(&tokens.access_token)
        .json(&json!({ "email": "TAKEN@example.com", "current_password": "correct horse battery", "first_name": "Changed" }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::CONFLICT);
    let me: Value = server
        .get("/auth/me", Some(&tokens.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "mover@example.com");
    assert_eq!(me["first_name"], "", "a failed update changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_change_needs_current_password() {
    let server = TestAuthServer::spawn().await;
    let tokens = server.signed_up("owner@example.com").await;
    let patch = |body: Value| {
        server
            .client
            .patch(server.url("/auth/me"))
            .bearer_auth(&tokens.access_token)
            .json(&body)
            .send()
    };

    let without = patch(json!({ "email": "thief@example.com" }))
        .await
        .unwrap();
    assert_eq!(without.status(), StatusCode::BAD_REQUEST);
    let body: Value = without.json().await.unwrap();
    assert!(body["fields"]["current_password"].is_string(), "{body}");

    let wrong =
        patch(json!({ "email": "thief@example.com", "current_password": "not the password" }))
            .await
            .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);

    let same_email = patch(json!({ "email": "OWNER@example.com", "first_name": "Own" }))
        .await
        .unwrap();
    assert_eq!(
        same_email.status(),
        StatusCode::OK,
        "re-sending the current email needs no password"
    );

    let me: Value = server
        .get("/auth/me", Some(&tokens.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "owner@example.com");
    assert_eq!(
        server
            .login("owner@example.com", "correct horse battery")
            .await
            .status(),
        StatusCode::OK
    );
}
