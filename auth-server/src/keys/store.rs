//! The key store on disk: `<data dir>/keys/<kid>.pem` files plus
//! `manifest.json`, which records when each key was created, when it starts
//! signing and when it was retired.
//!
//! The signing key at a given time is the live key with the latest
//! activation time not after it. A rotation adds a key whose activation lies
//! in the future, so every server publishes it in the JWKS before any token
//! carries its kid. Retiring deletes the private key file and keeps the
//! manifest entry, so the kid is never reused silently.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::signing::{
    KeyError, SigningKey, create_private_dir, generate_key_file, io_error, write_private_file,
};

const MANIFEST_FILE: &str = "manifest.json";

/// One key's dates, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub kid: String,
    pub created_at: DateTime<Utc>,
    /// When the key starts signing (it is published from `created_at`).
    pub activates_at: DateTime<Utc>,
    /// When the key was withdrawn from the JWKS and its file deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<DateTime<Utc>>,
}

/// The contents of `manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub keys: Vec<KeyEntry>,
}

/// The state of a key at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published; starts signing at its activation time.
    Pending,
    /// Published and signing new tokens.
    Signing,
    /// Published so that tokens it signed keep verifying; signs nothing new.
    VerifyOnly,
    /// Withdrawn; tokens it signed no longer verify.
    Retired,
}

impl Manifest {
    /// Keys that are not retired.
    pub fn live(&self) -> impl Iterator<Item = &KeyEntry> {
        self.keys.iter().filter(|entry| entry.retired_at.is_none())
    }

    /// The kid that signs at `now`: the live key activated last, not after
    /// `now`. When the clock reads earlier than every activation (it was set
    /// back after the first key was made), the earliest key signs rather
    /// than none.
    pub fn signing_kid(&self, now: DateTime<Utc>) -> Option<&str> {
        let activated = self
            .live()
            .filter(|entry| entry.activates_at <= now)
            .max_by_key(|entry| entry.activates_at);
        activated
            .or_else(|| self.live().min_by_key(|entry| entry.activates_at))
            .map(|entry| entry.kid.as_str())
    }

    /// The state of `entry` at `now`.
    pub fn state_of(&self, entry: &KeyEntry, now: DateTime<Utc>) -> KeyState {
        if entry.retired_at.is_some() {
            KeyState::Retired
        } else if self.signing_kid(now) == Some(entry.kid.as_str()) {
            KeyState::Signing
        } else if entry.activates_at > now {
            KeyState::Pending
        } else {
            KeyState::VerifyOnly
        }
    }

    /// When `kid` stopped signing: the activation of the next key after it.
    fn signing_ended_at(&self, kid: &str) -> Option<DateTime<Utc>> {
        let entry = self.keys.iter().find(|entry| entry.kid == kid)?;
        self.live()
            .filter(|other| other.activates_at > entry.activates_at)
            .map(|other| other.activates_at)
            .min()
    }
}

fn manifest_path(keys_dir: &Path) -> PathBuf {
    keys_dir.join(MANIFEST_FILE)
}

/// The path of a key's PEM file.
pub fn key_path(keys_dir: &Path, kid: &str) -> PathBuf {
    keys_dir.join(format!("{kid}.pem"))
}

/// Reads the manifest; a missing file is an empty manifest.
pub fn load_manifest(keys_dir: &Path) -> Result<Manifest, KeyError> {
    let path = manifest_path(keys_dir);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Manifest::default());
        }
        Err(error) => {
            return Err(KeyError::Io {
                path,
                source: error,
            });
        }
    };
    serde_json::from_str(&text).map_err(|error| KeyError::Manifest {
        path,
        message: error.to_string(),
    })
}

/// Writes the manifest atomically: to a temporary file, then renamed.
fn save_manifest(keys_dir: &Path, manifest: &Manifest) -> Result<(), KeyError> {
    let path = manifest_path(keys_dir);
    let text = serde_json::to_vec_pretty(manifest).map_err(|error| KeyError::Manifest {
        path: path.clone(),
        message: error.to_string(),
    })?;

    let temporary = keys_dir.join(format!(".{MANIFEST_FILE}.tmp"));
    write_private_file(&temporary, &text)?;
    fs::rename(&temporary, &path).map_err(io_error(&path))
}

