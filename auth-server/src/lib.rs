//! The authorization server: users, passwords, RS256 access tokens, rotating
//! refresh tokens and the published JWKS.
//!
//! Where things are: `routes` handles requests (one file per area),
//! `service` combines queries into transactions, `db` holds every SQL query,
//! `tokens` mints access and refresh tokens, `keys` owns the RSA keys, and
//! `bearer` checks the access token of protected routes.

pub mod bearer;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod error;
pub mod json;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod password;
pub mod rate_limit;
pub mod routes;
pub mod service;
pub mod startup;
pub mod state;
pub mod tokens;
pub mod validation;
