//! Listing, rotating and retiring signing keys.
//!
//! These commands edit the key store in the data dir; running servers pick
//! up the change at their next key reload (`AUTH_KEY_RELOAD_SECS`).

use std::time::Duration;

use chrono::Utc;

use super::CommandError;
use crate::config::Settings;
use crate::keys::store::{self, KeyEntry, KeyState};

/// The activation delay `keys rotate` uses when none is given: twice the
/// Cache-Control max-age of the JWKS, so cached key sets are refreshed
/// before the new key signs.
pub const DEFAULT_ACTIVATION_DELAY: Duration =
    Duration::from_secs(2 * crate::routes::METADATA_MAX_AGE_SECS);

/// Extra time after a key's last possible token expires before it may be
/// retired, to cover clock skew between servers.
const RETIRE_MARGIN: Duration = Duration::from_secs(60);

fn keys_dir(settings: &Settings) -> std::path::PathBuf {
    settings.data_dir.join("keys")
}

/// One line per key: kid, state, creation and activation times.
pub fn list(settings: &Settings) -> Result<Vec<String>, CommandError> {
    if settings.signing_key_file.is_some() {
        println!("AUTH_SIGNING_KEY_FILE is set: that key signs; the keys below are published only");
    }
    let manifest = store::load_manifest(&keys_dir(settings))
        .map_err(|error| CommandError(error.to_string()))?;
    let now = Utc::now();

    Ok(manifest
        .keys
        .iter()
        .map(|entry| {
            let state = match manifest.state_of(entry, now) {
                KeyState::Pending => "pending",
                KeyState::Signing => "signing",
                KeyState::VerifyOnly => "verify-only",
                KeyState::Retired => "retired",
            };
            format!(
                "{}  {:<11}  created {}  signs from {}{}",
                entry.kid,
                state,
                entry.created_at.to_rfc3339(),
                entry.activates_at.to_rfc3339(),
                entry
                    .retired_at
                    .map(|at| format!("  retired {}", at.to_rfc3339()))
                    .unwrap_or_default()
            )
        })
        .collect())
}

/// Adds a key that is published at once and signs after `activation_delay`.
pub fn rotate(settings: &Settings, activation_delay: Duration) -> Result<KeyEntry, CommandError> {
    let entry = store::add_key(&keys_dir(settings), Utc::now(), activation_delay)
        .map_err(|error| CommandError(format!("adding a key failed: {error}")))?;
    tracing::info!(event = "key_rotated", kid = %entry.kid, activates_at = %entry.activates_at, "added a signing key");
    Ok(entry)
}

/// Retires a key that no longer signs once every token it signed has expired.
pub fn retire(settings: &Settings, kid: &str, force: bool) -> Result<KeyEntry, CommandError> {
    let min_age = settings.access_token_ttl + RETIRE_MARGIN;
    let entry = store::retire_key(&keys_dir(settings), kid, Utc::now(), min_age, force)
        .map_err(|error| CommandError(format!("retiring {kid} failed: {error}")))?;
    tracing::info!(event = "key_retired", kid = %entry.kid, "retired a signing key");
    Ok(entry)
}
