//! The run from start to end: servers up, limits, then each load phase in
//! turn, memory last. Phases run one after another so they do not share
//! the CPU, except the latency probes that run during the login phase.

use std::net::SocketAddr;
use std::time::Duration;

use auth_shared::jwk::JwkSet;
use auth_shared::{Verifier, VerifierConfig};
use serde_json::json;

use crate::http::{RequestSpec, send_once};
use crate::limits::{self, Limit};
use crate::load::{self, Job, Stats, expect_ok, next_refresh_token};
use crate::servers::{Memory, ScratchDatabase, ServerProcess};
use crate::{BenchError, RunConfig};

/// The audience the servers are configured with.
const AUDIENCE: &str = "api";
/// The account every login of the run uses.
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "benchmark-password";
/// Time between two requests of one latency probe during the login phase.
const PROBE_INTERVAL: Duration = Duration::from_millis(20);
/// Logins sent at once while preparing refresh chains.
const SETUP_CONNECTIONS: usize = 4;

/// Every measurement of one run.
pub struct Results {
    pub sign: Limit,
    pub verify: Limit,
    pub bcrypt: Limit,
    pub unprotected: Stats,
    pub protected: Stats,
    pub refresh_sqlite: Stats,
    pub refresh_postgres: Stats,
    pub login: Stats,
    pub healthz_during_login: Stats,
    pub jwks_during_login: Stats,
    pub refresh_during_login: Stats,
    pub auth_sqlite_memory: Memory,
    pub auth_postgres_memory: Memory,
    pub resource_memory: Memory,
}

