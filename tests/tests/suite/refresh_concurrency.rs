//! Many requests racing on one refresh token, on one server, on two servers
//! in this process, and on two auth-server processes sharing one database.
//! Whatever the interleaving, no request fails with a 5xx and the family
//! ends in a state the grace rule allows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_server::db::Database;
use auth_server::db::schema::{refresh_tokens, sessions};
use auth_server::db::sessions::{RefreshTokenRow, Session};
use auth_server::tokens::refresh::RefreshToken;
use diesel::prelude::*;
use integration_tests::auth::tokens_from;
use integration_tests::{TestAuthServer, TestAuthServerBuilder, TestDatabase, unverified_claims};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Barrier;

const RACERS: usize = 50;
const PASSWORD: &str = "correct horse battery";

/// The outcome of one racing request: its status and, on 200, its new
/// refresh token.
type RaceResult = (StatusCode, Option<String>);

/// Sends `RACERS` refreshes of `token` at once, spread over `base_urls` in
/// turn, and returns every outcome.
async fn race(base_urls: &[String], token: &str) -> Vec<RaceResult> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));

    let mut tasks = Vec::new();
    for index in 0..RACERS {
        let url = format!("{}/auth/refresh", base_urls[index % base_urls.len()]);
        let client = client.clone();
        let barrier = barrier.clone();
        let body = json!({ "refresh_token": token });
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let response = client.post(url).json(&body).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let token = body["refresh_token"].as_str().map(str::to_owned);
            (status, token)
        }));
    }

    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// The rows of one family, read straight from the database.
struct Family {
    session: Session,
    tokens: Vec<RefreshTokenRow>,
}

async fn read_family(db: &Database, session_id: &str) -> Family {
    let session_id = session_id.to_owned();
    db.run(move |conn| {
        let session = sessions::table
            .find(&session_id)
            .select(Session::as_select())
            .first(conn)?;
        let tokens = refresh_tokens::table
            .filter(refresh_tokens::session_id.eq(&session_id))
            .order(refresh_tokens::id.asc())
            .select(RefreshTokenRow::as_select())
            .load(conn)?;
        Ok::<_, auth_server::db::DbError>(Family { session, tokens })
    })
    .await
    .unwrap()
}

fn assert_no_server_errors(results: &[RaceResult]) {
    let failures: Vec<_> = results
        .iter()
        .map(|(status, _)| *status)
        .filter(|status| *status != StatusCode::OK && *status != StatusCode::UNAUTHORIZED)
        .collect();
    assert!(
        failures.is_empty(),
        "every racer gets 200 or 401, found {failures:?}"
    );
}

/// Checks the family after a race inside the grace window: every racer got
/// a token of its own, the presented token was claimed exactly once, and
/// every new token is a live row of the same session.
fn assert_consistent_within_grace(family: &Family, results: &[RaceResult], presented: &str) {
    assert_no_server_errors(results);
    let issued: Vec<&String> = results
        .iter()
        .filter_map(|(_, token)| token.as_ref())
        .collect();
    assert_eq!(
        issued.len(),
        RACERS,
        "every duplicate inside the window gets a token"
    );
    let mut distinct = issued.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), RACERS, "no token is handed out twice");

    assert!(
        family.session.revoked_at.is_none(),
        "the session stays live"
    );
    assert_eq!(family.tokens.len(), RACERS + 1);
    let presented_hash = RefreshToken::presented(presented).hash();
    let claimed = &family.tokens[0];
    assert_eq!(claimed.token_hash, presented_hash);
    assert!(claimed.used_at.is_some());
    let successor = claimed.replaced_by.expect("the claim records a successor");
    assert!(family.tokens[1..].iter().any(|row| row.id == successor));
    for row in &family.tokens[1..] {
        assert!(row.used_at.is_none(), "new tokens are unused");
        assert!(row.revoked_at.is_none(), "new tokens are live");
        assert!(row.replaced_by.is_none());
    }
    for token in issued {
        let hash = RefreshToken::presented(token).hash();
        assert!(
            family.tokens.iter().any(|row| row.token_hash == hash),
            "every issued token is stored in the family"
        );
    }
}

