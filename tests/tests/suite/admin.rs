//! The admin HTTP API and the admin commands, on the configured backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth_server::commands::users as user_commands;
use integration_tests::TestAuthServer;
use integration_tests::auth::Tokens;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn patch_user(
    server: &TestAuthServer,
    admin: &Tokens,
    id: &Value,
    body: Value,
) -> reqwest::Response {
    server
        .client
        .patch(server.url(&format!("/admin/users/{id}")))
        .bearer_auth(&admin.access_token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn delete_user(server: &TestAuthServer, admin: &Tokens, id: &Value) -> reqwest::Response {
    server
        .client
        .delete(server.url(&format!("/admin/users/{id}")))
        .bearer_auth(&admin.access_token)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_admin_gets_403_on_every_admin_route() {
    let server = TestAuthServer::spawn().await;
    let user = server.signed_up("plain@example.com").await;
    let id = json!(1);

    let responses = [
        server.get("/admin/users", Some(&user.access_token)).await,
        patch_user(&server, &user, &id, json!({"is_active": false})).await,
        delete_user(&server, &user, &id).await,
    ];

    for response in responses {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains(r#"error="insufficient_scope""#),
            "{challenge}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "insufficient_scope");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_lists_users_paged_and_filtered() {
    let server = TestAuthServer::spawn().await;
    let admin = server.admin_tokens("root@example.com").await;
    for index in 0..5 {
        server
            .register_user(
                &format!("member{index}@example.com"),
                "correct horse battery",
            )
            .await;
    }
    server
        .register_user("other@elsewhere.org", "correct horse battery")
        .await;

    let page: Value = server
        .get("/admin/users?page=2&per_page=2", Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 7);
    assert_eq!(page["users"].as_array().unwrap().len(), 2);
    assert_eq!(page["users"][0]["email"], "member1@example.com");
    assert!(page["users"][0].get("password_hash").is_none());

    let filtered: Value = server
        .get("/admin/users?email=ELSEWHERE", Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["total"], 1);
    assert_eq!(filtered["users"][0]["email"], "other@elsewhere.org");

    let wildcard: Value = server
        .get("/admin/users?email=%25", Some(&admin.access_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        wildcard["total"], 0,
        "a % in the filter is a literal character"
    );

    for query in [
        "page=0",
        "per_page=0",
        "per_page=1000",
        "page=abc",
        "unknown=1",
    ] {
        let response = server
            .get(&format!("/admin/users?{query}"), Some(&admin.access_token))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_permissions_reach_the_scope_claim() {
    let server = TestAuthServer::spawn().await;
    let admin = server.admin_tokens("root@example.com").await;
    let user = server.signed_up("reader@example.com").await;
    let id = json!(
        integration_tests::unverified_claims(&user.access_token)["sub"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    );

    let response = patch_user(
        &server,
        &admin,
        &id,
        json!({"permissions": ["reports:read", "items.write", "reports:read"]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["permissions"], json!(["items.write", "reports:read"]));

    let refreshed = server.refresh_tokens(&user.refresh_token).await;
    assert_eq!(refreshed.body["scope"], "items.write reports:read");
    assert_eq!(
        integration_tests::unverified_claims(&refreshed.access_token)["scope"],
        "items.write reports:read"
    );
    assert_eq!(
        integration_tests::unverified_claims(&admin.access_token)["scope"],
        "admin"
    );

    for bad in [
        json!({"permissions": ["admin"]}),
        json!({"permissions": ["Has Space"]}),
        json!({"is_active": "no"}),
    ] {
        let response = patch_user(&server, &admin, &id, bad.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_ends_sessions_at_once() {
    let server = TestAuthServer::spawn().await;
    let admin = server.admin_tokens("root@example.com").await;
    let user = server.signed_up("leaver@example.com").await;
    let id = json!(
        integration_tests::unverified_claims(&user.access_token)["sub"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    );

    let response = patch_user(&server, &admin, &id, json!({"is_active": false})).await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_eq!(
        server.refresh(&user.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .login("leaver@example.com", "correct horse battery")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .get("/auth/me", Some(&user.access_token))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let response = patch_user(&server, &admin, &id, json!({"is_active": true})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        server
            .login("leaver@example.com", "correct horse battery")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_user_loses_sessions_and_404s() {
    let server = TestAuthServer::spawn().await;
    let admin = server.admin_tokens("root@example.com").await;
    let user = server.signed_up("gone@example.com").await;
    let id = json!(
        integration_tests::unverified_claims(&user.access_token)["sub"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    );

    assert_eq!(
        delete_user(&server, &admin, &id).await.status(),
        StatusCode::NO_CONTENT
    );

    assert_eq!(
        server.refresh(&user.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        delete_user(&server, &admin, &id).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        patch_user(&server, &admin, &id, json!({"is_staff": true}))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let bad_id = delete_user(&server, &admin, &json!("abc")).await;
    assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);
    let body: Value = bad_id.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_cannot_lock_themselves_out() {
    let server = TestAuthServer::spawn().await;
    let admin = server.admin_tokens("root@example.com").await;
    let own_id = json!(
        integration_tests::unverified_claims(&admin.access_token)["sub"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    );

    assert_eq!(
        patch_user(&server, &admin, &own_id, json!({"is_active": false}))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        patch_user(&server, &admin, &own_id, json!({"is_staff": false}))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        delete_user(&server, &admin, &own_id).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demoted_admin_token_stops_working() {
    let server = TestAuthServer::spawn().await;
    let admin = server.admin_tokens("root@example.com").await;
    let second = server.admin_tokens("second@example.com").await;
    let second_id = integration_tests::unverified_claims(&second.access_token)["sub"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();

    let response = patch_user(
        &server,
        &admin,
        &json!(second_id),
        json!({"is_staff": false, "is_superuser": false}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);

    let with_old_token = server.get("/admin/users", Some(&second.access_token)).await;
    assert_eq!(
        with_old_token.status(),
        StatusCode::FORBIDDEN,
        "the scope in the old token is not enough"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_change_users() {
    let server = TestAuthServer::spawn().await;
    let settings = server.settings().clone();
    server.signed_up("cli@example.com").await;

    let result = tokio::task::spawn_blocking(move || {
        user_commands::set_permission(&settings, "CLI@example.com", "reports:read", true).unwrap();
        user_commands::set_active(&settings, "cli@example.com", false).unwrap();
        let missing =
            user_commands::set_active(&settings, "nobody@example.com", false).unwrap_err();
        let bad_permission =
            user_commands::set_permission(&settings, "cli@example.com", "Bad Name", true)
                .unwrap_err();
        let duplicate = user_commands::create_superuser(
            &settings,
            "cli@example.com",
            secrecy::SecretString::from("correct horse battery".to_owned()),
        )
        .unwrap_err();
        let weak = user_commands::create_superuser(
            &settings,
            "new@example.com",
            secrecy::SecretString::from("short".to_owned()),
        )
        .unwrap_err();
        (
            missing.to_string(),
            bad_permission.to_string(),
            duplicate.to_string(),
            weak.to_string(),
        )
    })
    .await
    .unwrap();

    assert!(
        result
            .0
            .contains("no user has the email nobody@example.com"),
        "{}",
        result.0
    );
    assert!(result.1.contains("not a permission name"), "{}", result.1);
    assert!(result.2.contains("already exists"), "{}", result.2);
    assert!(result.3.contains("password"), "{}", result.3);
    assert_eq!(
        server
            .login("cli@example.com", "correct horse battery")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let settings = server.settings().clone();
    tokio::task::spawn_blocking(move || {
        user_commands::set_active(&settings, "cli@example.com", true).unwrap();
        assert!(
            user_commands::set_permission(&settings, "cli@example.com", "reports:read", false)
                .unwrap()
        );
        assert!(
            !user_commands::set_permission(&settings, "cli@example.com", "reports:read", false)
                .unwrap()
        );
    })
    .await
    .unwrap();
    let tokens = server
        .login_tokens("cli@example.com", "correct horse battery")
        .await;
    assert_eq!(tokens.body["scope"], "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superuser_password_is_normalized() {
    let server = TestAuthServer::spawn().await;
    let settings = server.settings().clone();
    let decomposed = "cafe\u{301}-cafe\u{301}-root";
    let composed = "caf\u{e9}-caf\u{e9}-root";

    tokio::task::spawn_blocking(move || {
        user_commands::create_superuser(
            &settings,
            "nfd-root@example.com",
            secrecy::SecretString::from(decomposed.to_owned()),
        )
        .unwrap();
    })
    .await
    .unwrap();

    let same_form = server.login("nfd-root@example.com", decomposed).await;
    assert_eq!(
        same_form.status(),
        StatusCode::OK,
        "the form typed at creation"
    );
    let other_form = server.login("nfd-root@example.com", composed).await;
    assert_eq!(other_form.status(), StatusCode::OK, "the composed form");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivated_admin_gets_401() {
    let server = TestAuthServer::spawn().await;
    let root = server.admin_tokens("root@example.com").await;
    let other = server.admin_tokens("other-admin@example.com").await;
    let other_id = json!(
        integration_tests::unverified_claims(&other.access_token)["sub"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    );

    let response = patch_user(&server, &root, &other_id, json!({"is_active": false})).await;
    assert_eq!(response.status(), StatusCode::OK);

    let listing = server.get("/admin/users", Some(&other.access_token)).await;
    assert_eq!(listing.status(), StatusCode::UNAUTHORIZED);
    let challenge = listing.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("invalid_token"), "{challenge}");
}
