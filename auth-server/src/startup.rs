//! Building the auth server from its settings: pool, migrations, keys, and
//! the HTTP server bound to its listener.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, HttpServer, web};

use crate::config::Settings;
use crate::db::{Database, DbError};
use crate::error::ApiError;
use crate::json::MAX_JSON_BYTES;
use crate::keys::KeyRingHandle;
use crate::password::PasswordHasher;
use crate::rate_limit::RateLimits;
use crate::routes;
use crate::state::{AppState, Clock};

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    #[error("cannot prepare password hashing: {0}")]
    Hasher(#[from] crate::password::HashError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

/// A built auth server: bound, migrated, with keys loaded, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Builds the server with the system clock.
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        Application::build_with_clock(settings, Clock::default()).await
    }

    /// Builds the server with `clock`, which tests move forward to reach expiry.
    pub async fn build_with_clock(
        settings: Settings,
        clock: Clock,
    ) -> Result<Application, StartError> {
        let address = settings.bind.clone();
        let listener = TcpListener::bind(&address).map_err(|source| StartError::Bind {
            address: address.clone(),
            source,
        })?;
        Application::build_on(settings, listener, clock).await
    }

    /// Builds the server on a listener bound by the caller, so a test can
    /// learn the port (and so the issuer URL) before the settings are made.
    pub async fn build_on(
        settings: Settings,
        listener: TcpListener,
        clock: Clock,
    ) -> Result<Application, StartError> {
        let state = prepare_state(settings, clock).await?;

        let address = state.settings.bind.clone();
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind { address, source })?
            .port();

        let server = run(listener, state.clone()).map_err(|source| StartError::Bind {
            address: state.settings.bind.clone(),
            source,
        })?;
        crate::service::sessions::spawn_purge_task(
            state.db.clone(),
            state.clock.clone(),
            state.settings.purge_interval,
        );
        Ok(Application {
            port,
            server,
            state,
        })
    }

    /// The port the server listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state, for tests that inspect the database or the clock.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The server future plus a handle that stops it.
    pub fn into_server(self) -> Server {
        self.server
    }

    /// Serves until the server is stopped or receives SIGTERM or Ctrl-C.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn prepare_state(settings: Settings, clock: Clock) -> Result<AppState, StartError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|source| StartError::DataDir {
        path: settings.data_dir.display().to_string(),
        source,
    })?;

    let db = Database::connect_with_timeout(
        &settings.database_url,
        settings.database_max_connections,
        settings.database_connect_timeout,
        settings.database_query_timeout,
    );
    migrate_when_reachable(&db, settings.database_startup_wait).await?;

    let keys_dir = settings.data_dir.clone();
    let key_file = settings.signing_key_file.clone();
    let key_clock = clock.clone();
    let keys = tokio::task::spawn_blocking(move || {
        KeyRingHandle::load(&keys_dir, key_file.as_deref(), key_clock)
    })
    .await
    .map_err(|_| crate::keys::KeyError::Refused("loading keys was cancelled".into()))??;
    let keys = Arc::new(keys);
    spawn_key_reload(&keys, settings.key_reload_interval);
    let cost = settings.bcrypt_cost;
    let concurrency = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2);
    let hasher = tokio::task::spawn_blocking(move || PasswordHasher::new(cost, concurrency))
        .await
        .map_err(|_| crate::password::HashError::Cancelled)??;

    tracing::info!(
        bind = %settings.bind,
        issuer = %settings.issuer,
        audience = %settings.audience,
        database = %settings.redacted_database_url(),
        backend = db.backend().name(),
        signing_kid = keys.signing_key()?.kid(),
        published_keys = keys.jwks().keys.len(),
        access_token_ttl_secs = settings.access_token_ttl.as_secs(),
        refresh_token_ttl_secs = settings.refresh_token_ttl.as_secs(),
        bcrypt_cost = settings.bcrypt_cost,
        "auth server configured"
    );

    let metrics = Arc::new(crate::metrics::Metrics::new(db.clone()));
    let rate_limits = Arc::new(RateLimits::new(&settings));
    spawn_rate_limit_cleanup(&rate_limits);
    let verifier = Arc::new(auth_shared::Verifier::new(
        auth_shared::VerifierConfig::new(settings.issuer.clone(), settings.audience.clone()),
    ));
    Ok(AppState {
        settings: Arc::new(settings),
        db,
        keys,
        hasher,
        clock,
        metrics,
        verifier,
        rate_limits,
    })
}

