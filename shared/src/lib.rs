//! Access token verification for APIs that trust an auth server's published keys.
//!
//! The auth server signs RS256 access tokens and publishes its public keys as a
//! JWKS. This crate contains the wire types both sides agree on ([`claims`],
//! [`jwk`]) and the pieces a resource server needs to verify tokens locally:
//!
//! - [`verifier`]: the rules a token must pass, given keys and the time.
//! - [`keyset`]: keys parsed from a JWKS once, looked up by `kid`.
//! - [`jwks`]: a client that fetches, caches and refreshes the JWKS.
//! - [`authenticator`]: the verifier and JWKS client joined, registered as
//!   actix-web app data.
//! - [`extractor`] and [`scope`]: actix-web extractors that authenticate a
//!   request and require scopes, with RFC 6750 error responses.
//! - [`clock`]: the time source, replaceable in tests.
//! - `openapi` (feature `openapi`): the bearer security scheme for OpenAPI
//!   documents generated with utoipa.
//!
//! The `testing` feature adds [`testing`], which signs test tokens.

pub mod authenticator;
pub mod claims;
pub mod clock;
pub mod extractor;
pub mod jwk;
pub mod jwks;
pub mod keyset;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod scope;
#[cfg(feature = "telemetry")]
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod verifier;

pub use authenticator::Authenticator;
pub use claims::{ACCESS_TOKEN_TYPE, ADMIN_SCOPE, AccessClaims, Audience};
pub use extractor::{AuthError, AuthenticatedUser};
pub use jwks::{JwksClient, JwksConfig, JwksSource};
pub use keyset::KeySet;
pub use scope::{Admin, AdminUser, RequireScope, RequiredScope};
pub use verifier::{Verifier, VerifierConfig, VerifyError};

/// Compiles the README's examples as doctests, so the guide stays correct.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
