//! A JWKS client: fetches the auth server's public keys, caches them and keeps
//! them fresh, so that verifying a token never waits on the network unless
//! its `kid` is unknown.
//!
//! Policy, in one place:
//! - A background task fetches the keys at start, then again whenever the
//!   cache lifetime ends. The lifetime is the response's `Cache-Control`
//!   `max-age`, clamped to [`JwksConfig::min_ttl`] and
//!   [`JwksConfig::max_ttl`]. A response without `max-age` gets `min_ttl`.
//! - A failed fetch keeps the last good keys and is retried with exponential
//!   backoff. A JWKS that is not JSON, is too large or has no usable RS256
//!   key counts as a failed fetch.
//! - A token with an unknown `kid` causes at most one fetch per
//!   [`JwksConfig::refetch_cooldown`], measured from the last fetch of any
//!   kind. All fetches are single flight: concurrent callers wait for the
//!   fetch in progress instead of starting their own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, CACHE_CONTROL, HeaderMap};
use serde::Deserialize;
use tokio::sync::{Mutex, watch};
use tokio::task::AbortHandle;

use crate::clock::{Clock, SystemClock};
use crate::jwk::JwkSet;
use crate::keyset::KeySet;

/// Path of the discovery document under the issuer URL (RFC 8414, OpenID
/// Connect Discovery).
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Location of the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// Read `jwks_uri` from the issuer's discovery document, whose `issuer`
    /// must equal this URL exactly.
    Discovery {
        /// The issuer URL, as it appears in the `iss` claim.
        issuer: String,
    },
    /// Fetch the JWKS from this URL directly.
    Url(String),
}

/// Settings of a [`JwksClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksConfig {
    /// Location of the JWKS.
    pub source: JwksSource,
    /// Minimum cache lifetime, regardless of `Cache-Control`. Default 30 s.
    pub min_ttl: Duration,
    /// Maximum cache lifetime, regardless of `Cache-Control`. Default 1 hour.
    /// Removed keys stay trusted up to this long.
    pub max_ttl: Duration,
    /// Minimum time between a fetch and a fetch caused by an unknown `kid`.
    /// Default 10 s. Lower values let random `kid`s cause more fetches.
    pub refetch_cooldown: Duration,
    /// First wait after a failed fetch. Default 1 s, doubled on each failure.
    pub retry_initial: Duration,
    /// Maximum wait between retries. Default 60 s.
    pub retry_max: Duration,
    /// Time limit of one HTTP request, connection included. Default 10 s.
    pub request_timeout: Duration,
    /// Largest JWKS or discovery document accepted, in bytes. Default 1 MiB.
    pub max_response_bytes: usize,
}

impl JwksConfig {
    /// Creates a configuration that finds the JWKS through the discovery
    /// document of `issuer`.
    pub fn from_issuer(issuer: impl Into<String>) -> Self {
        JwksConfig::with_source(JwksSource::Discovery {
            issuer: issuer.into(),
        })
    }

    /// Creates a configuration that fetches the JWKS from `url`.
    pub fn from_url(url: impl Into<String>) -> Self {
        JwksConfig::with_source(JwksSource::Url(url.into()))
    }

    fn with_source(source: JwksSource) -> Self {
        JwksConfig {
            source,
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(3600),
            refetch_cooldown: Duration::from_secs(10),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
        }
    }

    /// Computes the cache lifetime of a response from its headers.
    fn cache_ttl(&self, headers: &HeaderMap) -> Duration {
        let max_age = headers
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find_map(parse_max_age);

        max_age
            .unwrap_or(self.min_ttl)
            .clamp(self.min_ttl, self.max_ttl.max(self.min_ttl))
    }
}

/// Reason a fetch failed. The last good keys stay in use either way.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The HTTP client could not be built.
    #[error("failed to build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// The request failed or timed out.
    #[error("request to {url} failed")]
    Request {
        /// The URL requested.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server returned a non-success status.
    #[error("{url} returned HTTP {status}")]
    Status {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body is larger than [`JwksConfig::max_response_bytes`].
    #[error("{url} returned more than {max} bytes")]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The limit, in bytes.
        max: usize,
    },
    /// The body is not the expected JSON document.
    #[error("{url} returned invalid JSON")]
    InvalidJson {
        /// The URL requested.
        url: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The discovery document names another issuer.
    #[error("discovery document names issuer {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The `issuer` of the document.
        found: String,
    },
    /// The JWKS parsed but has no key usable for RS256 verification.
    #[error("{url} has no usable RS256 signature key")]
    NoUsableKeys {
        /// The URL requested.
        url: String,
    },
}