/// Applies pending migrations, retrying with a growing pause while the
/// database cannot be reached, as when it starts after the server. Returns
/// the error once `wait` has passed, and any other error at once.
async fn migrate_when_reachable(db: &Database, wait: Duration) -> Result<(), DbError> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(250);
    loop {
        let migrate_db = db.clone();
        let migrated = tokio::task::spawn_blocking(move || migrate_db.migrate())
            .await
            .map_err(|_| DbError::Cancelled)?;

        let now = Instant::now();
        match migrated {
            Err(DbError::Pool(error)) if now < deadline => {
                let retry_in = pause.min(deadline - now);
                tracing::warn!(
                    error = %error,
                    retry_in_ms = retry_in.as_millis() as u64,
                    "the database is not reachable yet; retrying"
                );
                tokio::time::sleep(retry_in).await;
                pause = (pause * 2).min(MAX_STARTUP_PAUSE);
            }
            other => return other,
        }
    }
}

/// The maximum pause between two attempts to reach the database at start.
const MAX_STARTUP_PAUSE: Duration = Duration::from_secs(5);

/// Re-reads the key store every `interval` so a rotation made by the
/// `keys` commands reaches this server without a restart. The task ends when
/// the server's state is dropped.
fn spawn_key_reload(keys: &Arc<KeyRingHandle>, interval: std::time::Duration) {
    let keys = Arc::downgrade(keys);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let Some(keys) = keys.upgrade() else {
                return;
            };
            let reloaded = tokio::task::spawn_blocking(move || keys.reload()).await;
            match reloaded {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    tracing::error!(error = %error, "reloading the signing keys failed; keeping the current keys")
                }
                Err(error) => tracing::error!(error = %error, "the key reload task failed"),
            }
        }
    });
}

/// Forgets idle rate-limit buckets once a minute; the task ends when the
/// server's state is dropped.
fn spawn_rate_limit_cleanup(rate_limits: &Arc<RateLimits>) {
    let rate_limits = Arc::downgrade(rate_limits);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            ticker.tick().await;
            let Some(rate_limits) = rate_limits.upgrade() else {
                return;
            };
            rate_limits.forget_idle();
        }
    });
}

/// CORS for browser apps on the allowed origins, with credentials so the
/// refresh cookie can travel. Requests from other origins are served without
/// CORS headers, so browsers withhold the response from their pages.
fn cors(settings: &Settings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .supports_credentials()
        .block_on_origin_mismatch(false)
        .max_age(600);
    for origin in &settings.allowed_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Headers every response carries: no sniffing, no framing, no referrer,
/// nothing to load, and HSTS when the issuer is HTTPS. Handlers that allow
/// caching (the JWKS) set Cache-Control themselves.
fn security_headers(settings: &Settings) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add((header::CACHE_CONTROL, "no-store"));
    if settings.issuer.starts_with("https://") {
        headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}

fn run(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let cors_settings = state.settings.clone();
    let state = web::Data::new(state);

    let server = HttpServer::new(move || {
        App::new()
            .wrap(cors(&cors_settings))
            .wrap(
                actix_web::middleware::ErrorHandlers::new()
                    .default_handler(crate::error::json_body_for_plain_errors),
            )
            .wrap(security_headers(&cors_settings))
            .wrap(actix_web::middleware::from_fn(
                crate::metrics::observe_request,
            ))
            .wrap(auth_shared::telemetry::request_logger())
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(MAX_JSON_BYTES))
            .app_data(web::QueryConfig::default().error_handler(|error, _| {
                ApiError::BadRequest(format!("invalid query string: {error}")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|error, _| {
                ApiError::BadRequest(format!("invalid path parameter: {error}")).into()
            }))
            .configure(routes::configure)
            .default_service(web::to(not_found))
    })
    .listen(listener)?
    .run();

    Ok(server)
}
