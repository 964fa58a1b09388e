//! A fake auth server for tests: serves a discovery document and a JWKS on
//! 127.0.0.1, counts requests, and can be set to fail.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::jwk::JwkSet;
use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

/// Response mode of the JWKS endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwksMode {
    /// The configured keys, with the configured `Cache-Control`.
    Keys,
    /// 503 Service Unavailable.
    Unavailable,
    /// 200 with a body that is not JSON.
    Garbage,
}

struct IssuerState {
    base_url: String,
    jwks: Mutex<JwkSet>,
    mode: Mutex<JwksMode>,
    cache_control: Mutex<String>,
    advertised_issuer: Mutex<Option<String>>,
    jwks_fetches: AtomicUsize,
    discovery_fetches: AtomicUsize,
}

/// A running fake issuer. Stopped when [`FakeIssuer::stop`] is called.
pub struct FakeIssuer {
    state: Arc<IssuerState>,
    handle: ServerHandle,
}

impl FakeIssuer {
    /// Starts a server on a free port of 127.0.0.1 that publishes `jwks`
    /// with `Cache-Control: public, max-age=300`.
    ///
    /// # Panics
    ///
    /// When no port can be bound.
    #[expect(
        clippy::expect_used,
        reason = "test helper; failure means a broken environment"
    )]
    pub async fn start(jwks: JwkSet) -> FakeIssuer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port on 127.0.0.1");
        FakeIssuer::start_on(listener, jwks).await
    }

    /// Same as [`FakeIssuer::start`], serving on `listener`.
    ///
    /// # Panics
    ///
    /// When the server cannot use the listener.
    #[expect(
        clippy::expect_used,
        reason = "test helper; failure means a broken environment"
    )]
    pub async fn start_on(listener: TcpListener, jwks: JwkSet) -> FakeIssuer {
        let base_url = format!(
            "http://{}",
            listener.local_addr().expect("read the listener address")
        );
        let state = Arc::new(IssuerState {
            base_url,
            jwks: Mutex::new(jwks),
            mode: Mutex::new(JwksMode::Keys),
            cache_control: Mutex::new("public, max-age=300".into()),
            advertised_issuer: Mutex::new(None),
            jwks_fetches: AtomicUsize::new(0),
            discovery_fetches: AtomicUsize::new(0),
        });

        let app_state = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/.well-known/jwks.json", web::get().to(jwks_document))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .expect("serve on the listener")
        .run();
        let handle = server.handle();
        tokio::spawn(server);

        FakeIssuer { state, handle }
    }

    /// Returns the issuer URL, which is also the base of both documents.
    pub fn issuer(&self) -> &str {
        &self.state.base_url
    }

    /// Returns the JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.state.base_url)
    }

    /// Replaces the published keys.
    pub fn set_keys(&self, jwks: JwkSet) {
        *lock(&self.state.jwks) = jwks;
    }

    /// Sets what the JWKS endpoint returns.
    pub fn set_mode(&self, mode: JwksMode) {
        *lock(&self.state.mode) = mode;
    }

    /// Sets the `Cache-Control` header of the JWKS.
    pub fn set_cache_control(&self, value: &str) {
        *lock(&self.state.cache_control) = value.to_owned();
    }

    /// Makes the discovery document name `issuer` instead of the real URL.
    pub fn set_advertised_issuer(&self, issuer: &str) {
        *lock(&self.state.advertised_issuer) = Some(issuer.to_owned());
    }

    /// Returns how many times the JWKS was requested.
    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Returns how many times the discovery document was requested.
    pub fn discovery_fetches(&self) -> usize {
        self.state.discovery_fetches.load(Ordering::SeqCst)
    }

    /// Stops the server and waits until it no longer accepts connections.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn discovery(state: web::Data<IssuerState>) -> HttpResponse {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let issuer = lock(&state.advertised_issuer)
        .clone()
        .unwrap_or_else(|| state.base_url.clone());

    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/.well-known/jwks.json", state.base_url),
    }))
}

async fn jwks_document(state: web::Data<IssuerState>) -> HttpResponse {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let mode = *lock(&state.mode);

    match mode {
        JwksMode::Keys => HttpResponse::Ok()
            .insert_header(("Cache-Control", lock(&state.cache_control).clone()))
            .json(&*lock(&state.jwks)),
        JwksMode::Unavailable => HttpResponse::ServiceUnavailable().finish(),
        JwksMode::Garbage => HttpResponse::Ok()
            .content_type("application/json")
            .body("<html>not json</html>"),
    }
}

/// Locks a mutex of the fake server's state. A test that panicked while
/// holding it leaves plain values that are still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Polls `condition` every 20 ms until it returns true or `timeout` passes.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}
