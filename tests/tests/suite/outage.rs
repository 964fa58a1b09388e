//! Database outage on PostgreSQL: the auth server reaches its database
//! through a TCP proxy that the test cuts and restores. While cut, every
//! endpoint that needs the database answers 503 JSON and writes nothing;
//! after the restore the server recovers on its own.
//!
//! SQLite is an embedded file with no connection to cut, so on SQLite the
//! test prints why it does not run and passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use integration_tests::database::POSTGRES_URL_VARIABLE;
use integration_tests::proxy::TcpProxy;
use integration_tests::{TestAuthServer, TestAuthServerBuilder, TestDatabase};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// Rows in each table, read over a direct connection that bypasses the proxy.
#[derive(Debug, PartialEq, Eq)]
struct RowCounts {
    users: i64,
    sessions: i64,
    refresh_tokens: i64,
    used_refresh_tokens: i64,
    revoked_sessions: i64,
}

fn row_counts(database_url: &str) -> RowCounts {
    use auth_server::db::schema::{refresh_tokens, sessions, users};

    let mut conn = PgConnection::establish(database_url).expect("direct database connection");
    RowCounts {
        users: users::table.count().get_result(&mut conn).unwrap(),
        sessions: sessions::table.count().get_result(&mut conn).unwrap(),
        refresh_tokens: refresh_tokens::table.count().get_result(&mut conn).unwrap(),
        used_refresh_tokens: refresh_tokens::table
            .filter(refresh_tokens::used_at.is_not_null())
            .count()
            .get_result(&mut conn)
            .unwrap(),
        revoked_sessions: sessions::table
            .filter(sessions::revoked_at.is_not_null())
            .count()
            .get_result(&mut conn)
            .unwrap(),
    }
}

/// The database URL with its host and port replaced by the proxy's.
fn proxied_url(database_url: &str, proxy: &TcpProxy) -> String {
    let mut url = url::Url::parse(database_url).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.address().port())).unwrap();
    url.to_string()
}

/// Asserts a 503 with the JSON error `temporarily_unavailable` and no
/// internal detail in the body.
async fn assert_unavailable(response: Response, case: &str) {
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "{case}: status"
    );
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{case}: body is not JSON ({error}): {text}"));
    assert_eq!(body["error"], "temporarily_unavailable", "{case}: {text}");
    for internal in ["diesel", "panicked", "r2d2", "connection refused", "src/"] {
        assert!(
            !text.to_lowercase().contains(internal),
            "{case}: body leaks {internal:?}: {text}"
        );
    }
}

