//! The JWKS client against a real HTTP server on 127.0.0.1: discovery, cache
//! lifetime, refetch on unknown `kid`, and behaviour while the server fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use auth_shared::clock::ManualClock;
use auth_shared::jwk::{Jwk, JwkSet};
use auth_shared::jwks::{JwksClient, JwksConfig, JwksError};
use auth_shared::testing::{FakeIssuer, JwksMode, TestKey, access_claims, encode_json, eventually};
use auth_shared::{Authenticator, Verifier, VerifierConfig, VerifyError};
use serde_json::json;

const AUDIENCE: &str = "api";

fn fast_retry(mut config: JwksConfig) -> JwksConfig {
    config.retry_initial = Duration::from_millis(50);
    config.retry_max = Duration::from_millis(200);
    config
}

async fn ready_client(config: JwksConfig, clock: Arc<ManualClock>) -> JwksClient {
    let client = JwksClient::start_with_clock(config, clock).unwrap();
    tokio::time::timeout(Duration::from_secs(5), client.wait_until_ready())
        .await
        .expect("keys load within 5 s");
    client
}

/// Builds a token whose header names `kid`. The signature is not valid for
/// any key, which does not matter while the `kid` is unknown.
fn token_with_kid(key: &TestKey, issuer: &str, kid: &str) -> String {
    let header = json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid });
    let claims = access_claims(issuer, AUDIENCE, "1", "", SystemTime::now());
    let signed = key.sign(&claims);
    let (_, rest) = signed.split_once('.').unwrap();
    format!("{}.{rest}", encode_json(&header))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_finds_the_jwks() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));

    let client = ready_client(JwksConfig::from_issuer(issuer.issuer()), clock).await;

    assert!(client.is_ready());
    assert!(client.keys().contains(key.kid()));
    assert_eq!(issuer.discovery_fetches(), 1);
    assert_eq!(issuer.jwks_fetches(), 1);
    assert_eq!(client.fetch_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_with_another_issuer_is_rejected() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    issuer.set_advertised_issuer("http://127.0.0.1:9/elsewhere");
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client =
        JwksClient::start_with_clock(fast_retry(JwksConfig::from_issuer(issuer.issuer())), clock)
            .unwrap();

    let error = client.refresh().await.unwrap_err();

    assert!(
        matches!(error, JwksError::IssuerMismatch { .. }),
        "{error:?}"
    );
    assert!(!client.is_ready());
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_control_sets_the_cache_lifetime() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    issuer.set_cache_control("public, max-age=120");
    let clock = Arc::new(ManualClock::new(SystemTime::now()));

    let client = ready_client(JwksConfig::from_url(issuer.jwks_url()), clock).await;

    assert_eq!(client.stats().ttl, Some(Duration::from_secs(120)));

    issuer.set_cache_control("max-age=86400");
    client.refresh().await.unwrap();
    assert_eq!(
        client.stats().ttl,
        Some(Duration::from_secs(3600)),
        "clamped to max_ttl"
    );

    issuer.set_cache_control("max-age=1");
    client.refresh().await.unwrap();
    assert_eq!(
        client.stats().ttl,
        Some(Duration::from_secs(30)),
        "raised to min_ttl"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_refresh_follows_max_age() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    issuer.set_cache_control("public, max-age=1");
    let mut config = JwksConfig::from_url(issuer.jwks_url());
    config.min_ttl = Duration::from_secs(1);
    let clock = Arc::new(ManualClock::new(SystemTime::now()));

    let _client = ready_client(config, clock).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    // Fetches at 0 s, 1 s and 2 s, give or take scheduling.
    let fetches = issuer.jwks_fetches();
    assert!((2..=4).contains(&fetches), "{fetches} fetches in 2.5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_background_refresh_before_max_age() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    issuer.set_cache_control("public, max-age=1");
    let clock = Arc::new(ManualClock::new(SystemTime::now()));

    // min_ttl keeps its 30 s default, so max-age=1 is raised to 30 s.
    let _client = ready_client(JwksConfig::from_url(issuer.jwks_url()), clock).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_until_first_keys_then_ready() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    issuer.set_mode(JwksMode::Unavailable);
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client =
        JwksClient::start_with_clock(fast_retry(JwksConfig::from_url(issuer.jwks_url())), clock)
            .unwrap();
    let authenticator = Authenticator::new(
        Verifier::new(VerifierConfig::new(issuer.issuer(), AUDIENCE)),
        client.clone(),
    );
    let token = key.sign(&access_claims(
        issuer.issuer(),
        AUDIENCE,
        "1",
        "",
        SystemTime::now(),
    ));

    assert!(eventually(Duration::from_secs(5), || issuer.jwks_fetches() >= 3).await);
    assert!(!client.is_ready());
    assert!(client.keys().is_empty());
    assert_eq!(
        authenticator.authenticate(&token).await,
        Err(VerifyError::KeysUnavailable)
    );

    issuer.set_mode(JwksMode::Keys);

    assert!(eventually(Duration::from_secs(5), || client.is_ready()).await);
    assert!(authenticator.authenticate(&token).await.is_ok());
    let stats = client.stats();
    assert!(stats.failed_fetches >= 3, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_good_keys_survive_failures() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client = ready_client(JwksConfig::from_url(issuer.jwks_url()), clock).await;
    let authenticator = Authenticator::new(
        Verifier::new(VerifierConfig::new(issuer.issuer(), AUDIENCE)),
        client.clone(),
    );
    let token = key.sign(&access_claims(
        issuer.issuer(),
        AUDIENCE,
        "1",
        "",
        SystemTime::now(),
    ));

    issuer.set_mode(JwksMode::Garbage);
    let garbage = client.refresh().await.unwrap_err();
    issuer.set_mode(JwksMode::Unavailable);
    let unavailable = client.refresh().await.unwrap_err();
    issuer.set_mode(JwksMode::Keys);
    let mut encryption_key = key.jwk();
    encryption_key.key_use = Some("enc".into());
    issuer.set_keys(JwkSet {
        keys: vec![encryption_key, Jwk::default()],
    });
    let unusable = client.refresh().await.unwrap_err();

    assert!(
        matches!(garbage, JwksError::InvalidJson { .. }),
        "{garbage:?}"
    );
    assert!(
        matches!(unavailable, JwksError::Status { status: 503, .. }),
        "{unavailable:?}"
    );
    assert!(
        matches!(unusable, JwksError::NoUsableKeys { .. }),
        "{unusable:?}"
    );
    assert!(client.keys().contains(key.kid()));
    assert!(authenticator.authenticate(&token).await.is_ok());

    issuer.stop().await;
    let unreachable = client.refresh().await.unwrap_err();

    assert!(
        matches!(unreachable, JwksError::Request { .. }),
        "{unreachable:?}"
    );
    assert!(client.is_ready());
    assert!(authenticator.authenticate(&token).await.is_ok());
    assert_eq!(client.stats().failed_fetches, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_jwks_is_rejected() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    let mut config = JwksConfig::from_url(issuer.jwks_url());
    config.max_response_bytes = 100;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client = JwksClient::start_with_clock(config, clock).unwrap();

    let error = client.refresh().await.unwrap_err();

    assert!(
        matches!(error, JwksError::TooLarge { max: 100, .. }),
        "{error:?}"
    );
    assert!(!client.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_flood_is_bounded_by_cooldown() {
    let key = TestKey::generate();
    let issuer = FakeIssuer::start(key.jwks()).await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client = ready_client(JwksConfig::from_url(issuer.jwks_url()), Arc::clone(&clock)).await;
    let authenticator = Arc::new(
        Authenticator::new(
            Verifier::new(VerifierConfig::new(issuer.issuer(), AUDIENCE)),
            client.clone(),
        )
        .with_clock(clock.clone()),
    );
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..1_000)
            .map(|i| token_with_kid(&key, issuer.issuer(), &format!("random-kid-{i}")))
            .collect(),
    );
    let flood = |round: usize| {
        let tasks: Vec<_> = (0..tokens.len())
            .map(|i| {
                let authenticator = Arc::clone(&authenticator);
                let tokens = Arc::clone(&tokens);
                tokio::spawn(async move {
                    let token = &tokens[(i + round * 7) % tokens.len()];
                    authenticator.authenticate(token).await
                })
            })
            .collect();
        async move {
            for task in tasks {
                assert_eq!(task.await.unwrap(), Err(VerifyError::UnknownKid));
            }
        }
    };

    // The start-up fetch just happened, so the cooldown holds back a refetch.
    tokio::time::timeout(Duration::from_secs(30), flood(0))
        .await
        .unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);

    clock.advance(Duration::from_secs(11));
    tokio::time::timeout(Duration::from_secs(30), flood(1))
        .await
        .unwrap();
    assert_eq!(issuer.jwks_fetches(), 2, "one refetch after the cooldown");

    clock.advance(Duration::from_secs(5));
    tokio::time::timeout(Duration::from_secs(30), flood(2))
        .await
        .unwrap();
    assert_eq!(issuer.jwks_fetches(), 2, "no refetch within the cooldown");

    clock.advance(Duration::from_secs(6));
    tokio::time::timeout(Duration::from_secs(30), flood(3))
        .await
        .unwrap();
    assert_eq!(issuer.jwks_fetches(), 3);
    assert_eq!(client.fetch_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_key_is_found_by_refetch() {
    let old_key = TestKey::generate();
    let new_key = TestKey::generate();
    let issuer = FakeIssuer::start(old_key.jwks()).await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client = ready_client(JwksConfig::from_url(issuer.jwks_url()), Arc::clone(&clock)).await;
    let authenticator = Authenticator::new(
        Verifier::new(VerifierConfig::new(issuer.issuer(), AUDIENCE)),
        client.clone(),
    )
    .with_clock(clock.clone());
    let old_token = old_key.sign(&access_claims(
        issuer.issuer(),
        AUDIENCE,
        "1",
        "",
        SystemTime::now(),
    ));
    let new_token = new_key.sign(&access_claims(
        issuer.issuer(),
        AUDIENCE,
        "1",
        "",
        SystemTime::now(),
    ));

    issuer.set_keys(JwkSet {
        keys: vec![old_key.jwk(), new_key.jwk()],
    });
    clock.advance(Duration::from_secs(11));

    assert!(authenticator.authenticate(&new_token).await.is_ok());
    assert!(authenticator.authenticate(&old_token).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_retried_until_it_starts() {
    let key = TestKey::generate();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let client = JwksClient::start_with_clock(
        fast_retry(JwksConfig::from_issuer(format!("http://{address}"))),
        clock,
    )
    .unwrap();

    assert!(
        eventually(Duration::from_secs(5), || client.stats().failed_fetches
            >= 3)
        .await
    );
    assert!(!client.is_ready());

    let issuer =
        FakeIssuer::start_on(std::net::TcpListener::bind(address).unwrap(), key.jwks()).await;

    assert!(eventually(Duration::from_secs(5), || client.is_ready()).await);
    assert!(client.keys().contains(key.kid()));
    assert_eq!(issuer.discovery_fetches(), 1);
}
