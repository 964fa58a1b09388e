//! Hostile request bodies and headers: wrong content types, malformed JSON,
//! missing and extra fields, absurd values, SQL-looking and Unicode-trick
//! emails, oversize bodies and headers. Each gets its 4xx as JSON with the
//! security headers, never a 5xx, and no database row changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use integration_tests::{TestAuthServer, TestAuthServerBuilder};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A hostile request, the status it must get and, for a validation error,
/// the field the error must name.
struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    bearer: bool,
    expected: StatusCode,
    field: Option<&'static str>,
}

const JSON: Option<&str> = Some("application/json");

const PASSWORD: &str = "correct horse battery";
/// The password of the user whose password is exactly bcrypt's 72 bytes.
const LONG_PASSWORD: &str =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567";

fn case(
    name: &'static str,
    path: &str,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
    expected: StatusCode,
    field: Option<&'static str>,
) -> Case {
    Case {
        name,
        method: Method::POST,
        path: path.to_owned(),
        content_type,
        body: body.into(),
        bearer: false,
        expected,
        field,
    }
}

fn register(name: &'static str, body: Value, field: &'static str) -> Case {
    case(
        name,
        "/auth/register",
        JSON,
        body.to_string(),
        StatusCode::BAD_REQUEST,
        Some(field),
    )
}

fn login(name: &'static str, email: &str, password: &str, expected: StatusCode) -> Case {
    let field = (expected == StatusCode::BAD_REQUEST).then_some("email");
    case(
        name,
        "/auth/login",
        JSON,
        json!({ "email": email, "password": password }).to_string(),
        expected,
        field,
    )
}

fn with_bearer(method: Method, mut case: Case) -> Case {
    case.method = method;
    case.bearer = true;
    case
}