/// Checks the family after a race with the grace window off: one racer won,
/// every other one was reuse, and so the family is revoked.
fn assert_consistent_without_grace(family: &Family, results: &[RaceResult]) {
    assert_no_server_errors(results);
    let winners = results
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    assert_eq!(winners, 1, "exactly one racer rotates the token");
    assert!(
        family.session.revoked_at.is_some(),
        "the reuse revokes the session"
    );
    assert_eq!(family.tokens.len(), 2, "one successor and no other");
    assert_eq!(family.tokens[0].replaced_by, Some(family.tokens[1].id));
    assert!(
        family.tokens[1].revoked_at.is_some(),
        "the successor is revoked"
    );
}

fn session_id_of(access_token: &str) -> String {
    unverified_claims(access_token)["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racers_on_one_server() {
    let server = TestAuthServer::spawn().await;
    let tokens = server.signed_up("race-one@example.com").await;

    let results = race(
        std::slice::from_ref(&server.base_url),
        &tokens.refresh_token,
    )
    .await;

    let family = read_family(&server.state().db, &session_id_of(&tokens.access_token)).await;
    assert_consistent_within_grace(&family, &results, &tokens.refresh_token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racers_on_two_servers() {
    let first = TestAuthServer::spawn().await;
    let second = TestAuthServerBuilder::new()
        .sharing_with(&first)
        .spawn()
        .await;
    let tokens = first.signed_up("race-two@example.com").await;

    let urls = [first.base_url.clone(), second.base_url.clone()];
    let results = race(&urls, &tokens.refresh_token).await;

    let family = read_family(&first.state().db, &session_id_of(&tokens.access_token)).await;
    assert_consistent_within_grace(&family, &results, &tokens.refresh_token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racers_without_grace_window() {
    let first = TestAuthServerBuilder::new()
        .env("AUTH_REFRESH_REUSE_GRACE_SECS", "0")
        .spawn()
        .await;
    let second = TestAuthServerBuilder::new()
        .env("AUTH_REFRESH_REUSE_GRACE_SECS", "0")
        .sharing_with(&first)
        .spawn()
        .await;
    let tokens = first.signed_up("race-nograce@example.com").await;

    let urls = [first.base_url.clone(), second.base_url.clone()];
    let results = race(&urls, &tokens.refresh_token).await;

    let family = read_family(&first.state().db, &session_id_of(&tokens.access_token)).await;
    assert_consistent_without_grace(&family, &results);
}

/// Refreshes of the current token race replays of a rotated one (reuse
/// revocation) and logouts. On PostgreSQL this takes row locks on the same
/// session and tokens in every request, which must wait for each other
/// rather than deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_racing_revocation_has_no_errors() {
    let first = TestAuthServer::spawn().await;
    let second = TestAuthServerBuilder::new()
        .sharing_with(&first)
        .spawn()
        .await;
    let old = first.signed_up("race-revoke@example.com").await;
    let current = first.refresh_tokens(&old.refresh_token).await;
    first.clock().advance(6);
    second.clock().advance(6);

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for index in 0..RACERS {
        let base_url = [&first.base_url, &second.base_url][index % 2];
        let (path, token) = match index % 5 {
            0 | 1 => ("/auth/refresh", &current.refresh_token),
            2 | 3 => ("/auth/refresh", &old.refresh_token),
            _ => ("/auth/logout", &current.refresh_token),
        };
        let request = client
            .post(format!("{base_url}{path}"))
            .json(&json!({ "refresh_token": token }));
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body["refresh_token"].as_str().map(str::to_owned))
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }

    let server_errors: Vec<_> = results
        .iter()
        .map(|(status, _)| *status)
        .filter(StatusCode::is_server_error)
        .collect();
    assert!(server_errors.is_empty(), "no 5xx, found {server_errors:?}");
    let family = read_family(&first.state().db, &session_id_of(&old.access_token)).await;
    assert!(
        family.session.revoked_at.is_some(),
        "the family ends revoked"
    );
    for (_, token) in results {
        if let Some(token) = token {
            let response = first.refresh(&token).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "a token issued during the race dies with the family"
            );
        }
    }
}

/// An auth-server process that is killed, by its pid, when dropped.
struct ServerProcess {
    child: Child,
    base_url: String,
    log_path: PathBuf,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn auth_server_binary() -> PathBuf {
    let test_exe = std::env::current_exe().unwrap();
    // The test binary is target/<profile>/deps/<name>; the server binary is
    // target/<profile>/auth-server.
    let profile_dir = test_exe.parent().and_then(Path::parent).unwrap();
    let binary = profile_dir.join("auth-server");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p auth-server` (or `cargo test --workspace`, \
         which builds it) before this test",
        binary.display()
    );
    binary
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts the auth-server binary and waits until `/healthz` returns 200.
async fn start_process(
    name: &str,
    issuer: &str,
    port: u16,
    data_dir: &Path,
    database_url: &str,
    grace_secs: &str,
) -> ServerProcess {
    let log_path = data_dir.join(format!("{name}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let child = Command::new(auth_server_binary())
        .env_clear()
        .env("AUTH_BIND", format!("127.0.0.1:{port}"))
        .env("AUTH_ISSUER", issuer)
        .env("AUTH_DATABASE_URL", database_url)
        .env("AUTH_DATA_DIR", data_dir)
        .env("AUTH_BCRYPT_COST", "4")
        .env("AUTH_REFRESH_REUSE_GRACE_SECS", grace_secs)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let process = ServerProcess {
        child,
        base_url: format!("http://127.0.0.1:{port}"),
        log_path,
    };

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = client
            .get(format!("{}/healthz", process.base_url))
            .send()
            .await;
        if health.is_ok_and(|response| response.status() == StatusCode::OK) {
            return process;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not become healthy within 60 s; its log:\n{}",
            std::fs::read_to_string(&process.log_path).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts two auth-server processes on one database and one data dir, logs
/// in through the first, and races `RACERS` refreshes over both.
async fn race_on_two_processes(grace_secs: &str) -> (Family, Vec<RaceResult>, String) {
    let data_dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(data_dir.path());
    let first_port = free_port();
    let issuer = format!("http://127.0.0.1:{first_port}");

    // The first process creates the keys; the second starts only then, so
    // both load the same key set from the shared data dir.
    let first = start_process(
        "first",
        &issuer,
        first_port,
        data_dir.path(),
        &database.url,
        grace_secs,
    )
    .await;
    let second = start_process(
        "second",
        &issuer,
        free_port(),
        data_dir.path(),
        &database.url,
        grace_secs,
    )
    .await;

    let client = reqwest::Client::new();
    let register = client
        .post(format!("{}/auth/register", first.base_url))
        .json(&json!({ "email": "race-processes@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), StatusCode::CREATED);
    let login = client
        .post(format!("{}/auth/login", second.base_url))
        .json(&json!({ "email": "race-processes@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let tokens = tokens_from(login).await;

    let urls = [first.base_url.clone(), second.base_url.clone()];
    let results = race(&urls, &tokens.refresh_token).await;

    let db = Database::connect(&database.url, 1);
    let family = read_family(&db, &session_id_of(&tokens.access_token)).await;
    for process in [&first, &second] {
        let log = std::fs::read_to_string(&process.log_path).unwrap_or_default();
        assert!(
            !log.contains("ERROR"),
            "no server fault is logged; log of {}:\n{log}",
            process.base_url
        );
    }
    drop((first, second));
    (family, results, tokens.refresh_token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_race_within_grace() {
    let (family, results, presented) = race_on_two_processes("5").await;

    assert_consistent_within_grace(&family, &results, &presented);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_race_without_grace() {
    let (family, results, _) = race_on_two_processes("0").await;

    assert_consistent_without_grace(&family, &results);
}
