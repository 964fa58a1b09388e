//! Access token verification for APIs that trust an auth server's published keys.
//!
//! The auth server signs RS256 access tokens and publishes its public keys as a
//! JWKS. This crate holds the wire types both sides agree on ([`claims`],
//! [`jwk`]) and the pieces a resource server needs to verify tokens locally.

pub mod claims;
pub mod jwk;
