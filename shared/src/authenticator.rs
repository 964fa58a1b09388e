//! The [`Authenticator`]: a [`Verifier`] joined with a [`JwksClient`], which
//! is what an API registers as app data so that the extractors can check
//! bearer tokens.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;

use crate::claims::AccessClaims;
use crate::clock::{Clock, SystemClock};
use crate::jwks::JwksClient;
use crate::verifier::{Verifier, VerifyError};

/// How many verified tokens are remembered. Each entry is one token's claims,
/// a few hundred bytes.
pub const VERIFIED_TOKEN_CACHE_CAPACITY: usize = 4096;

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
    verified: Arc<VerifiedTokens>,
}

/// Claims of tokens that passed full verification, keyed by the SHA-256 of
/// the whole token text (signature included), so a client that sends the same
/// access token with every request pays for one RSA verification.
///
/// A hit is only a shortcut for the signature: the token's `kid` must still
/// be in the current key set (a retired key stops its tokens at once) and
/// the claims are checked against the clock again, so an expired token is
/// rejected exactly as without the cache.
#[derive(Default)]
struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], VerifiedToken>>,
}

/// A token that passed full verification: its `kid` and claims.
#[derive(Clone)]
struct VerifiedToken {
    kid: Arc<str>,
    claims: Arc<AccessClaims>,
}

impl VerifiedTokens {
    fn key(token: &str) -> [u8; 32] {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        key
    }

    fn get(&self, key: &[u8; 32]) -> Option<VerifiedToken> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(key).cloned()
    }

    /// Remembers a verified token; when the cache is full it first drops
    /// expired entries, and empties itself if that frees nothing.
    fn insert(&self, key: [u8; 32], token: VerifiedToken, now: i64) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= VERIFIED_TOKEN_CACHE_CAPACITY {
            entries.retain(|_, cached| cached.claims.exp > now);
            if entries.len() >= VERIFIED_TOKEN_CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, token);
    }
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
            verified: Arc::default(),
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

    async fn verify(&self, token_text: &str) -> Result<AccessClaims, VerifyError> {
        let now = self.clock.now();

        // A token seen before skips parsing and the signature check. The size
        // bound comes first, so no one can make this hash a huge input.
        let cache_key = (token_text.len() <= self.verifier.config().max_token_bytes)
            .then(|| VerifiedTokens::key(token_text));
        if let Some(cached) = cache_key.as_ref().and_then(|key| self.verified.get(key))
            && self.jwks.keys().contains(&cached.kid)
        {
            self.verifier.recheck_claims(&cached.claims, now)?;
            return Ok(AccessClaims::clone(&cached.claims));
        }

        let token = self.verifier.parse(token_text)?;
        let mut keys = self.jwks.keys();
        if !keys.contains(token.kid()) {
            keys = self.jwks.keys_for_unknown_kid(token.kid()).await;
            if keys.is_empty() && !self.jwks.is_ready() {
                return Err(VerifyError::KeysUnavailable);
            }
        }

        let claims = self.verifier.verify_parsed(&token, &keys, now)?;
        if let Some(key) = cache_key {
            let verified = VerifiedToken {
                kid: Arc::from(token.kid()),
                claims: Arc::new(claims.clone()),
            };
            self.verified
                .insert(key, verified, crate::clock::unix_seconds(now));
        }
        Ok(claims)
    }
}
