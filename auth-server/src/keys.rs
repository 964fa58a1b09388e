//! RSA signing keys: loading, first-start generation, and the public JWKS.
//!
//! Key files live in `<data dir>/keys/` as PKCS#8 PEM named `<kid>.pem`, and
//! the file `active` there names the kid that signs. Every other key in the
//! folder is published for verification only, which lets a rotated key keep
//! verifying the tokens it signed. `AUTH_SIGNING_KEY_FILE`, when set, signs
//! instead of the `active` key.
//!
//! The `rsa` crate only generates and encodes keys here: its private-key
//! operations are open to the Marvin timing attack (RUSTSEC-2023-0071), so
//! signing goes through aws-lc-rs with a key parsed once at start.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use auth_shared::jwk::{Jwk, JwkSet};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_KEY_BITS: usize = 2048;

/// Errors while loading, generating or using keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an RSA private key in PKCS#8 or PKCS#1 PEM")]
    NotRsaPem { path: PathBuf },
    #[error("{path} holds a {bits}-bit RSA key; at least {MIN_KEY_BITS} bits are required")]
    TooSmall { path: PathBuf, bits: usize },
    #[error("the active key file names kid {kid:?}, but {path} does not exist")]
    MissingActive { kid: String, path: PathBuf },
    #[error("generating an RSA key failed: {0}")]
    Generate(String),
    #[error("signing failed")]
    Sign,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A private key parsed once for signing, with its public JWK.
pub struct SigningKey {
    key_pair: RsaKeyPair,
    jwk: Jwk,
    kid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PEM private key (PKCS#8 or PKCS#1) and checks its size.
    pub fn from_pem(pem: &str, path: &Path) -> Result<SigningKey, KeyError> {
        let private_key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| KeyError::NotRsaPem {
                path: path.to_owned(),
            })?;
        SigningKey::from_private_key(&private_key, path)
    }

    fn from_private_key(private_key: &RsaPrivateKey, path: &Path) -> Result<SigningKey, KeyError> {
        let bits = private_key.size() * 8;
        if bits < MIN_KEY_BITS {
            return Err(KeyError::TooSmall {
                path: path.to_owned(),
                bits,
            });
        }

        let der = private_key
            .to_pkcs8_der()
            .map_err(|_| KeyError::NotRsaPem {
                path: path.to_owned(),
            })?;
        let key_pair = RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|_| KeyError::NotRsaPem {
            path: path.to_owned(),
        })?;

        let jwk = Jwk::rsa_signing_key(
            &private_key.n().to_bytes_be(),
            &private_key.e().to_bytes_be(),
        );
        let kid = jwk.kid.clone().unwrap_or_default();
        Ok(SigningKey { key_pair, jwk, kid })
    }

    /// The RFC 7638 thumbprint that names this key in token headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half of this key as a JWK.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 and SHA-256 (RS256).
    pub fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut signature = vec![0; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(signature)
    }
}

/// The key that signs plus every key published in the JWKS.
#[derive(Debug)]
pub struct KeyRing {
    signing: SigningKey,
    published: Vec<Jwk>,
}

impl KeyRing {
    /// Loads the key ring for the given settings, generating and saving a
    /// first key when the data dir has none and no key file is configured.
    pub fn load(data_dir: &Path, signing_key_file: Option<&Path>) -> Result<KeyRing, KeyError> {
        let keys_dir = data_dir.join("keys");
        let stored = read_key_dir(&keys_dir)?;

        let signing = match signing_key_file {
            Some(path) => read_key_file(path)?,
            None => active_or_generated(&keys_dir, &stored)?,
        };

        let mut published = vec![signing.jwk().clone()];
        for key in &stored {
            if key.kid() != signing.kid() {
                published.push(key.jwk().clone());
            }
        }

        Ok(KeyRing { signing, published })
    }

    /// The key that signs new access tokens.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The public keys to publish, the signing key first.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.published.clone(),
        }
    }
}

fn read_key_file(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = fs::read_to_string(path).map_err(io_error(path))?;
    SigningKey::from_pem(&pem, path)
}

fn read_key_dir(keys_dir: &Path) -> Result<Vec<SigningKey>, KeyError> {
    if !keys_dir.exists() {
        return Ok(Vec::new());
    }

    let mut keys = Vec::new();
    for entry in fs::read_dir(keys_dir).map_err(io_error(keys_dir))? {
        let path = entry.map_err(io_error(keys_dir))?.path();
        if path.extension().is_some_and(|extension| extension == "pem") {
            keys.push(read_key_file(&path)?);
        }
    }
    Ok(keys)
}

fn active_or_generated(keys_dir: &Path, stored: &[SigningKey]) -> Result<SigningKey, KeyError> {
    let active_file = keys_dir.join("active");
    if active_file.exists() {
        let kid = fs::read_to_string(&active_file).map_err(io_error(&active_file))?;
        let kid = kid.trim();
        let path = keys_dir.join(format!("{kid}.pem"));
        if !stored.iter().any(|key| key.kid() == kid) {
            return Err(KeyError::MissingActive {
                kid: kid.to_owned(),
                path,
            });
        }
        return read_key_file(&path);
    }

    let key = generate_key_file(keys_dir)?;
    write_private_file(&active_file, key.kid().as_bytes())?;
    tracing::info!(kid = key.kid(), dir = %keys_dir.display(), "generated a new signing key");
    Ok(key)
}

/// Generates a 2048-bit RSA key, saves it as `<kid>.pem` readable by the
/// owner only, and returns it.
pub fn generate_key_file(keys_dir: &Path) -> Result<SigningKey, KeyError> {
    create_private_dir(keys_dir)?;

    let private_key = RsaPrivateKey::new(&mut rand::rngs::OsRng, MIN_KEY_BITS)
        .map_err(|error| KeyError::Generate(error.to_string()))?;
    let pem = private_key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| KeyError::Generate(error.to_string()))?;

    let key = SigningKey::from_private_key(&private_key, keys_dir)?;
    let path = keys_dir.join(format!("{}.pem", key.kid()));
    write_private_file(&path, pem.as_bytes())?;
    Ok(key)
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_error(dir))
}

fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path))?;
    file.write_all(contents).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}
