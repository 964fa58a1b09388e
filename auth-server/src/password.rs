//! Password policy and bcrypt hashing on a bounded blocking pool.
//!
//! bcrypt reads at most 72 bytes, so longer passwords are rejected instead of
//! being truncated silently. Passwords are normalized to Unicode NFC before
//! hashing and before checking, so the same text typed on different systems
//! matches.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

/// Minimum number of characters in a new password.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Maximum password length in bytes, the most bcrypt reads; a longer password is rejected.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Reason a new password was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8")]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacter,
}

/// Normalizes a password to NFC, the form that is hashed and checked.
fn normalize(password: &SecretString) -> SecretString {
    SecretString::from(password.expose_secret().nfc().collect::<String>())
}

/// Hashes a password in its normalized form on the calling thread, for
/// commands that run outside the server's hashing pool.
pub fn hash_now(password: &SecretString, cost: u32) -> Result<String, bcrypt::BcryptError> {
    bcrypt::hash(normalize(password).expose_secret(), cost)
}

/// Checks a new password against the policy.
pub fn check_policy(password: &SecretString) -> Result<(), PasswordPolicyError> {
    let normalized = normalize(password);
    let text = normalized.expose_secret();

    if text.is_empty() {
        return Err(PasswordPolicyError::Empty);
    }
    if text.chars().any(char::is_control) {
        return Err(PasswordPolicyError::ControlCharacter);
    }
    if text.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordPolicyError::TooShort);
    }
    if text.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordPolicyError::TooLong);
    }
    Ok(())
}

/// Errors of the hasher itself, never of a wrong password.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("bcrypt failed: {0}")]
    Bcrypt(#[from] bcrypt::BcryptError),
    #[error("the hashing task was cancelled")]
    Cancelled,
}

/// Hashes and checks passwords with bcrypt, at most `permits` at a time, on
/// the blocking thread pool.
///
/// The limit keeps a login flood from taking every blocking thread, so
/// database work for refresh, health checks and the JWKS goes on.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("cost", &self.cost)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Creates a hasher for `cost`, computing the hash that unknown emails are
    /// checked against so their login spends the same bcrypt work.
    pub fn new(cost: u32, concurrency: usize) -> Result<PasswordHasher, HashError> {
        let dummy_hash = bcrypt::hash("no user has this password", cost)?;
        Ok(PasswordHasher {
            cost,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &SecretString) -> Result<String, HashError> {
        let password = password.clone();
        let cost = self.cost;
        self.run(move || hash_now(&password, cost)).await
    }

    /// Checks `password` against `hash`; with no hash (unknown email) it checks
    /// against a dummy hash and returns false, taking the same time.
    pub async fn verify(
        &self,
        password: &SecretString,
        hash: Option<&str>,
    ) -> Result<bool, HashError> {
        let normalized = normalize(password);
        // bcrypt would compare only the first 72 bytes; a longer password can
        // never have been set, so it must not match a prefix. It still spends
        // the same work against the dummy hash.
        let fits_bcrypt = normalized.expose_secret().len() <= MAX_PASSWORD_BYTES;
        let known = hash.is_some() && fits_bcrypt;
        let hash = if fits_bcrypt { hash } else { None };
        let hash: Arc<str> = hash
            .map(Arc::from)
            .unwrap_or_else(|| self.dummy_hash.clone());

        let matches = self
            .run(move || bcrypt::verify(normalized.expose_secret(), &hash))
            .await?;
        Ok(known && matches)
    }

    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, bcrypt::BcryptError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Cancelled)?;
        let span = tracing::Span::current();
        let result = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            work()
        })
        .await
        .map_err(|_| HashError::Cancelled)?;
        Ok(result?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn policy_rejects_each_bad_password() {
        let cases = [
            ("", PasswordPolicyError::Empty),
            ("short", PasswordPolicyError::TooShort),
            ("tab\there-password", PasswordPolicyError::ControlCharacter),
            (&"x".repeat(73), PasswordPolicyError::TooLong),
            (&"é".repeat(37), PasswordPolicyError::TooLong),
        ];

        for (password, expected) in cases {
            assert_eq!(
                check_policy(&secret(password)),
                Err(expected),
                "{password:?}"
            );
        }
        assert_eq!(check_policy(&secret("correct horse battery")), Ok(()));
        assert_eq!(check_policy(&secret(&"x".repeat(72))), Ok(()));
    }

    #[tokio::test]
    async fn verify_matches_across_unicode_forms() {
        let hasher = PasswordHasher::new(4, 2).map_err(|e| e.to_string());
        let Ok(hasher) = hasher else {
            panic!("hasher: {hasher:?}")
        };
        let composed = secret("caf\u{e9}-password");
        let decomposed = secret("cafe\u{301}-password");

        let hash = hasher.hash(&composed).await.map_err(|e| e.to_string());
        let Ok(hash) = hash else {
            panic!("hash: {hash:?}")
        };

        assert!(matches!(
            hasher.verify(&decomposed, Some(&hash)).await,
            Ok(true)
        ));
        assert!(matches!(
            hasher.verify(&secret("wrong-password"), Some(&hash)).await,
            Ok(false)
        ));
        assert!(matches!(hasher.verify(&composed, None).await, Ok(false)));
    }
}
