//! Hostile access tokens: forged algorithms, tampered headers and payloads,
//! wrong keys, bad claims signed with the real key, oversized, truncated and
//! Unicode-laced tokens, and malformed `Authorization` headers. Each one gets
//! its 4xx from the resource server and from the auth server's own protected
//! routes, never a 5xx, and no database row changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth_server::keys::SigningKey;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use integration_tests::{TestAuthServer, TestResourceServer, unverified_claims, unverified_header};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use serde_json::{Value, json};

/// A hostile `Authorization` header value and the status it must get.
struct Case {
    name: String,
    header: Vec<u8>,
    expected: StatusCode,
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn sign(key: &SigningKey, header: &Value, payload: &Value) -> String {
    let input = format!("{}.{}", encode(header), encode(payload));
    let signature = key.sign_rs256(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn hs256(secret: &[u8], header: &Value, payload: &Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret).unwrap();
    let input = format!("{}.{}", encode(header), encode(payload));
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).unwrap();
    format!("{input}.{signature}")
}

/// `changes` merged into `base`; a `null` value removes the member.
fn merged(base: &Value, changes: Value) -> Value {
    let mut merged = base.clone();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            merged.as_object_mut().unwrap().remove(name);
        } else {
            merged[name] = value.clone();
        }
    }
    merged
}

