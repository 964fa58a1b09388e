//! The [`Authenticator`]: a [`Verifier`] joined with a [`JwksClient`], which
//! is what an API registers as app data so that the extractors can check
//! bearer tokens.

use std::fmt;
use std::sync::Arc;

use crate::claims::AccessClaims;
use crate::clock::{Clock, SystemClock};
use crate::jwks::JwksClient;
use crate::verifier::{Verifier, VerifyError};

/// Default `realm` of `WWW-Authenticate` challenges.
pub const DEFAULT_REALM: &str = "api";

/// A callback that receives the outcome of every token check, for metrics.
pub type VerificationObserver = Arc<dyn Fn(Result<&AccessClaims, &VerifyError>) + Send + Sync>;

/// Verifies bearer tokens with keys from a JWKS client.
///
/// Register it as `web::Data<Authenticator>`; the extractors in
/// [`crate::extractor`] and [`crate::scope`] look for exactly that type.
#[derive(Clone)]
pub struct Authenticator {
    verifier: Verifier,
    jwks: JwksClient,
    clock: Arc<dyn Clock>,
    realm: Arc<str>,
    observer: Option<VerificationObserver>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("verifier", &self.verifier)
            .field("jwks", &self.jwks)
            .field("clock", &self.clock)
            .field("realm", &self.realm)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl Authenticator {
    /// Creates an authenticator that reads the system clock and uses the
    /// realm [`DEFAULT_REALM`].
    pub fn new(verifier: Verifier, jwks: JwksClient) -> Self {
        Authenticator {
            verifier,
            jwks,
            clock: Arc::new(SystemClock),
            realm: Arc::from(DEFAULT_REALM),
            observer: None,
        }
    }

    /// Sets the clock that `exp`, `nbf` and `iat` are compared with.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the `realm` of challenges. Characters that cannot appear in a
    /// quoted header value (quotes, backslashes, controls, non-ASCII) are
    /// dropped.
    pub fn with_realm(mut self, realm: &str) -> Self {
        self.realm = Arc::from(crate::extractor::header_safe(realm));
        self
    }

    /// Sets a callback that receives the outcome of every token check.
    pub fn with_observer(mut self, observer: VerificationObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Returns the verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Returns the JWKS client.
    pub fn jwks(&self) -> &JwksClient {
        &self.jwks
    }

    /// Returns the `realm` of challenges.
    pub fn realm(&self) -> &Arc<str> {
        &self.realm
    }

    /// Verifies a compact access token and returns its claims.
    ///
    /// A token whose `kid` is not cached may trigger one JWKS fetch, subject
    /// to the client's cooldown. Before any keys were loaded, every token is
    /// rejected with [`VerifyError::KeysUnavailable`].
    pub async fn authenticate(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        let result = self.verify(token).await;

        if let Some(observer) = &self.observer {
            observer(result.as_ref());
        }
        result
    }

    async fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        let token = self.verifier.parse(token)?;

        let mut keys = self.jwks.keys();
        if !keys.contains(token.kid()) {
            keys = self.jwks.keys_for_unknown_kid(token.kid()).await;
            if keys.is_empty() && !self.jwks.is_ready() {
                return Err(VerifyError::KeysUnavailable);
            }
        }

        self.verifier.verify_parsed(&token, &keys, self.clock.now())
    }
}
