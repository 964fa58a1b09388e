//! Login flood: bcrypt runs on a bounded pool, so a burst of logins queues
//! behind it while liveness, the JWKS, refresh and the resource server keep
//! answering quickly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use integration_tests::auth::tokens_from;
use integration_tests::{TestAuthServerBuilder, TestResourceServer};
use reqwest::StatusCode;
use serde_json::json;

/// Concurrent logins in the flood.
const FLOOD_LOGINS: usize = 30;

/// The slowest response a probe may get while the flood runs.
///
/// The flood keeps every core busy with bcrypt, so a probe waits for the
/// scheduler and for its own bit of work: microseconds for `/healthz`, a
/// database write and one RS256 signature (under a millisecond) for a
/// refresh. On an idle machine each probe answers in a few milliseconds. The
/// bound leaves room for a CI machine that also compiles or runs other
/// tests, yet is far below the seconds a probe would wait if it queued behind
/// the logins.
const PROBE_BOUND: Duration = Duration::from_millis(500);

/// The whole test, flood included, fails rather than hangs past this.
const TEST_BOUND: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_flood_leaves_other_endpoints_responsive() {
    tokio::time::timeout(TEST_BOUND, flood_and_probe())
        .await
        .expect("the login flood test finished in time");
}

async fn flood_and_probe() {
    // Cost 11 takes tens of milliseconds per check, so thirty logins on a
    // pool of one thread per core take seconds: long enough to queue.
    let auth = TestAuthServerBuilder::new()
        .env("AUTH_BCRYPT_COST", "11")
        .spawn()
        .await;
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    let tokens = auth.signed_up("flood@example.com").await;
    let mut refresh_token = tokens.refresh_token.clone();

    let flood_started = Instant::now();
    let logins: Vec<_> = (0..FLOOD_LOGINS)
        .map(|_| {
            let client = auth.client.clone();
            let url = auth.url("/auth/login");
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .json(
                        &json!({"email": "flood@example.com", "password": "correct horse battery"}),
                    )
                    .send()
                    .await
                    .expect("login sent");
                response.status()
            })
        })
        .collect();
    let flood = tokio::spawn(wait_for_statuses(logins));

    let mut slowest: Vec<(&str, Duration)> = Vec::new();
    let mut rounds_during_flood = 0;
    while !flood.is_finished() {
        let round = [
            ("GET /healthz", probe(auth.get("/healthz", None)).await),
            (
                "GET /.well-known/jwks.json",
                probe(auth.get("/.well-known/jwks.json", None)).await,
            ),
            (
                "GET /api/me on the resource server",
                probe(resource.get("/api/me", Some(&tokens.access_token))).await,
            ),
        ];

        let started = Instant::now();
        let refreshed = auth.refresh(&refresh_token).await;
        let refresh_time = started.elapsed();
        assert_eq!(refreshed.status(), StatusCode::OK, "refresh during flood");
        refresh_token = tokens_from(refreshed).await.refresh_token;

        if !flood.is_finished() {
            rounds_during_flood += 1;
        }
        slowest.extend(round);
        slowest.push(("POST /auth/refresh", refresh_time));
    }
    let flood_time = flood_started.elapsed();

    let statuses = flood.await.unwrap();
    for status in &statuses {
        assert_eq!(*status, StatusCode::OK, "every queued login succeeds");
    }
    eprintln!(
        "{FLOOD_LOGINS} logins took {flood_time:?}; {rounds_during_flood} probe rounds ran meanwhile; slowest probe {:?}",
        slowest.iter().map(|(_, time)| *time).max()
    );
    assert!(
        rounds_during_flood >= 1,
        "no probe round finished while the flood ran ({flood_time:?}); the flood is too short to test anything"
    );
    for (probe_name, time) in slowest {
        assert!(
            time < PROBE_BOUND,
            "{probe_name} took {time:?} during the login flood, more than {PROBE_BOUND:?}"
        );
    }
}

/// Sends a request and returns its response time, asserting 200.
async fn probe(request: impl Future<Output = reqwest::Response>) -> Duration {
    let started = Instant::now();
    let response = request.await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::OK, "probe status");
    elapsed
}

async fn wait_for_statuses(logins: Vec<tokio::task::JoinHandle<StatusCode>>) -> Vec<StatusCode> {
    let mut statuses = Vec::with_capacity(logins.len());
    for login in logins {
        statuses.push(login.await.expect("login task"));
    }
    statuses
}