impl Results {
    fn phases(&self) -> [(&'static str, &Stats); 8] {
        [
            ("unprotected GET", &self.unprotected),
            ("protected GET", &self.protected),
            ("refresh on SQLite", &self.refresh_sqlite),
            ("refresh on PostgreSQL", &self.refresh_postgres),
            ("login", &self.login),
            ("/healthz during logins", &self.healthz_during_login),
            ("JWKS during logins", &self.jwks_during_login),
            ("refresh during logins", &self.refresh_during_login),
        ]
    }

    /// Counts the failed requests of every phase.
    pub fn failed_requests(&self) -> u64 {
        self.phases().iter().map(|(_, stats)| stats.errors).sum()
    }

    /// Returns the first error of each phase that had one.
    pub fn first_errors(&self) -> Vec<(&'static str, String)> {
        self.phases()
            .iter()
            .filter_map(|(name, stats)| stats.first_error.clone().map(|error| (*name, error)))
            .collect()
    }
}

/// Creates the PostgreSQL database, runs everything and drops the database,
/// also when a step fails.
pub fn run_all(config: &RunConfig) -> Result<Results, BenchError> {
    let database = ScratchDatabase::create(&config.postgres_url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.threads)
        .enable_all()
        .build()
        .map_err(|error| BenchError::new(format!("starting the async runtime failed: {error}")))?;

    let results = runtime.block_on(run(config, database.url()));
    drop(runtime);
    let dropped = database.drop_database();

    let results = results?;
    dropped?;
    Ok(results)
}

async fn run(config: &RunConfig, postgres_url: &str) -> Result<Results, BenchError> {
    eprintln!("starting the servers");
    let auth_sqlite = start_auth_server(config, "auth-sqlite", None).await?;
    let auth_postgres = start_auth_server(config, "auth-postgres", Some(postgres_url)).await?;
    let resource = start_resource_server(config, &auth_sqlite.base_url()).await?;

    register(auth_sqlite.address()).await?;
    register(auth_postgres.address()).await?;
    let access_token = login(auth_sqlite.address()).await?.0;

    eprintln!("measuring the limits");
    let (sign, verify, bcrypt) = measure_limits(config, &auth_sqlite, &access_token).await?;

    eprintln!("resource server: unprotected and protected GET");
    let unprotected = load::run(
        resource.address(),
        repeat(RequestSpec::get("/healthz"), config.connections),
        config.phase,
        None,
    )
    .await;
    let protected = load::run(
        resource.address(),
        repeat(
            RequestSpec::get("/api/me").with_bearer(&access_token),
            config.connections,
        ),
        config.phase,
        None,
    )
    .await;

    eprintln!("refresh on SQLite");
    let refresh_sqlite = refresh_phase(config, auth_sqlite.address()).await?;
    eprintln!("refresh on PostgreSQL");
    let refresh_postgres = refresh_phase(config, auth_postgres.address()).await?;

    eprintln!("login, with latency probes");
    let probe_token = login(auth_sqlite.address()).await?.1;
    let login_spec = RequestSpec::post_json("/auth/login", &credentials());
    let (login, healthz_during_login, jwks_during_login, refresh_during_login) = tokio::join!(
        load::run(
            auth_sqlite.address(),
            repeat(login_spec, config.login_connections),
            config.phase,
            None,
        ),
        load::run(
            auth_sqlite.address(),
            repeat(RequestSpec::get("/healthz"), 1),
            config.phase,
            Some(PROBE_INTERVAL),
        ),
        load::run(
            auth_sqlite.address(),
            repeat(RequestSpec::get("/.well-known/jwks.json"), 1),
            config.phase,
            Some(PROBE_INTERVAL),
        ),
        load::run(
            auth_sqlite.address(),
            vec![Job::RefreshChain(probe_token)],
            config.phase,
            Some(PROBE_INTERVAL),
        ),
    );

    Ok(Results {
        sign,
        verify,
        bcrypt,
        unprotected,
        protected,
        refresh_sqlite,
        refresh_postgres,
        login,
        healthz_during_login,
        jwks_during_login,
        refresh_during_login,
        auth_sqlite_memory: auth_sqlite.memory()?,
        auth_postgres_memory: auth_postgres.memory()?,
        resource_memory: resource.memory()?,
    })
}

/// Environment variables that would change a server's behaviour if they
/// leaked in from the shell that runs the benchmark.
fn inherited_settings() -> Vec<String> {
    std::env::vars()
        .map(|(name, _)| name)
        .filter(|name| {
            name.starts_with("AUTH_") || name.starts_with("RESOURCE_") || name == "RUST_LOG"
        })
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

async fn start_auth_server(
    config: &RunConfig,
    name: &str,
    database_url: Option<&str>,
) -> Result<ServerProcess, BenchError> {
    let binary = config.bin_dir.join("auth-server");
    let cost = config.bcrypt_cost.to_string();
    ServerProcess::start(
        name,
        &binary,
        "/readyz",
        inherited_settings(),
        |address, data_dir| {
            let bind = address.to_string();
            let issuer = format!("http://{address}");
            let data_dir = data_dir.to_string_lossy().into_owned();
            let mut env = owned(&[
                ("AUTH_BIND", &bind),
                ("AUTH_ISSUER", &issuer),
                ("AUTH_AUDIENCE", AUDIENCE),
                ("AUTH_DATA_DIR", &data_dir),
                ("AUTH_BCRYPT_COST", &cost),
                // Every request comes from 127.0.0.1 and logs in to one account,
                // which the per-IP and per-account limits exist to stop.
                ("AUTH_RATE_LIMIT_LOGIN_PER_IP", "0"),
                ("AUTH_RATE_LIMIT_LOGIN_PER_ACCOUNT", "0"),
                ("AUTH_RATE_LIMIT_REGISTER_PER_IP", "0"),
                ("AUTH_RATE_LIMIT_REFRESH_PER_IP", "0"),
            ]);
            if let Some(url) = database_url {
                env.extend(owned(&[("AUTH_DATABASE_URL", url)]));
            }
            env
        },
    )
    .await
}

async fn start_resource_server(
    config: &RunConfig,
    issuer: &str,
) -> Result<ServerProcess, BenchError> {
    let binary = config.bin_dir.join("resource-server");
    ServerProcess::start(
        "resource",
        &binary,
        "/readyz",
        inherited_settings(),
        |address, _| {
            owned(&[
                ("RESOURCE_BIND", &address.to_string()),
                ("RESOURCE_ISSUER", issuer),
                ("RESOURCE_AUDIENCE", AUDIENCE),
            ])
        },
    )
    .await
}

fn credentials() -> serde_json::Value {
    json!({ "email": EMAIL, "password": PASSWORD })
}

fn repeat(spec: RequestSpec, connections: usize) -> Vec<Job> {
    vec![Job::Repeat(spec); connections]
}

async fn register(address: SocketAddr) -> Result<(), BenchError> {
    let response = send_once(
        address,
        &RequestSpec::post_json("/auth/register", &credentials()),
    )
    .await?;
    if response.status.as_u16() != 201 {
        return Err(BenchError::new(format!(
            "registering {EMAIL} returned {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )));
    }
    Ok(())
}

/// Logs in and returns the access token and the refresh token.
async fn login(address: SocketAddr) -> Result<(String, String), BenchError> {
    let spec = RequestSpec::post_json("/auth/login", &credentials());
    let response = expect_ok(send_once(address, &spec).await?)
        .map_err(|error| BenchError::new(format!("login failed: {error}")))?;
    let access_token = response
        .json()?
        .get("access_token")
        .and_then(|value| value.as_str())
        .map(str::to_owned)
        .ok_or_else(|| BenchError::new("the login response has no access_token"))?;
    Ok((access_token, next_refresh_token(&response)?))
}

/// Logs in `count` times, a few logins at a time, and returns the refresh
/// tokens: each one heads a new session and has never been used.
async fn issue_refresh_tokens(
    address: SocketAddr,
    count: usize,
) -> Result<Vec<String>, BenchError> {
    let mut tokens = Vec::with_capacity(count);
    while tokens.len() < count {
        let batch = SETUP_CONNECTIONS.min(count - tokens.len());
        let logins: Vec<_> = (0..batch).map(|_| tokio::spawn(login(address))).collect();
        for handle in logins {
            let (_, refresh_token) = handle
                .await
                .map_err(|error| BenchError::new(format!("a login task failed: {error}")))??;
            tokens.push(refresh_token);
        }
    }
    Ok(tokens)
}

async fn refresh_phase(config: &RunConfig, address: SocketAddr) -> Result<Stats, BenchError> {
    let tokens = issue_refresh_tokens(address, config.refresh_chains).await?;
    let jobs = tokens.into_iter().map(Job::RefreshChain).collect();
    Ok(load::run(address, jobs, config.phase, None).await)
}

async fn measure_limits(
    config: &RunConfig,
    auth: &ServerProcess,
    access_token: &str,
) -> Result<(Limit, Limit, Limit), BenchError> {
    let jwks_response =
        expect_ok(send_once(auth.address(), &RequestSpec::get("/.well-known/jwks.json")).await?)?;
    let jwks: JwkSet = serde_json::from_slice(&jwks_response.body)
        .map_err(|error| BenchError::new(format!("the JWKS is not valid: {error}")))?;

    let issuer = auth.base_url();
    let verifier = Verifier::new(VerifierConfig::new(issuer.as_str(), AUDIENCE));
    let kid = verifier
        .parse(access_token)
        .map_err(|error| BenchError::new(format!("the access token is malformed: {error}")))?
        .kid()
        .to_owned();
    let key_path = auth.data_dir().join("keys").join(format!("{kid}.pem"));
    let signing_input = access_token
        .rsplit_once('.')
        .map(|(input, _)| input.to_owned())
        .unwrap_or_default();

    let threads = config.threads;
    let phase = config.phase;
    let cost = config.bcrypt_cost;
    let token = access_token.to_owned();
    tokio::task::spawn_blocking(move || {
        let sign = limits::rs256_sign(&key_path, signing_input.as_bytes(), threads, phase)?;
        let verify = limits::rs256_verify(&token, &jwks, &issuer, AUDIENCE, threads, phase)?;
        let bcrypt = limits::bcrypt_hash(cost, threads, phase)?;
        Ok((sign, verify, bcrypt))
    })
    .await
    .map_err(|error| BenchError::new(format!("the limit measurement failed: {error}")))?
}