/// Builds the corpus from a genuine token, the server's signing key and a
/// key the server never published.
fn corpus(genuine: &str, real_key: &SigningKey, attacker: &SigningKey, now: i64) -> Vec<Case> {
    let header = unverified_header(genuine);
    let claims = unverified_claims(genuine);
    let [encoded_header, encoded_claims, signature] = genuine.split('.').collect::<Vec<_>>()[..]
    else {
        panic!("a JWT has three parts")
    };
    let real_jwk = serde_json::to_value(real_key.jwk()).unwrap();

    let mut tokens: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, token: String| tokens.push((name.to_owned(), token));

    // Forged algorithms.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let forged = encode(&merged(&header, json!({ "alg": alg })));
        add(
            &format!("alg {alg} without signature"),
            format!("{forged}.{encoded_claims}."),
        );
    }
    let none_header = encode(&merged(&header, json!({ "alg": "none" })));
    add(
        "alg none with the genuine signature",
        format!("{none_header}.{encoded_claims}.{signature}"),
    );
    for alg in ["RS384", "RS512", "PS256", "ES256", "rs256", "RS256 "] {
        let relabelled = encode(&merged(&header, json!({ "alg": alg })));
        add(
            &format!("alg relabelled {alg:?}"),
            format!("{relabelled}.{encoded_claims}.{signature}"),
        );
    }
    let hs_header = merged(&header, json!({ "alg": "HS256" }));
    add(
        "HS256 keyed with the public modulus",
        hs256(
            real_key.jwk().n.as_deref().unwrap().as_bytes(),
            &hs_header,
            &claims,
        ),
    );
    add(
        "HS256 keyed with the published JWK",
        hs256(real_jwk.to_string().as_bytes(), &hs_header, &claims),
    );
    add(
        "HS256 keyed with a guessable secret",
        hs256(b"secret", &hs_header, &claims),
    );

    // Tampered payloads and headers under the genuine signature.
    for (name, change) in [
        ("sub changed to 1", json!({ "sub": "1" })),
        ("scope raised to admin", json!({ "scope": "admin" })),
        ("exp moved a year on", json!({ "exp": now + 365 * 86_400 })),
        ("email changed", json!({ "email": "root@example.com" })),
    ] {
        let tampered = encode(&merged(&claims, change));
        add(
            &format!("payload tampered: {name}"),
            format!("{encoded_header}.{tampered}.{signature}"),
        );
    }
    let reordered = encode(&json!({ "typ": header["typ"], "kid": header["kid"], "alg": "RS256" }));
    add(
        "header re-encoded with reordered members",
        format!("{reordered}.{encoded_claims}.{signature}"),
    );
    let padded_payload = STANDARD.encode(claims.to_string());
    add(
        "payload in standard base64 with padding",
        format!("{encoded_header}.{padded_payload}.{signature}"),
    );

    // Wrong keys: signed by a key the server never published.
    let attacker_jwk = serde_json::to_value(attacker.jwk()).unwrap();
    add(
        "attacker key with its own kid",
        sign(
            attacker,
            &merged(&header, json!({ "kid": attacker.kid() })),
            &claims,
        ),
    );
    add(
        "attacker key with the genuine kid",
        sign(attacker, &header, &claims),
    );
    add(
        "attacker key embedded as a jwk header",
        sign(
            attacker,
            &merged(&header, json!({ "jwk": attacker_jwk })),
            &claims,
        ),
    );
    add(
        "attacker key fetched through jku",
        sign(
            attacker,
            &merged(
                &header,
                json!({ "jku": "http://127.0.0.1:9/jwks.json", "kid": attacker.kid() }),
            ),
            &claims,
        ),
    );
    add(
        "attacker key through x5u and x5c",
        sign(
            attacker,
            &merged(
                &header,
                json!({ "x5u": "http://127.0.0.1:9/cert.pem", "x5c": ["AAAA"] }),
            ),
            &claims,
        ),
    );
    for (name, kid) in [
        ("path traversal", "../../../../etc/passwd"),
        ("SQL", "' OR '1'='1"),
        ("CRLF", "k\r\nX-Injected: 1"),
        ("NUL byte", "k\u{0}"),
        (
            "homoglyph of the genuine kid",
            &header["kid"].as_str().unwrap().replacen('a', "\u{430}", 1),
        ),
    ] {
        add(
            &format!("kid {name}"),
            sign(attacker, &merged(&header, json!({ "kid": kid })), &claims),
        );
    }
    add(
        "kid of 5000 characters",
        sign(
            attacker,
            &merged(&header, json!({ "kid": "k".repeat(5000) })),
            &claims,
        ),
    );

    // Bad claims and headers signed with the real key.
    for (name, change) in [
        (
            "expired an hour ago",
            json!({ "exp": now - 3600, "iat": now - 7200, "nbf": now - 7200 }),
        ),
        ("not valid for an hour", json!({ "nbf": now + 3600 })),
        ("issued in the future", json!({ "iat": now + 3600 })),
        ("wrong issuer", json!({ "iss": "http://127.0.0.1:1" })),
        (
            "issuer with a trailing slash",
            json!({ "iss": format!("{}/", claims["iss"].as_str().unwrap()) }),
        ),
        ("wrong audience", json!({ "aud": "another-api" })),
        ("audience list without ours", json!({ "aud": ["a", "b"] })),
        ("no exp", json!({ "exp": null })),
        ("exp as a string", json!({ "exp": (now + 600).to_string() })),
        ("exp beyond i64", json!({ "exp": 1e300 })),
        ("no iss", json!({ "iss": null })),
        ("no sub", json!({ "sub": null })),
    ] {
        add(
            &format!("real key, {name}"),
            sign(real_key, &header, &merged(&claims, change)),
        );
    }
    for (name, change) in [
        ("typ JWT", json!({ "typ": "JWT" })),
        ("no typ", json!({ "typ": null })),
        ("crit extension", json!({ "crit": ["exp"] })),
        ("no kid", json!({ "kid": null })),
    ] {
        add(
            &format!("real key, header {name}"),
            sign(real_key, &merged(&header, change), &claims),
        );
    }
    add(
        "real key, payload is a JSON array",
        sign(real_key, &header, &json!([claims])),
    );

    // Structure: truncated, extended and oversized.
    add(
        "signature removed",
        format!("{encoded_header}.{encoded_claims}."),
    );
    add("two segments", format!("{encoded_header}.{encoded_claims}"));
    add(
        "signature truncated",
        genuine[..genuine.len() - 10].to_owned(),
    );
    add("fourth segment", format!("{genuine}.{signature}"));
    add("only dots", "..".to_owned());
    add(
        "header of garbage",
        format!("xyz.{encoded_claims}.{signature}"),
    );
    add(
        "token of 9000 bytes",
        format!("{genuine}{}", "A".repeat(9000)),
    );
    add(
        "duplicate alg in the header",
        format!(
            "{}.{encoded_claims}.{signature}",
            URL_SAFE_NO_PAD.encode(format!(
                r#"{{"alg":"RS256","alg":"none","typ":"at+jwt","kid":{}}}"#,
                header["kid"]
            ))
        ),
    );

    let mut cases: Vec<Case> = tokens
        .into_iter()
        .map(|(name, token)| Case {
            name,
            header: format!("Bearer {token}").into_bytes(),
            expected: StatusCode::UNAUTHORIZED,
        })
        .collect();

    // Authorization headers that are malformed before any token check.
    let malformed: [(&str, Vec<u8>); 8] = [
        ("empty bearer", b"Bearer ".to_vec()),
        (
            "token with a space",
            format!("Bearer {encoded_header} {encoded_claims}").into_bytes(),
        ),
        (
            "token with a quote",
            format!("Bearer \"{genuine}\"").into_bytes(),
        ),
        (
            "token with fullwidth dots",
            format!("Bearer {encoded_header}\u{ff0e}{encoded_claims}\u{ff0e}{signature}")
                .into_bytes(),
        ),
        (
            "token with a zero-width space",
            format!("Bearer {encoded_header}\u{200b}.{encoded_claims}.{signature}").into_bytes(),
        ),
        (
            "token with a right-to-left override",
            format!("Bearer \u{202e}{genuine}").into_bytes(),
        ),
        (
            "token with a comma list",
            format!("Bearer {genuine},{genuine}").into_bytes(),
        ),
        (
            "token in Latin-1 bytes",
            [b"Bearer ".as_slice(), &[0xe9, 0xff], genuine.as_bytes()].concat(),
        ),
    ];
    for (name, header) in malformed {
        cases.push(Case {
            name: name.to_owned(),
            header,
            expected: StatusCode::BAD_REQUEST,
        });
    }
    for (name, header) in [
        ("Basic credentials", "Basic YWRtaW46YWRtaW4=".to_owned()),
        ("token without a scheme", genuine.to_owned()),
        ("Digest scheme", format!("Digest {genuine}")),
    ] {
        cases.push(Case {
            name: name.to_owned(),
            header: header.into_bytes(),
            expected: StatusCode::UNAUTHORIZED,
        });
    }
    cases
}