/// Generates a first key, signing at once, when the store has no live key.
pub fn ensure_initial_key(keys_dir: &Path, now: DateTime<Utc>) -> Result<(), KeyError> {
    let manifest = load_manifest(keys_dir)?;
    if manifest.live().next().is_some() {
        return Ok(());
    }

    let entry = add_key(keys_dir, now, Duration::ZERO)?;
    tracing::info!(event = "key_generated", kid = %entry.kid, dir = %keys_dir.display(), "generated the first signing key");
    Ok(())
}

/// Generates a key that is published now and starts signing after
/// `activation_delay`.
pub fn add_key(
    keys_dir: &Path,
    now: DateTime<Utc>,
    activation_delay: Duration,
) -> Result<KeyEntry, KeyError> {
    let activates_at = chrono::Duration::from_std(activation_delay)
        .ok()
        .and_then(|delay| now.checked_add_signed(delay))
        .ok_or_else(|| KeyError::Refused("the activation delay is too large".into()))?;

    create_private_dir(keys_dir)?;
    let mut manifest = load_manifest(keys_dir)?;
    let key = generate_key_file(keys_dir)?;
    let entry = KeyEntry {
        kid: key.kid().to_owned(),
        created_at: now,
        activates_at,
        retired_at: None,
    };

    manifest.keys.push(entry.clone());
    save_manifest(keys_dir, &manifest)?;
    Ok(entry)
}

/// Retires a key: withdraws it from the JWKS and deletes its private key.
///
/// Refuses the key that signs at `now`, and a key that stopped signing less
/// than `min_age_after_signing` ago (tokens it signed may still be live)
/// unless `force` is set.
pub fn retire_key(
    keys_dir: &Path,
    kid: &str,
    now: DateTime<Utc>,
    min_age_after_signing: Duration,
    force: bool,
) -> Result<KeyEntry, KeyError> {
    let mut manifest = load_manifest(keys_dir)?;
    let Some(index) = manifest
        .keys
        .iter()
        .position(|entry| entry.kid == kid && entry.retired_at.is_none())
    else {
        return Err(KeyError::UnknownKid(kid.to_owned()));
    };

    if manifest.signing_kid(now) == Some(kid) {
        return Err(KeyError::Refused(format!(
            "{kid} is the signing key; rotate first, and retire it once the new key signs"
        )));
    }
    let min_age =
        chrono::Duration::from_std(min_age_after_signing).unwrap_or(chrono::Duration::MAX);
    if let Some(ended) = manifest.signing_ended_at(kid)
        && now - ended < min_age
        && !force
    {
        return Err(KeyError::Refused(format!(
            "{kid} stopped signing at {ended}; tokens it signed may be live until {}. Wait, or pass --force",
            ended + min_age
        )));
    }

    manifest.keys[index].retired_at = Some(now);
    save_manifest(keys_dir, &manifest)?;
    let path = key_path(keys_dir, kid);
    if let Err(error) = fs::remove_file(&path)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        return Err(KeyError::Io {
            path,
            source: error,
        });
    }
    Ok(manifest.keys[index].clone())
}

/// Loads the private key of every live entry.
pub fn load_live_keys(
    keys_dir: &Path,
    manifest: &Manifest,
) -> Result<Vec<(KeyEntry, SigningKey)>, KeyError> {
    manifest
        .live()
        .map(|entry| {
            let key = super::signing::read_key_file(&key_path(keys_dir, &entry.kid))?;
            if key.kid() != entry.kid {
                return Err(KeyError::Manifest {
                    path: manifest_path(keys_dir),
                    message: format!("the file for {} contains the key {}", entry.kid, key.kid()),
                });
            }
            Ok((entry.clone(), key))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_rotation_writes_no_key_file() {
        let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("temp dir: {error}"));
        let keys_dir = directory.path().join("keys");

        let result = add_key(&keys_dir, Utc::now(), Duration::from_secs(u64::MAX));

        assert!(matches!(result, Err(KeyError::Refused(_))), "{result:?}");
        let files = fs::read_dir(&keys_dir)
            .map(|entries| entries.count())
            .unwrap_or(0);
        assert_eq!(files, 0, "no private key may be left behind");
    }
}