/// Counters and cache state of a [`JwksClient`], for metrics and health checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksStats {
    /// Fetch attempts since start, successful or not.
    pub fetches: u64,
    /// Failed fetch attempts since start.
    pub failed_fetches: u64,
    /// Keys in the cache now.
    pub keys: usize,
    /// Whether keys have been loaded at least once.
    pub ready: bool,
    /// Cache lifetime taken from the last successful fetch.
    pub ttl: Option<Duration>,
    /// Time of the last successful fetch, by the client's clock.
    pub fetched_at: Option<SystemTime>,
}

/// Cache contents that readers see. Replaced whole on each successful fetch.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    keys: Arc<KeySet>,
    ready: bool,
    ttl: Option<Duration>,
    fetched_at: Option<SystemTime>,
}

/// State guarded by the fetch lock.
#[derive(Debug, Default)]
struct FetchState {
    /// `jwks_uri` from discovery, forgotten after a failed fetch so that the
    /// next attempt reads the discovery document again.
    discovered_jwks_uri: Option<String>,
    last_attempt: Option<SystemTime>,
}

#[derive(Debug)]
struct Shared {
    config: JwksConfig,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    snapshot: watch::Sender<Snapshot>,
    fetch: Mutex<FetchState>,
    fetches: AtomicU64,
    failed_fetches: AtomicU64,
}

/// Stops the background refresh when the last [`JwksClient`] clone is dropped.
#[derive(Debug)]
struct RefreshTask(AbortHandle);

impl Drop for RefreshTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A cached, self-refreshing JWKS. Clones are cheap and share one cache.
#[derive(Debug, Clone)]
pub struct JwksClient {
    shared: Arc<Shared>,
    _refresh_task: Arc<RefreshTask>,
}

impl JwksClient {
    /// Creates the client and starts its background refresh on the current
    /// Tokio runtime. Returns at once, with no keys: use
    /// [`JwksClient::is_ready`] or [`JwksClient::wait_until_ready`] to know
    /// when keys arrive.
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime.
    pub fn start(config: JwksConfig) -> Result<JwksClient, JwksError> {
        JwksClient::start_with_clock(config, Arc::new(SystemClock))
    }

    /// Same as [`JwksClient::start`], reading time from `clock`. The clock
    /// times fetches and the cooldown, but waits between background fetches use
    /// Tokio timers.
    pub fn start_with_clock(
        config: JwksConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<JwksClient, JwksError> {
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            // Fetches are minutes apart and may start on different runtimes
            // (actix runs one per worker), so pooled connections bring no
            // gain and could outlive the runtime that opened them.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("auth-shared/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(JwksError::Client)?;

        let shared = Arc::new(Shared {
            config,
            http,
            clock,
            snapshot: watch::Sender::new(Snapshot::default()),
            fetch: Mutex::new(FetchState::default()),
            fetches: AtomicU64::new(0),
            failed_fetches: AtomicU64::new(0),
        });
        let task = tokio::spawn(refresh_forever(Arc::clone(&shared)));

        Ok(JwksClient {
            shared,
            _refresh_task: Arc::new(RefreshTask(task.abort_handle())),
        })
    }

    /// Returns the configuration.
    pub fn config(&self) -> &JwksConfig {
        &self.shared.config
    }

    /// Returns the cached keys, which are empty until the first fetch succeeds.
    pub fn keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.shared.snapshot.borrow().keys)
    }

    /// Reports whether keys have been loaded at least once.
    pub fn is_ready(&self) -> bool {
        self.shared.snapshot.borrow().ready
    }

    /// Waits until keys have been loaded at least once.
    pub async fn wait_until_ready(&self) {
        let mut updates = self.shared.snapshot.subscribe();
        // The sender lives in `shared`, which `self` keeps alive, so waiting
        // cannot fail.
        let _ = updates.wait_for(|snapshot| snapshot.ready).await;
    }

    /// Returns the number of fetch attempts since start.
    pub fn fetch_count(&self) -> u64 {
        self.shared.fetches.load(Ordering::Relaxed)
    }

    /// Returns counters and cache state.
    pub fn stats(&self) -> JwksStats {
        let snapshot = self.shared.snapshot.borrow();
        JwksStats {
            fetches: self.shared.fetches.load(Ordering::Relaxed),
            failed_fetches: self.shared.failed_fetches.load(Ordering::Relaxed),
            keys: snapshot.keys.len(),
            ready: snapshot.ready,
            ttl: snapshot.ttl,
            fetched_at: snapshot.fetched_at,
        }
    }

    /// Fetches the JWKS now, ignoring the cooldown, and returns the keys in
    /// use afterwards. If a fetch is already running, waits for it and
    /// fetches again.
    pub async fn refresh(&self) -> Result<Arc<KeySet>, JwksError> {
        let mut fetch = self.shared.fetch.lock().await;
        self.shared.fetch_locked(&mut fetch).await?;
        Ok(self.keys())
    }

    /// Returns keys that may contain `kid`, which the cached keys lacked.
    ///
    /// Fetches the JWKS again unless a fetch started less than
    /// [`JwksConfig::refetch_cooldown`] ago. Concurrent callers share one
    /// fetch. A failed fetch is logged and the cached keys are returned.
    pub async fn keys_for_unknown_kid(&self, kid: &str) -> Arc<KeySet> {
        let mut fetch = self.shared.fetch.lock().await;

        // Another caller may have fetched while this one waited for the lock.
        let keys = self.keys();
        if keys.contains(kid) || self.shared.in_cooldown(&fetch) {
            return keys;
        }

        tracing::info!("fetching JWKS for an unknown kid");
        if let Err(error) = self.shared.fetch_locked(&mut fetch).await {
            tracing::warn!(error = %error_chain(&error), "JWKS fetch for an unknown kid failed");
        }
        self.keys()
    }
}

