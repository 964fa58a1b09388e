//! Integration harness: starts the real auth server (and resource server) in
//! this process on free ports, each with its own temporary data dir and
//! database, and talks HTTP to them with typed helpers.
//!
//! Set `TEST_POSTGRES_URL` (for example
//! `postgres://postgres@127.0.0.1:5432/test`) to run every test against
//! PostgreSQL: each test then creates and drops a database of its own. A
//! test fails, never skips, when that server cannot be reached.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod auth;
pub mod database;
pub mod proxy;
pub mod resource;

pub use auth::{TestAuthServer, TestAuthServerBuilder};
pub use database::TestDatabase;
pub use resource::TestResourceServer;

/// Decodes the claims of a JWT without verifying it, for assertions.
pub fn unverified_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("JWT payload is base64url");
    serde_json::from_slice(&bytes).expect("JWT payload is JSON")
}

/// Decodes the header of a JWT without verifying it, for assertions.
pub fn unverified_header(token: &str) -> serde_json::Value {
    use base64::Engine;
    let header = token.split('.').next().expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("JWT header is base64url");
    serde_json::from_slice(&bytes).expect("JWT header is JSON")
}