fn corpus() -> Vec<Case> {
    use StatusCode as S;
    let valid = json!({ "email": "new@example.com", "password": PASSWORD }).to_string();

    let mut cases = vec![
        // Content types.
        case("text/plain body", "/auth/register", Some("text/plain"), valid.clone(), S::UNSUPPORTED_MEDIA_TYPE, None),
        case("no content type", "/auth/register", None, valid.clone(), S::UNSUPPORTED_MEDIA_TYPE, None),
        case("form body", "/auth/register", Some("application/x-www-form-urlencoded"), "email=a%40b.com&password=x", S::UNSUPPORTED_MEDIA_TYPE, None),
        case("multipart body", "/auth/register", Some("multipart/form-data; boundary=x"), valid.clone(), S::UNSUPPORTED_MEDIA_TYPE, None),
        case("application/jsonp", "/auth/register", Some("application/jsonp"), valid.clone(), S::UNSUPPORTED_MEDIA_TYPE, None),
        case("login as text/xml", "/auth/login", Some("text/xml"), valid.clone(), S::UNSUPPORTED_MEDIA_TYPE, None),
        case("refresh as text/plain", "/auth/refresh", Some("text/plain"), r#"{"refresh_token":"x"}"#, S::UNSUPPORTED_MEDIA_TYPE, None),
        case("revoke as JSON", "/oauth/revoke", JSON, r#"{"token":"x"}"#, S::BAD_REQUEST, None),
        // Malformed JSON.
        case("truncated JSON", "/auth/register", JSON, r#"{"email":"#, S::BAD_REQUEST, None),
        case("lone brace", "/auth/register", JSON, "{", S::BAD_REQUEST, None),
        case("array body", "/auth/register", JSON, r#"["new@example.com","correct horse battery"]"#, S::BAD_REQUEST, None),
        case("string body", "/auth/register", JSON, r#""new@example.com""#, S::BAD_REQUEST, None),
        case("null body", "/auth/register", JSON, "null", S::BAD_REQUEST, None),
        case("empty body", "/auth/register", JSON, "", S::BAD_REQUEST, None),
        case("trailing garbage", "/auth/register", JSON, format!("{valid} {{}}"), S::BAD_REQUEST, None),
        case("byte order mark", "/auth/register", JSON, [b"\xef\xbb\xbf".as_slice(), valid.as_bytes()].concat(), S::BAD_REQUEST, None),
        case("invalid UTF-8", "/auth/register", JSON, b"{\"email\":\"\xff\xfe@example.com\",\"password\":\"correct horse battery\"}".to_vec(), S::BAD_REQUEST, None),
        case("lone surrogate", "/auth/register", JSON, r#"{"email":"\ud800@example.com","password":"correct horse battery"}"#, S::BAD_REQUEST, Some("email")),
        case("nesting 5000 deep", "/auth/register", JSON, format!(r#"{{"email":{}{}}}"#, "[".repeat(5000), "]".repeat(5000)), S::BAD_REQUEST, None),
        case("duplicate email key", "/auth/register", JSON, r#"{"email":"a@example.com","email":"b@example.com","password":"correct horse battery"}"#, S::BAD_REQUEST, Some("email")),
        // Missing, extra and mistyped fields.
        register("missing email", json!({ "password": PASSWORD }), "email"),
        register("missing password", json!({ "email": "new@example.com" }), "password"),
        register("extra is_staff", json!({ "email": "new@example.com", "password": PASSWORD, "is_staff": true }), "is_staff"),
        register("extra is_superuser", json!({ "email": "new@example.com", "password": PASSWORD, "is_superuser": true }), "is_superuser"),
        register("extra permissions", json!({ "email": "new@example.com", "password": PASSWORD, "permissions": ["admin"] }), "permissions"),
        register("email as a number", json!({ "email": 5, "password": PASSWORD }), "email"),
        register("password as an object", json!({ "email": "new@example.com", "password": { "$ne": null } }), "password"),
        register("date of birth as a number", json!({ "email": "new@example.com", "password": PASSWORD, "date_of_birth": 19_900_101 }), "date_of_birth"),
        // Absurd values.
        case("first name of 10 MB", "/auth/register", JSON, json!({ "email": "new@example.com", "password": PASSWORD, "first_name": "x".repeat(10 * 1024 * 1024) }).to_string(), S::PAYLOAD_TOO_LARGE, None),
        case("body of 17 KiB", "/auth/register", JSON, json!({ "email": "new@example.com", "password": PASSWORD, "first_name": "x".repeat(17 * 1024) }).to_string(), S::PAYLOAD_TOO_LARGE, None),
        register("first name of 151 characters", json!({ "email": "new@example.com", "password": PASSWORD, "first_name": "x".repeat(151) }), "first_name"),
        register("date of birth in 30000", json!({ "email": "new@example.com", "password": PASSWORD, "date_of_birth": "30000-01-01" }), "date_of_birth"),
        register("date of birth +30000", json!({ "email": "new@example.com", "password": PASSWORD, "date_of_birth": "+30000-01-01" }), "date_of_birth"),
        register("date of birth in 1899", json!({ "email": "new@example.com", "password": PASSWORD, "date_of_birth": "1899-12-31" }), "date_of_birth"),
        register("date of birth month 13", json!({ "email": "new@example.com", "password": PASSWORD, "date_of_birth": "1990-13-45" }), "date_of_birth"),
        register("NUL in first name", json!({ "email": "new@example.com", "password": PASSWORD, "first_name": "Ada\u{0}" }), "first_name"),
        register("escape sequence in last name", json!({ "email": "new@example.com", "password": PASSWORD, "last_name": "\u{1b}[31mred" }), "last_name"),
        register("CRLF in last name", json!({ "email": "new@example.com", "password": PASSWORD, "last_name": "x\r\nSet-Cookie: a=b" }), "last_name"),
        register("CRLF header injection in email", json!({ "email": "new@example.com\r\nBcc: all@example.com", "password": PASSWORD }), "email"),
        register("NUL in email", json!({ "email": "new\u{0}@example.com", "password": PASSWORD }), "email"),
        register("email of 300 bytes", json!({ "email": format!("{}@example.com", "a".repeat(290)), "password": PASSWORD }), "email"),
        register("SQL in phone", json!({ "email": "new@example.com", "password": PASSWORD, "phone": "1; DROP TABLE users" }), "phone"),
        register("password of 73 bytes", json!({ "email": "new@example.com", "password": "x".repeat(73) }), "password"),
        register("password of 37 two-byte characters", json!({ "email": "new@example.com", "password": "é".repeat(37) }), "password"),
        register("NUL in password", json!({ "email": "new@example.com", "password": "correct\u{0}horse" }), "password"),
        register("password of 7 characters", json!({ "email": "new@example.com", "password": "1234567" }), "password"),
        // Logins with SQL-looking and Unicode-trick emails.
        login("SQL comment in email", "victim@example.com'--", PASSWORD, S::UNAUTHORIZED),
        login("SQL tautology in email", "' OR '1'='1", PASSWORD, S::BAD_REQUEST),
        login("SQL-looking valid email", "admin'--@example.com", "' OR '1'='1", S::UNAUTHORIZED),
        login("SQL UNION in local part", "x'union/**/select/**/1--@example.com", PASSWORD, S::UNAUTHORIZED),
        login("LIKE wildcard email", "%@example.com", PASSWORD, S::UNAUTHORIZED),
        case("fullwidth form of a taken email", "/auth/register", JSON, r#"{"email":"ｖｉｃｔｉｍ@ｅｘａｍｐｌｅ.com","password":"correct horse battery"}"#, S::CONFLICT, None),
        login("Cyrillic homoglyph email", "vict\u{456}m@example.com", PASSWORD, S::UNAUTHORIZED),
        login("zero-width space in email", "vic\u{200b}tim@example.com", PASSWORD, S::BAD_REQUEST),
        case("zero-width space in a new email", "/auth/register", JSON, "{\"email\":\"vic\u{200b}tim@example.com\",\"password\":\"correct horse battery\"}", S::BAD_REQUEST, Some("email")),
        case("right-to-left override in a name", "/auth/register", JSON, "{\"email\":\"rtl@example.com\",\"password\":\"correct horse battery\",\"first_name\":\"\u{202e}nimda\"}", S::BAD_REQUEST, Some("first_name")),
        login("password longer than 72 bytes with a valid prefix", "long@example.com", &format!("{LONG_PASSWORD}x"), S::UNAUTHORIZED),
        login("password one byte short", "long@example.com", &LONG_PASSWORD[..71], S::UNAUTHORIZED),
        login("empty password", "victim@example.com", "", S::UNAUTHORIZED),
        case("NoSQL operator as email", "/auth/login", JSON, r#"{"email":{"$ne":null},"password":"x"}"#, S::BAD_REQUEST, Some("email")),
        case("unknown token delivery", "/auth/login", JSON, r#"{"email":"victim@example.com","password":"correct horse battery","token_delivery":"both"}"#, S::BAD_REQUEST, Some("token_delivery")),
        // Refresh tokens.
        case("empty refresh token", "/auth/refresh", JSON, r#"{"refresh_token":""}"#, S::UNAUTHORIZED, None),
        case("SQL refresh token", "/auth/refresh", JSON, r#"{"refresh_token":"' OR 1=1 --"}"#, S::UNAUTHORIZED, None),
        case("refresh token of 10000 bytes", "/auth/refresh", JSON, json!({ "refresh_token": "A".repeat(10_000) }).to_string(), S::UNAUTHORIZED, None),
        case("refresh token as a number", "/auth/refresh", JSON, r#"{"refresh_token":1}"#, S::BAD_REQUEST, Some("refresh_token")),
        case("refresh with an extra field", "/auth/refresh", JSON, r#"{"refresh_token":"x","user_id":1}"#, S::BAD_REQUEST, Some("user_id")),
        case("refresh body of 17 KiB", "/auth/refresh", JSON, json!({ "refresh_token": "A".repeat(17 * 1024) }).to_string(), S::PAYLOAD_TOO_LARGE, None),
        case("revoke without a token", "/oauth/revoke", Some("application/x-www-form-urlencoded"), "token_type_hint=refresh_token", S::BAD_REQUEST, None),
    ];

    // Authenticated requests by an ordinary user.
    cases.extend([
        with_bearer(Method::PATCH, case("profile sets is_staff", "/auth/me", JSON, r#"{"is_staff":true}"#, S::BAD_REQUEST, Some("is_staff"))),
        with_bearer(Method::PATCH, case("profile takes another user's email", "/auth/me", JSON, r#"{"email":"ROOT@example.com","current_password":"correct horse battery"}"#, S::CONFLICT, None)),
        with_bearer(Method::PATCH, case("profile email change without password", "/auth/me", JSON, r#"{"email":"new@example.com"}"#, S::BAD_REQUEST, Some("current_password"))),
        with_bearer(Method::PATCH, case("profile date of birth in 30000", "/auth/me", JSON, r#"{"date_of_birth":"30000-01-01"}"#, S::BAD_REQUEST, Some("date_of_birth"))),
        with_bearer(Method::PATCH, case("profile name with a bell", "/auth/me", JSON, r#"{"first_name":"\u0007"}"#, S::BAD_REQUEST, Some("first_name"))),
        with_bearer(Method::POST, case("password change with a wrong current password", "/auth/me/password", JSON, r#"{"current_password":"wrong horse battery","new_password":"another horse battery"}"#, S::BAD_REQUEST, Some("current_password"))),
        with_bearer(Method::POST, case("password change to 73 bytes", "/auth/me/password", JSON, json!({ "current_password": PASSWORD, "new_password": "x".repeat(73) }).to_string(), S::BAD_REQUEST, Some("new_password"))),
        with_bearer(Method::PATCH, case("user promotes themselves", "/admin/users/1", JSON, r#"{"is_staff":true}"#, S::FORBIDDEN, None)),
        with_bearer(Method::DELETE, case("user deletes the admin", "/admin/users/1", None, "", S::FORBIDDEN, None)),
        with_bearer(Method::GET, case("user lists users with a huge page", "/admin/users?per_page=99999999999999999999", None, "", S::BAD_REQUEST, None)),
        with_bearer(Method::DELETE, case("SQL in a session id", "/auth/sessions/'%20OR%201=1%20--", None, "", S::NOT_FOUND, None)),
    ]);
    cases
}

/// The columns of a user that a request could change.
type UserRow = (i64, String, String, String, String, bool, bool, bool);

/// Reads every row the auth server stores into comparable text.
async fn snapshot(server: &TestAuthServer) -> String {
    use auth_server::db::schema::{refresh_tokens, sessions, user_permissions, users};
    use diesel::prelude::*;

    server
        .with_db(|conn| {
            let users: Vec<UserRow> =
                users::table
                    .select((
                        users::id,
                        users::email,
                        users::password_hash,
                        users::first_name,
                        users::last_name,
                        users::is_active,
                        users::is_staff,
                        users::is_superuser,
                    ))
                    .order(users::id)
                    .load(conn)?;
            let profiles: Vec<(Option<chrono::NaiveDate>, Option<String>)> = users::table
                .select((users::date_of_birth, users::phone))
                .order(users::id)
                .load(conn)?;
            let last_logins: Vec<Option<chrono::NaiveDateTime>> = users::table
                .select(users::last_login)
                .order(users::id)
                .load(conn)?;
            let permissions: Vec<(i64, String)> = user_permissions::table
                .order((user_permissions::user_id, user_permissions::permission))
                .load(conn)?;
            let sessions: Vec<(String, chrono::NaiveDateTime, Option<chrono::NaiveDateTime>)> =
                sessions::table
                    .select((sessions::id, sessions::last_used_at, sessions::revoked_at))
                    .order(sessions::id)
                    .load(conn)?;
            let tokens: Vec<(i64, Option<chrono::NaiveDateTime>, Option<chrono::NaiveDateTime>)> =
                refresh_tokens::table
                    .select((
                        refresh_tokens::id,
                        refresh_tokens::used_at,
                        refresh_tokens::revoked_at,
                    ))
                    .order(refresh_tokens::id)
                    .load(conn)?;
            Ok(format!(
                "{users:?}\n{profiles:?}\n{last_logins:?}\n{permissions:?}\n{sessions:?}\n{tokens:?}"
            ))
        })
        .await
}

/// Checks the headers every response of the auth server carries.
fn security_header_problems(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    let expected = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("cache-control", "no-store"),
    ];
    expected
        .iter()
        .filter(|(name, value)| {
            headers.get(*name).and_then(|found| found.to_str().ok()) != Some(*value)
        })
        .map(|(name, value)| format!("{name} is not {value:?}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_4xx_and_change_nothing() {
    let server = TestAuthServer::spawn().await;
    server.admin_tokens("root@example.com").await;
    server
        .register_user("long@example.com", LONG_PASSWORD)
        .await;
    let victim = server.signed_up("victim@example.com").await;
    let cases = corpus();
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());

    let before = snapshot(&server).await;
    let mut failures = Vec::new();
    for case in &cases {
        let mut request = server
            .client
            .request(case.method.clone(), server.url(&case.path))
            .body(case.body.clone());
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        if case.bearer {
            request = request.bearer_auth(&victim.access_token);
        }
        let response = match request.send().await {
            Ok(response) => response,
            // The server returns 413 as soon as the body passes the limit and
            // closes the connection, so the client may fail while still
            // sending a huge body. Nothing was stored either way.
            Err(error)
                if case.expected == StatusCode::PAYLOAD_TOO_LARGE
                    && case.body.len() > 1024 * 1024
                    && error.is_request() =>
            {
                continue;
            }
            Err(error) => {
                failures.push(format!("{}: request failed: {error}", case.name));
                continue;
            }
        };

        let status = response.status();
        let header_problems = security_header_problems(response.headers());
        let text = response.text().await.unwrap();
        let excerpt: String = text.chars().take(300).collect();
        if status != case.expected {
            failures.push(format!(
                "{}: expected {}, got {status}: {excerpt}",
                case.name, case.expected
            ));
        }
        for problem in header_problems {
            failures.push(format!("{}: {problem}", case.name));
        }
        let Ok(body) = serde_json::from_str::<Value>(&text) else {
            failures.push(format!("{}: body is not JSON: {excerpt}", case.name));
            continue;
        };
        if let Some(field) = case.field {
            let in_fields = body["fields"].get(field).is_some();
            let in_description = body["error_description"]
                .as_str()
                .is_some_and(|text| text.contains(field));
            if !in_fields && !in_description {
                failures.push(format!(
                    "{}: error does not name {field}: {excerpt}",
                    case.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} requests failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        snapshot(&server).await,
        before,
        "a hostile request changed rows"
    );

    // The setup was sound: the users can still log in.
    let long = server.login("long@example.com", LONG_PASSWORD).await;
    assert_eq!(long.status(), StatusCode::OK);
    let victim = server.login("  VICTIM@Example.COM ", PASSWORD).await;
    assert_eq!(
        victim.status(),
        StatusCode::OK,
        "emails are trimmed and case-insensitive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_unicode_forms_match() {
    let server = TestAuthServer::spawn().await;
    let composed = "caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e";
    let decomposed = "cafe\u{301} cre\u{300}me bru\u{302}le\u{301}e";

    server.register_user("unicode@example.com", composed).await;

    let response = server.login("unicode@example.com", decomposed).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "NFD login of an NFC password"
    );
    server
        .register_user("unicode2@example.com", decomposed)
        .await;
    let response = server.login("unicode2@example.com", composed).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "NFC login of an NFD password"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_listed_origins() {
    let server = TestAuthServerBuilder::new()
        .env("AUTH_ALLOWED_ORIGINS", "https://app.example.com")
        .spawn()
        .await;

    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("https://evil.example.com", false),
        ("https://app.example.com.evil.example", false),
        ("null", false),
    ] {
        let preflight = server
            .client
            .request(Method::OPTIONS, server.url("/auth/refresh"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        let allow_origin = preflight
            .headers()
            .get("access-control-allow-origin")
            .map(|value| value.to_str().unwrap().to_owned());
        assert!(
            preflight.status().as_u16() < 500,
            "{origin}: preflight status {}",
            preflight.status()
        );
        assert_eq!(
            allow_origin.as_deref(),
            allowed.then_some(origin),
            "{origin}: preflight Access-Control-Allow-Origin"
        );
        if !allowed {
            assert_eq!(preflight.status(), StatusCode::BAD_REQUEST, "{origin}");
            let body: Value = preflight.json().await.unwrap();
            assert_eq!(body["error"], "invalid_request", "{origin}: {body}");
            let description = body["error_description"].as_str().unwrap_or_default();
            assert!(description.contains("Origin"), "{origin}: {body}");
        }

        let response = server
            .client
            .get(server.url("/healthz"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        let allow_origin = response
            .headers()
            .get("access-control-allow-origin")
            .map(|value| value.to_str().unwrap().to_owned());
        assert_eq!(
            allow_origin.as_deref(),
            allowed.then_some(origin),
            "{origin}: GET Access-Control-Allow-Origin"
        );
        assert!(
            security_header_problems(response.headers()).is_empty(),
            "{origin}: {:?}",
            security_header_problems(response.headers())
        );
    }
}

/// Sends raw bytes and returns the status code of the response, or `None`
/// when the server closes the connection without one. Writing stops early
/// if the server stops reading.
async fn raw_exchange(
    server: &TestAuthServer,
    head: &[u8],
    body_chunks: Vec<Vec<u8>>,
) -> Option<u16> {
    let stream = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = head.to_vec();
    let writing = tokio::spawn(async move {
        writer.write_all(&head).await?;
        for chunk in body_chunks {
            writer.write_all(&chunk).await?;
        }
        writer.flush().await
    });

    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buffer = [0u8; 8192];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(count) => {
                    response.extend_from_slice(&buffer[..count]);
                    if response.windows(4).any(|window| window == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server neither answered nor closed within 20 s"
    );
    writing.abort();

    let text = String::from_utf8_lossy(&response);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

fn chunked(body: &[u8], chunk_size: usize) -> Vec<Vec<u8>> {
    let mut chunks: Vec<Vec<u8>> = body
        .chunks(chunk_size)
        .map(|chunk| {
            [
                format!("{:x}\r\n", chunk.len()).into_bytes(),
                chunk.to_vec(),
                b"\r\n".to_vec(),
            ]
            .concat()
        })
        .collect();
    chunks.push(b"0\r\n\r\n".to_vec());
    chunks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_odd_http_rejected() {
    let server = TestAuthServer::spawn().await;
    let valid = json!({ "email": "raw@example.com", "password": PASSWORD }).to_string();
    let huge = json!({ "email": "raw@example.com", "password": PASSWORD, "first_name": "x".repeat(10 * 1024 * 1024) }).to_string();

    // actix-http 3 rejects a request head over 128 KiB or with more than 96
    // headers with 431 before any handler runs.
    // NOTE: actix-web offers no setting for a smaller head limit, so a single
    // header may be up to about 128 KiB; bearer tokens over 8 KiB are still
    // rejected by the verifier before parsing.
    let header_of_140_kib = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(140 * 1024)
    );
    let status = raw_exchange(&server, header_of_140_kib.as_bytes(), Vec::new()).await;
    assert_eq!(status, Some(431), "a 140 KiB header");

    let many_headers: String = (0..500)
        .map(|index| format!("X-Header-{index}: {index}\r\n"))
        .collect();
    let request = format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{many_headers}\r\n");
    let status = raw_exchange(&server, request.as_bytes(), Vec::new()).await;
    assert_eq!(status, Some(431), "500 headers");

    let request = format!(
        "POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        huge.len()
    );
    let status = raw_exchange(&server, request.as_bytes(), vec![huge.clone().into_bytes()]).await;
    assert_eq!(status, Some(413), "10 MB body with Content-Length");

    let request = b"POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let status = raw_exchange(&server, request, chunked(huge.as_bytes(), 64 * 1024)).await;
    assert_eq!(status, Some(413), "10 MB chunked body");

    let status = raw_exchange(&server, request, chunked(valid.as_bytes(), 7)).await;
    assert_eq!(status, Some(201), "a small chunked body is read whole");

    // Without Content-Length or chunking, HTTP/1.1 gives a request no body.
    let request = format!(
        "POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{valid}"
    );
    let status = raw_exchange(&server, request.as_bytes(), Vec::new()).await;
    assert_eq!(
        status,
        Some(400),
        "a body without Content-Length is not read"
    );

    let request = format!(
        "POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: {}\r\n\r\n{valid}",
        valid.len()
    );
    let status = raw_exchange(&server, request.as_bytes(), Vec::new()).await;
    assert!(
        status.is_none_or(|code| (400..500).contains(&code)),
        "two Content-Length headers got {status:?}"
    );

    let request =
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Injected: a\rSet-Cookie: b\r\n\r\n";
    let status = raw_exchange(&server, request, Vec::new()).await;
    assert!(
        status.is_none_or(|code| (400..500).contains(&code)),
        "a bare CR in a header got {status:?}"
    );

    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Nul: a\0b\r\n\r\n";
    let status = raw_exchange(&server, request, Vec::new()).await;
    assert!(
        status.is_none_or(|code| (400..500).contains(&code)),
        "a NUL in a header got {status:?}"
    );

    // After all of the above the server still serves.
    let health = server.get("/healthz", None).await;
    assert_eq!(health.status(), StatusCode::OK);
}
