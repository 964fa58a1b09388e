//! Fuzz targets: functions that take arbitrary bytes and must return, never
//! panic, whatever the bytes are.
//!
//! The same functions run in three ways: `tests/corpus.rs` replays every
//! file under `corpus/<target>/`, `tests/mutation.rs` mutates that corpus
//! with a seeded random generator for a bounded time, and the cargo-fuzz
//! crate in `libfuzzer/` hands them to libFuzzer on a nightly toolchain.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_server::json;
use auth_server::routes::bodies;
use auth_shared::jwk::JwkSet;
use auth_shared::keyset::KeySet;
use auth_shared::testing::TestKey;
use auth_shared::verifier::{Verifier, VerifierConfig};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde_json::Value;

/// The `kid` under which the fixture key is published to the verifier.
pub const FIXTURE_KID: &str = "fuzz-key";
/// The issuer the fixture verifier accepts.
pub const FIXTURE_ISSUER: &str = "https://issuer.example";
/// The audience the fixture verifier requires.
pub const FIXTURE_AUDIENCE: &str = "api";
/// The time at which tokens are checked: 2025-01-01T00:00:00Z.
pub const FIXTURE_NOW_SECS: u64 = 1_735_689_600;

/// A named fuzz target.
#[derive(Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every fuzz target, named as its corpus directory.
pub const TARGETS: [Target; 4] = [
    Target {
        name: "token",
        run: token,
    },
    Target {
        name: "signed_token",
        run: signed_token,
    },
    Target {
        name: "jwks",
        run: jwks,
    },
    Target {
        name: "json_body",
        run: json_body,
    },
];

struct Fixture {
    key: TestKey,
    keys: KeySet,
    verifier: Verifier,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = TestKey::generate();
        let mut jwk = key.jwk();
        jwk.kid = Some(FIXTURE_KID.to_owned());
        let keys = KeySet::from_jwks(&JwkSet { keys: vec![jwk] });
        let verifier = Verifier::new(VerifierConfig::new(FIXTURE_ISSUER, FIXTURE_AUDIENCE));
        Fixture {
            key,
            keys,
            verifier,
        }
    })
}

fn fixture_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(FIXTURE_NOW_SECS)
}

/// Verifies the bytes as a compact token against the fixture key. Bytes that
/// are not UTF-8 are decoded lossily, as an HTTP header never reaches the
/// verifier in another form.
pub fn token(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let fixture = fixture();
    let result = fixture.verifier.verify(&text, &fixture.keys, fixture_now());

    // The error text goes into WWW-Authenticate, so it must never echo the
    // token. Fixed messages are shorter than 80 bytes, so only a longer
    // token is checked, which no fixed message can contain by chance.
    if let Err(error) = result {
        let message = error.to_string();
        assert!(
            text.len() <= 80 || !message.contains(text.as_ref()),
            "the error message echoes the token"
        );
    }
}

/// Signs the bytes before the first newline as a token header and the rest
/// as its payload with the fixture key, then verifies the token. Because the
/// signature is always valid, the header and claim checks see any input.
pub fn signed_token(data: &[u8]) {
    let (header, payload) = match data.iter().position(|byte| *byte == b'\n') {
        Some(newline) => (&data[..newline], &data[newline + 1..]),
        None => (data, &[][..]),
    };
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = fixture().key.sign_bytes(signing_input.as_bytes());
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));

    let fixture = fixture();
    if let Ok(claims) = fixture
        .verifier
        .verify(&token, &fixture.keys, fixture_now())
    {
        // Whatever passed must satisfy the rules the verifier promises.
        assert_eq!(claims.iss, FIXTURE_ISSUER, "accepted a foreign issuer");
        assert!(
            claims.aud.contains(FIXTURE_AUDIENCE),
            "accepted a foreign audience"
        );
        let now = i64::try_from(FIXTURE_NOW_SECS).unwrap_or(i64::MAX);
        assert!(
            claims.exp > now - 30,
            "accepted a token that expired beyond the leeway"
        );
    }
}

/// Parses the bytes as a JWKS, builds the key set from it, and verifies a
/// fixed token against that set.
pub fn jwks(data: &[u8]) {
    let Ok(set) = serde_json::from_slice::<JwkSet>(data) else {
        return;
    };
    let keys = KeySet::from_jwks(&set);
    for kid in keys.kids() {
        assert!(keys.contains(kid), "a listed kid is missing from the set");
    }

    let fixture = fixture();
    let token = fixture.key.sign_json(
        &fixture.key.header(),
        &serde_json::json!({ "iss": FIXTURE_ISSUER }),
    );
    let _ = fixture.verifier.verify(&token, &keys, fixture_now());
}

/// Parses the bytes as each JSON request body of the auth server, and runs
/// the field validators on every string member of a JSON object.
pub fn json_body(data: &[u8]) {
    let _ = json::parse::<bodies::RegisterRequest>(data).map_err(|error| error.to_string());
    let _ = json::parse::<bodies::LoginRequest>(data).map_err(|error| error.to_string());
    let _ = json::parse::<bodies::RefreshRequest>(data).map_err(|error| error.to_string());
    let _ = json::parse::<bodies::UpdateProfileRequest>(data).map_err(|error| error.to_string());
    let _ = json::parse::<bodies::ChangePasswordRequest>(data).map_err(|error| error.to_string());
    let _ = json::parse::<bodies::UpdateUserRequest>(data).map_err(|error| error.to_string());

    let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    for text in members.values().filter_map(Value::as_str) {
        let _ = auth_server::validation::normalize_email(text);
        let _ = auth_server::validation::normalize_name(text);
        let _ = auth_server::validation::normalize_phone(text);
        let _ = auth_server::validation::check_permission_name(text);
        let _ = bodies::parse_date_of_birth(text, today);
        let _ = auth_server::password::check_policy(&SecretString::from(text.to_owned()));
    }
}