/// Generates a 2048-bit RSA key that no server publishes.
fn attacker_key() -> SigningKey {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};

    let private_key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let pem = private_key.to_pkcs8_pem(LineEnding::LF).unwrap();
    SigningKey::from_pem(&pem, std::path::Path::new("attacker.pem")).unwrap()
}

/// Reads every row the auth server stores into comparable text.
async fn snapshot(server: &TestAuthServer) -> String {
    use auth_server::db::schema::{refresh_tokens, sessions, user_permissions, users};
    use diesel::prelude::*;

    server
        .with_db(|conn| {
            let users: Vec<(i64, String, String, String, bool, bool, bool)> = users::table
                .select((
                    users::id,
                    users::email,
                    users::password_hash,
                    users::first_name,
                    users::is_active,
                    users::is_staff,
                    users::is_superuser,
                ))
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
            let tokens: Vec<(
                i64,
                Option<chrono::NaiveDateTime>,
                Option<chrono::NaiveDateTime>,
            )> = refresh_tokens::table
                .select((
                    refresh_tokens::id,
                    refresh_tokens::used_at,
                    refresh_tokens::revoked_at,
                ))
                .order(refresh_tokens::id)
                .load(conn)?;
            Ok(format!(
                "{users:?}\n{last_logins:?}\n{permissions:?}\n{sessions:?}\n{tokens:?}"
            ))
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tokens_get_4xx_and_change_nothing() {
    let auth = TestAuthServer::spawn().await;
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    let user = auth.signed_up("victim@example.com").await;
    let admin = auth.admin_tokens("root@example.com").await;
    let user_id = unverified_claims(&user.access_token)["sub"]
        .as_str()
        .unwrap()
        .to_owned();

    let real_key = auth.state().keys.signing_key().unwrap();
    let attacker = attacker_key();
    let now = chrono::Utc::now().timestamp();
    let cases = corpus(&user.access_token, &real_key, &attacker, now);
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());

    let before = snapshot(&auth).await;
    let targets = [
        (reqwest::Method::GET, resource.base_url.clone() + "/api/me"),
        (
            reqwest::Method::GET,
            resource.base_url.clone() + "/api/admin/stats",
        ),
        (reqwest::Method::GET, auth.url("/auth/me")),
        (reqwest::Method::PATCH, auth.url("/auth/me")),
        (reqwest::Method::POST, auth.url("/auth/logout-all")),
        (reqwest::Method::GET, auth.url("/auth/sessions")),
        (
            reqwest::Method::DELETE,
            auth.url(&format!("/admin/users/{user_id}")),
        ),
    ];
    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    for case in &cases {
        let value = HeaderValue::from_bytes(&case.header)
            .unwrap_or_else(|error| panic!("{}: not a header value: {error}", case.name));
        for (method, url) in &targets {
            let response = client
                .request(method.clone(), url)
                .header(AUTHORIZATION, value.clone())
                .json(&json!({ "first_name": "Mallory" }))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let challenge = response.headers().get(WWW_AUTHENTICATE).cloned();
            let body = response.text().await.unwrap();
            if status != case.expected {
                failures.push(format!(
                    "{} on {method} {url}: expected {}, got {status}: {body}",
                    case.name, case.expected
                ));
            }
            if status == StatusCode::UNAUTHORIZED && challenge.is_none() {
                failures.push(format!(
                    "{} on {method} {url}: 401 without WWW-Authenticate",
                    case.name
                ));
            }
            if body.contains("MalformedHeader") {
                failures.push(format!(
                    "{} on {method} {url}: body shows a Rust type name: {body}",
                    case.name
                ));
            }
            if serde_json::from_str::<Value>(&body).is_err() {
                failures.push(format!(
                    "{} on {method} {url}: body is not JSON: {body}",
                    case.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} requests failed:\n{}",
        failures.len(),
        cases.len() * targets.len(),
        failures.join("\n")
    );
    assert_eq!(
        snapshot(&auth).await,
        before,
        "a hostile token changed rows"
    );

    // The genuine tokens still work, so the rejections above were not
    // caused by a broken setup.
    let genuine = resource.get("/api/me", Some(&user.access_token)).await;
    assert_eq!(genuine.status(), StatusCode::OK);
    let admin_list = auth.get("/admin/users", Some(&admin.access_token)).await;
    assert_eq!(admin_list.status(), StatusCode::OK);
}
