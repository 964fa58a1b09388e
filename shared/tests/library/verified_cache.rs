//! The authenticator's cache of verified tokens never accepts what a full
//! verification would reject: expiry is checked on every hit, and a token
//! whose key left the JWKS is rejected at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use auth_shared::clock::ManualClock;
use auth_shared::jwk::JwkSet;
use auth_shared::jwks::{JwksClient, JwksConfig};
use auth_shared::testing::{FakeIssuer, TestKey, access_claims};
use auth_shared::{Authenticator, Verifier, VerifierConfig, VerifyError};

const AUDIENCE: &str = "api";

async fn authenticator(
    issuer: &FakeIssuer,
    clock: Arc<ManualClock>,
    min_ttl: Duration,
) -> Authenticator {
    let mut config = JwksConfig::from_url(issuer.jwks_url());
    config.min_ttl = min_ttl;
    config.max_ttl = min_ttl;
    config.refetch_cooldown = Duration::from_secs(1);
    let jwks = JwksClient::start(config).unwrap();
    tokio::time::timeout(Duration::from_secs(5), jwks.wait_until_ready())
        .await
        .unwrap();

    Authenticator::new(
        Verifier::new(VerifierConfig::new(issuer.issuer(), AUDIENCE)),
        jwks,
    )
    .with_clock(clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_token_still_expires() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    let now = SystemTime::now();
    let clock = Arc::new(ManualClock::new(now));
    let authenticator = authenticator(&issuer, clock.clone(), Duration::from_secs(30)).await;
    let token = key.sign(&access_claims(issuer.issuer(), AUDIENCE, "7", "", now));

    assert!(authenticator.authenticate(&token).await.is_ok());
    assert!(
        authenticator.authenticate(&token).await.is_ok(),
        "a repeat is served from the cache"
    );

    clock.advance(Duration::from_secs(900 + 31));
    assert_eq!(
        authenticator.authenticate(&token).await,
        Err(VerifyError::Expired)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_token_fails_once_key_is_withdrawn() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let authenticator = authenticator(&issuer, clock, Duration::from_secs(1)).await;
    let token = key.sign(&access_claims(
        issuer.issuer(),
        AUDIENCE,
        "7",
        "",
        SystemTime::now(),
    ));
    assert!(authenticator.authenticate(&token).await.is_ok());

    let replacement = TestKey::generate();
    issuer.set_keys(JwkSet {
        keys: vec![replacement.jwk()],
    });

    let mut rejected = false;
    for _ in 0..50 {
        if authenticator.authenticate(&token).await == Err(VerifyError::UnknownKid) {
            rejected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        rejected,
        "the cached token must fail once its key is no longer published"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_copy_misses_the_cache() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let authenticator = authenticator(&issuer, clock, Duration::from_secs(30)).await;
    let token = key.sign(&access_claims(
        issuer.issuer(),
        AUDIENCE,
        "7",
        "",
        SystemTime::now(),
    ));
    assert!(authenticator.authenticate(&token).await.is_ok());

    // Change one character in the middle of the signature, where every bit
    // of the base64url character is significant.
    let middle = token.len() - 100;
    let replacement = if &token[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let tampered = format!("{}{replacement}{}", &token[..middle], &token[middle + 1..]);

    assert!(authenticator.authenticate(&tampered).await.is_err());
}
