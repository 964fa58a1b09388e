//! The keys a running server signs and publishes with, reloaded from the
//! store on a timer so that every instance follows a rotation.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use auth_shared::KeySet;
use auth_shared::jwk::JwkSet;
use chrono::{DateTime, Utc};

use super::signing::{KeyError, SigningKey, read_key_file};
use super::store::{self, Manifest};
use crate::state::Clock;

/// The parsed keys of one manifest version.
#[derive(Debug)]
pub struct KeyRing {
    manifest: Manifest,
    keys: Vec<Arc<SigningKey>>,
    /// The key from `AUTH_SIGNING_KEY_FILE`, which always signs when set.
    pinned: Option<Arc<SigningKey>>,
    /// The published keys parsed for verification, for the auth server's own
    /// protected routes.
    key_set: Arc<KeySet>,
}

impl KeyRing {
    fn load(
        keys_dir: &std::path::Path,
        pinned: Option<Arc<SigningKey>>,
    ) -> Result<KeyRing, KeyError> {
        let manifest = store::load_manifest(keys_dir)?;
        let keys = store::load_live_keys(keys_dir, &manifest)?
            .into_iter()
            .map(|(_, key)| Arc::new(key))
            .collect();
        let mut ring = KeyRing {
            manifest,
            keys,
            pinned,
            key_set: Arc::new(KeySet::empty()),
        };
        ring.key_set = Arc::new(KeySet::from_jwks(&ring.jwks()));
        Ok(ring)
    }

    /// The key that signs at `now`.
    pub fn signing_key_at(&self, now: DateTime<Utc>) -> Option<Arc<SigningKey>> {
        if let Some(pinned) = &self.pinned {
            return Some(pinned.clone());
        }
        let kid = self.manifest.signing_kid(now)?;
        self.keys.iter().find(|key| key.kid() == kid).cloned()
    }

    /// Every published key: the pinned key first, then each live stored key.
    pub fn jwks(&self) -> JwkSet {
        let mut keys: Vec<_> = self.pinned.iter().map(|key| key.jwk().clone()).collect();
        for key in &self.keys {
            if !keys
                .iter()
                .any(|published| published.kid.as_deref() == Some(key.kid()))
            {
                keys.push(key.jwk().clone());
            }
        }
        JwkSet { keys }
    }
}

/// The current key ring of a server, swapped whole on reload.
#[derive(Debug)]
pub struct KeyRingHandle {
    current: RwLock<Arc<KeyRing>>,
    keys_dir: PathBuf,
    pinned: Option<Arc<SigningKey>>,
    clock: Clock,
}

impl KeyRingHandle {
    /// Loads the key ring of a data dir, generating a first key when the
    /// store has none and no signing key file is configured.
    pub fn load(
        data_dir: &std::path::Path,
        signing_key_file: Option<&std::path::Path>,
        clock: Clock,
    ) -> Result<KeyRingHandle, KeyError> {
        let keys_dir = data_dir.join("keys");
        let pinned = signing_key_file
            .map(read_key_file)
            .transpose()
            .map_err(|error| KeyError::SigningKeyFile(Box::new(error)))?
            .map(Arc::new);
        if pinned.is_none() {
            store::ensure_initial_key(&keys_dir, clock.now())?;
        }

        let ring = KeyRing::load(&keys_dir, pinned.clone())?;
        Ok(KeyRingHandle {
            current: RwLock::new(Arc::new(ring)),
            keys_dir,
            pinned,
            clock,
        })
    }

    fn ring(&self) -> Arc<KeyRing> {
        match self.current.read() {
            Ok(ring) => ring.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The key that signs now.
    pub fn signing_key(&self) -> Result<Arc<SigningKey>, KeyError> {
        self.ring().signing_key_at(self.clock.now()).ok_or_else(|| {
            KeyError::Refused("no signing key is active; check the key manifest".into())
        })
    }

    /// The public keys to publish.
    pub fn jwks(&self) -> JwkSet {
        self.ring().jwks()
    }

    /// The published keys, parsed for verification.
    pub fn key_set(&self) -> Arc<KeySet> {
        self.ring().key_set.clone()
    }

    /// Re-reads the store and swaps the ring when the manifest changed.
    /// Returns whether it changed.
    pub fn reload(&self) -> Result<bool, KeyError> {
        let manifest = store::load_manifest(&self.keys_dir)?;
        if manifest == self.ring().manifest {
            return Ok(false);
        }

        let ring = KeyRing::load(&self.keys_dir, self.pinned.clone())?;
        let kids: Vec<String> = ring
            .manifest
            .live()
            .map(|entry| entry.kid.clone())
            .collect();
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
        tracing::info!(event = "keys_reloaded", live_kids = ?kids, "reloaded the signing keys");
        Ok(true)
    }
}