impl Shared {
    fn in_cooldown(&self, fetch: &FetchState) -> bool {
        let Some(last_attempt) = fetch.last_attempt else {
            return false;
        };
        // A clock that went backwards ends the cooldown rather than
        // extending it by the size of the jump.
        match self.clock.now().duration_since(last_attempt) {
            Ok(elapsed) => elapsed < self.config.refetch_cooldown,
            Err(_) => false,
        }
    }

    /// Fetches once and publishes the keys on success. The caller holds the
    /// fetch lock, which makes fetches single flight.
    async fn fetch_locked(&self, fetch: &mut FetchState) -> Result<Duration, JwksError> {
        let started = self.clock.now();
        fetch.last_attempt = Some(started);
        self.fetches.fetch_add(1, Ordering::Relaxed);

        match self.fetch_keys(fetch).await {
            Ok((keys, ttl)) => {
                tracing::debug!(keys = keys.len(), ttl_secs = ttl.as_secs(), "JWKS loaded");
                self.snapshot.send_replace(Snapshot {
                    keys: Arc::new(keys),
                    ready: true,
                    ttl: Some(ttl),
                    fetched_at: Some(started),
                });
                Ok(ttl)
            }
            Err(error) => {
                self.failed_fetches.fetch_add(1, Ordering::Relaxed);
                fetch.discovered_jwks_uri = None;
                Err(error)
            }
        }
    }

    async fn fetch_keys(&self, fetch: &mut FetchState) -> Result<(KeySet, Duration), JwksError> {
        let url = match (&self.config.source, &fetch.discovered_jwks_uri) {
            (JwksSource::Url(url), _) => url.clone(),
            (JwksSource::Discovery { .. }, Some(url)) => url.clone(),
            (JwksSource::Discovery { issuer }, None) => {
                let url = self.discover_jwks_uri(issuer).await?;
                fetch.discovered_jwks_uri = Some(url.clone());
                url
            }
        };

        let (headers, body) = self.get(&url).await?;
        let jwks: JwkSet =
            serde_json::from_slice(&body).map_err(|source| JwksError::InvalidJson {
                url: url.clone(),
                source,
            })?;

        let keys = KeySet::from_jwks(&jwks);
        if keys.is_empty() {
            return Err(JwksError::NoUsableKeys { url });
        }
        Ok((keys, self.config.cache_ttl(&headers)))
    }

