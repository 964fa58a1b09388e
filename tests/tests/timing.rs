//! Login timing: a failed login costs the same bcrypt work whether the email
//! is unknown, the password is wrong or the user is inactive, so response
//! times do not reveal which emails have accounts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use integration_tests::{TestAuthServer, TestAuthServerBuilder};
use reqwest::StatusCode;

/// Rounds measured; each round logs in once per kind of failure.
const ROUNDS: usize = 40;

async fn timed_login(server: &TestAuthServer, email: &str, password: &str) -> Duration {
    let started = Instant::now();
    let response = server.login(email, password).await;
    let elapsed = started.elapsed();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "login {email} must fail"
    );
    elapsed
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_email_login_as_slow_as_wrong_password() {
    // Cost 8 makes one bcrypt check take several milliseconds, far more than
    // the rest of a login, so skipping it would show in the medians.
    let server = TestAuthServerBuilder::new()
        .env("AUTH_BCRYPT_COST", "8")
        .spawn()
        .await;
    server
        .register_user("known@example.com", "correct horse battery")
        .await;
    let inactive = server
        .register_user("inactive@example.com", "correct horse battery")
        .await;
    server
        .set_user_active(inactive["id"].as_i64().unwrap(), false)
        .await;

    let cases = [
        ("unknown@example.com", "correct horse battery"),
        ("known@example.com", "wrong horse battery"),
        ("inactive@example.com", "correct horse battery"),
    ];
    for (email, password) in cases {
        timed_login(&server, email, password).await;
    }

    // The kinds take turns, starting with a different kind each round, so
    // a change in machine load during the run affects each kind alike.
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); cases.len()];
    for round in 0..ROUNDS {
        for offset in 0..cases.len() {
            let kind = (round + offset) % cases.len();
            let (email, password) = cases[kind];
            samples[kind].push(timed_login(&server, email, password).await);
        }
    }

    // A malformed email fails validation before any bcrypt work, which
    // gives the time of a login without bcrypt.
    let mut without_bcrypt = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let response = server.login("not-an-email", "correct horse battery").await;
        without_bcrypt.push(started.elapsed());
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let without_bcrypt = median(&mut without_bcrypt);

    let medians: Vec<Duration> = samples.iter_mut().map(|kind| median(kind)).collect();
    let [unknown, wrong_password, inactive] = medians[..] else {
        unreachable!("three kinds of failure")
    };
    eprintln!(
        "median login times: unknown email {unknown:?}, wrong password {wrong_password:?}, inactive user {inactive:?}, no bcrypt {without_bcrypt:?}"
    );

    // The comparison below can only catch a skipped bcrypt check if that
    // check is most of a login's time.
    assert!(
        without_bcrypt < wrong_password / 2,
        "a login without bcrypt ({without_bcrypt:?}) is not much faster than one with it ({wrong_password:?}); raise the bcrypt cost"
    );

    // Medians ignore the few logins slowed by other processes. Without the
    // dummy bcrypt check an unknown email would be faster by a whole bcrypt
    // check, nearly the full login time, so a gap of a quarter of the
    // wrong-password median still leaves a wide margin for noise.
    let tolerance = wrong_password / 4;
    assert!(
        unknown.abs_diff(wrong_password) < tolerance,
        "unknown email {unknown:?} vs wrong password {wrong_password:?} differ by more than {tolerance:?}"
    );
    assert!(
        inactive.abs_diff(wrong_password) < tolerance,
        "inactive user {inactive:?} vs wrong password {wrong_password:?} differ by more than {tolerance:?}"
    );
}
