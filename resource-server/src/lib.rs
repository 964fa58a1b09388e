//! A reference API that trusts only the auth server's published keys.
//!
//! It fetches the JWKS, caches it and verifies access tokens locally with
//! `auth-shared`. It never calls the auth server per request and has no
//! database. [`startup::Application`] builds and runs it, and
//! [`routes::configure`] lists every route.

pub mod config;
pub mod error;
pub mod items;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod startup;

pub use config::Settings;
pub use startup::Application;