async fn wait_until_ready(server: &TestAuthServer, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if server.get("/readyz", None).await.status() == StatusCode::OK {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz did not return 200 within {within:?} after the database came back");
}

/// A server whose database connections go through a proxy the test
/// controls, with a one-second pool timeout so each failed request is short
/// (the server's default is five seconds).
struct ProxiedServer {
    server: TestAuthServer,
    proxy: TcpProxy,
    database: Arc<TestDatabase>,
    _data_dir: tempfile::TempDir,
}

/// Starts a proxy on 127.0.0.1 in front of the test database.
async fn proxy_to(database: &TestDatabase) -> TcpProxy {
    let upstream_url = url::Url::parse(&database.url).unwrap();
    let upstream = (
        upstream_url.host_str().unwrap(),
        upstream_url.port().unwrap_or(5432),
    )
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    TcpProxy::start(upstream).await
}

async fn start_behind_proxy(variables: &[(&str, &str)]) -> ProxiedServer {
    let data_dir = tempfile::tempdir().unwrap();
    let database = Arc::new(TestDatabase::create(data_dir.path()));
    let proxy = proxy_to(&database).await;

    let mut builder = TestAuthServerBuilder::new()
        .database(database.clone())
        .env("AUTH_DATABASE_URL", &proxied_url(&database.url, &proxy))
        .env("AUTH_DATABASE_CONNECT_TIMEOUT_SECS", "1");
    for (name, value) in variables {
        builder = builder.env(name, value);
    }
    let server = builder.spawn().await;

    ProxiedServer {
        server,
        proxy,
        database,
        _data_dir: data_dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_and_recovers() {
    if std::env::var(POSTGRES_URL_VARIABLE).is_err() {
        eprintln!(
            "skipped: the outage test cuts a network connection, so it needs PostgreSQL; set {POSTGRES_URL_VARIABLE}"
        );
        return;
    }

    let ProxiedServer {
        server,
        proxy,
        database,
        ..
    } = start_behind_proxy(&[]).await;
    let tokens = server.signed_up("outage@example.com").await;
    let before = row_counts(&database.url);

    proxy.cut();

    let register = server
        .register("newcomer@example.com", "correct horse battery")
        .await;
    assert_unavailable(register, "register").await;
    let login = server
        .login("outage@example.com", "correct horse battery")
        .await;
    assert_unavailable(login, "login").await;
    let refresh = server.refresh(&tokens.refresh_token).await;
    assert_unavailable(refresh, "refresh").await;
    let me = server.get("/auth/me", Some(&tokens.access_token)).await;
    assert_unavailable(me, "GET /auth/me").await;
    let readiness = server.get("/readyz", None).await;
    assert_unavailable(readiness, "/readyz").await;

    let liveness = server.get("/healthz", None).await;
    assert_eq!(
        liveness.status(),
        StatusCode::OK,
        "/healthz needs no database"
    );
    let jwks = server.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status(), StatusCode::OK, "the JWKS needs no database");
    assert_eq!(
        row_counts(&database.url),
        before,
        "failed requests changed rows"
    );

    proxy.restore();
    wait_until_ready(&server, Duration::from_secs(15)).await;

    // The refresh token that failed during the outage was not spent.
    let rotated = server.refresh(&tokens.refresh_token).await;
    assert_eq!(rotated.status(), StatusCode::OK, "refresh after restore");
    let login = server
        .login("outage@example.com", "correct horse battery")
        .await;
    assert_eq!(login.status(), StatusCode::OK, "login after restore");
    let register = server
        .post_json(
            "/auth/register",
            &json!({"email": "newcomer@example.com", "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(
        register.status(),
        StatusCode::CREATED,
        "register after restore"
    );
    assert_eq!(row_counts(&database.url).users, before.users + 1);
}

/// A database that stops answering with its connections still open: each
/// request gives up after the query timeout with 503 instead of hanging, and
/// the server recovers once the connections are dropped and it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_database_times_out_with_503() {
    if std::env::var(POSTGRES_URL_VARIABLE).is_err() {
        eprintln!(
            "skipped: the frozen-database test needs PostgreSQL; set {POSTGRES_URL_VARIABLE}"
        );
        return;
    }

    let ProxiedServer { server, proxy, .. } =
        start_behind_proxy(&[("AUTH_DATABASE_QUERY_TIMEOUT_SECS", "2")]).await;
    let tokens = server.signed_up("frozen@example.com").await;

    proxy.freeze();

    for path in ["/auth/me", "/readyz"] {
        let started = Instant::now();
        let response = server.get(path, Some(&tokens.access_token)).await;
        assert_unavailable(response, path).await;
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    assert_unavailable(server.refresh(&tokens.refresh_token).await, "refresh").await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "refresh took {:?}",
        started.elapsed()
    );

    proxy.cut();
    proxy.restore();
    wait_until_ready(&server, Duration::from_secs(20)).await;
    let me = server.get("/auth/me", Some(&tokens.access_token)).await;
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "GET /auth/me after the database returns"
    );
}

/// Starts a proxy to a new test database that rejects connections until the
/// test restores it, like a database that has not started yet.
async fn unreachable_database() -> (Arc<TestDatabase>, TcpProxy, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().unwrap();
    let database = Arc::new(TestDatabase::create(data_dir.path()));
    let proxy = proxy_to(&database).await;
    proxy.cut();
    (database, proxy, data_dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_waits_for_late_database() {
    if std::env::var(POSTGRES_URL_VARIABLE).is_err() {
        eprintln!("skipped: needs PostgreSQL; set {POSTGRES_URL_VARIABLE}");
        return;
    }
    let (database, proxy, _data_dir) = unreachable_database().await;

    let builder = TestAuthServerBuilder::new()
        .database(database.clone())
        .env("AUTH_DATABASE_URL", &proxied_url(&database.url, &proxy))
        .env("AUTH_DATABASE_CONNECT_TIMEOUT_SECS", "1")
        .env("AUTH_DATABASE_STARTUP_WAIT_SECS", "60");
    let starting = tokio::spawn(builder.spawn());

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !starting.is_finished(),
        "the server must not start while its database is unreachable"
    );
    proxy.restore();

    let server = tokio::time::timeout(Duration::from_secs(30), starting)
        .await
        .expect("the server starts soon after the database comes up")
        .expect("the start task does not panic");
    let tokens = server.signed_up("late-database@example.com").await;
    let me = server.get("/auth/me", Some(&tokens.access_token)).await;
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_fails_after_wait() {
    if std::env::var(POSTGRES_URL_VARIABLE).is_err() {
        eprintln!("skipped: needs PostgreSQL; set {POSTGRES_URL_VARIABLE}");
        return;
    }
    let (database, proxy, data_dir) = unreachable_database().await;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let variables = [
        (
            "AUTH_DATA_DIR",
            data_dir.path().to_str().unwrap().to_owned(),
        ),
        ("AUTH_DATABASE_URL", proxied_url(&database.url, &proxy)),
        ("AUTH_DATABASE_CONNECT_TIMEOUT_SECS", "1".to_owned()),
        ("AUTH_DATABASE_STARTUP_WAIT_SECS", "2".to_owned()),
        ("AUTH_BCRYPT_COST", "4".to_owned()),
    ];
    let settings = auth_server::config::Settings::from_map(
        &variables
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect(),
    )
    .unwrap();

    let started = Instant::now();
    let result = auth_server::startup::Application::build_on(
        settings,
        listener,
        auth_server::state::Clock::default(),
    )
    .await;
    let waited = started.elapsed();

    let Err(error) = result else {
        panic!("the server must not start without its database");
    };
    let message = error.to_string();
    assert!(
        message.contains("database"),
        "the error names the database: {message}"
    );
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(20),
        "the server retried for the startup wait and then gave up, after {waited:?}"
    );
}
