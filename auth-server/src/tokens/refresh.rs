//! Opaque refresh tokens: 256 random bits, stored only as a SHA-256 hash.
//!
//! A plain hash suffices because the token has full entropy: no dictionary
//! or brute-force search can invert it, so a copy of the database yields no
//! usable token.

use aws_lc_rs::digest;
use secrecy::{ExposeSecret, SecretString};

/// The number of random bytes in a refresh token (256 bits).
const TOKEN_BYTES: usize = 32;

/// A refresh token as sent to the client; its Debug output is redacted.
#[derive(Debug, Clone)]
pub struct RefreshToken(SecretString);

impl RefreshToken {
    /// Generates a new random refresh token.
    pub fn generate() -> RefreshToken {
        RefreshToken(SecretString::from(super::random_base64url(TOKEN_BYTES)))
    }

    /// Wraps a token presented by a client.
    pub fn presented(text: &str) -> RefreshToken {
        RefreshToken(SecretString::from(text.to_owned()))
    }

    /// The hex SHA-256 of the token, the only form that is stored.
    pub fn hash(&self) -> String {
        let hash = digest::digest(&digest::SHA256, self.0.expose_secret().as_bytes());
        hash.as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The token text, for the response body or cookie.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Generates a public session id (128 random bits).
pub fn new_session_id() -> String {
    super::random_base64url(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_differ_and_hash_stably() {
        let first = RefreshToken::generate();
        let second = RefreshToken::generate();

        assert_ne!(first.expose(), second.expose());
        assert_eq!(first.hash(), RefreshToken::presented(first.expose()).hash());
        assert_eq!(first.hash().len(), 64);
        assert!(!format!("{first:?}").contains(first.expose()));
    }
}
