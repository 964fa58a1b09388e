//! The integration suite in one test binary: every module starts real
//! servers on free ports and drives them over HTTP. One binary links the
//! servers once instead of once per file. Tests that install a global log
//! subscriber or measure timings run as binaries of their own.

mod admin;
mod cookies;
mod hostile_requests;
mod hostile_tokens;
mod key_rotation;
mod metrics;
mod openapi;
mod outage;
mod rate_limits;
mod refresh_concurrency;
mod refresh_revocation;
mod refresh_rotation;
mod refresh_storage;
mod registration;
mod resource;
mod sessions;
mod slow_body;
mod walkthrough;