    async fn discover_jwks_uri(&self, issuer: &str) -> Result<String, JwksError> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }

        let url = format!("{}{DISCOVERY_PATH}", issuer.trim_end_matches('/'));
        let (_, body) = self.get(&url).await?;
        let document: Discovery = serde_json::from_slice(&body)
            .map_err(|source| JwksError::InvalidJson { url, source })?;

        // RFC 8414, section 3.3: the issuer in the document must be identical
        // to the one the client was configured with.
        if document.issuer != issuer {
            return Err(JwksError::IssuerMismatch {
                expected: issuer.to_owned(),
                found: document.issuer,
            });
        }
        Ok(document.jwks_uri)
    }

    /// Sends a GET and reads the body up to the size limit.
    async fn get(&self, url: &str) -> Result<(HeaderMap, Vec<u8>), JwksError> {
        let request_failed = |source| JwksError::Request {
            url: url.to_owned(),
            source,
        };
        let too_large = || JwksError::TooLarge {
            url: url.to_owned(),
            max: self.config.max_response_bytes,
        };

        let mut response = self
            .http
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(request_failed)?;

        let status = response.status();
        if !status.is_success() {
            return Err(JwksError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        if response
            .content_length()
            .is_some_and(|length| length > self.config.max_response_bytes as u64)
        {
            return Err(too_large());
        }

        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_failed)? {
            if body.len() + chunk.len() > self.config.max_response_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((headers, body))
    }
}

/// Fetches whenever the cache lifetime ends, and retries failures with
/// exponential backoff.
async fn refresh_forever(shared: Arc<Shared>) {
    let mut retry_delay = shared.config.retry_initial;

    loop {
        let result = {
            let mut fetch = shared.fetch.lock().await;
            shared.fetch_locked(&mut fetch).await
        };

        let delay = match result {
            Ok(ttl) => {
                retry_delay = shared.config.retry_initial;
                ttl
            }
            Err(error) => {
                let delay = retry_delay;
                tracing::warn!(
                    error = %error_chain(&error),
                    retry_in_ms = delay.as_millis() as u64,
                    have_keys = shared.snapshot.borrow().ready,
                    "JWKS fetch failed; keeping the last good keys"
                );
                retry_delay = retry_delay.saturating_mul(2).min(shared.config.retry_max);
                delay
            }
        };
        tokio::time::sleep(delay).await;
    }
}

/// Joins an error and its sources into one line for logs.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads the `max-age` directive of one `Cache-Control` value. `no-store` and
/// `no-cache` count as `max-age=0`.
fn parse_max_age(header: &str) -> Option<Duration> {
    header.split(',').find_map(|directive| {
        let directive = directive.trim();
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim();

        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if !name.eq_ignore_ascii_case("max-age") {
            return None;
        }
        let seconds = value.trim().trim_matches('"').parse::<u64>().ok()?;
        Some(Duration::from_secs(seconds))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use reqwest::header::HeaderValue;

    fn ttl_for(cache_control: Option<&str>) -> Duration {
        let config = JwksConfig::from_url("http://127.0.0.1:1/jwks.json");
        let mut headers = HeaderMap::new();
        if let Some(value) = cache_control {
            headers.insert(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        }
        config.cache_ttl(&headers)
    }

    #[test]
    fn cache_ttl_clamps_max_age() {
        let cases = [
            (
                Some("public, max-age=300"),
                300,
                "max-age within bounds is used",
            ),
            (Some("max-age=5"), 30, "short max-age is raised to min_ttl"),
            (
                Some("max-age=86400"),
                3600,
                "long max-age is cut to max_ttl",
            ),
            (
                Some("Public, MAX-AGE=\"120\""),
                120,
                "names are case-insensitive, quotes allowed",
            ),
            (Some("no-store"), 30, "no-store means the shortest lifetime"),
            (Some("max-age=abc"), 30, "unparsable max-age is ignored"),
            (None, 30, "no header means the shortest lifetime"),
        ];

        for (header, expected_secs, case) in cases {
            assert_eq!(
                ttl_for(header),
                Duration::from_secs(expected_secs),
                "{case}"
            );
        }
    }

    #[test]
    fn error_chain_joins_sources() {
        let error = JwksError::InvalidJson {
            url: "http://x/jwks".into(),
            source: serde_json::from_str::<JwkSet>("{").unwrap_err(),
        };

        let text = error_chain(&error);

        assert!(
            text.starts_with("http://x/jwks returned invalid JSON: "),
            "{text}"
        );
    }
}
