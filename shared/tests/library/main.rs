//! The shared crate as a resource server uses it: extractors and scope
//! guards, the JWKS client against a real HTTP server, and the cache of
//! verified tokens.

mod extractor;
mod jwks_client;
mod verified_cache;
