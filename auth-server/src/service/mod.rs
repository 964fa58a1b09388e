//! Operations that combine several queries, each in one transaction.
//!
//! Functions here are synchronous and take a connection, like the queries in
//! `db`; handlers run them through `Database::run`.

pub mod accounts;
pub mod admin;
pub mod sessions;
