//! One RSA private key: parsing, generation and RS256 signing.
//!
//! The `rsa` crate only generates and encodes keys here: its private-key
//! operations are open to the Marvin timing attack (RUSTSEC-2023-0071), so
//! signing goes through aws-lc-rs with a key parsed once at start.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use auth_shared::jwk::Jwk;
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
    #[error("the key manifest {path} is invalid: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("no key with kid {0:?} exists")]
    UnknownKid(String),
    #[error("{0}")]
    Refused(String),
    #[error("generating an RSA key failed: {0}")]
    Generate(String),
    #[error("signing failed")]
    Sign,
    #[error("invalid AUTH_SIGNING_KEY_FILE: {0}")]
    SigningKeyFile(Box<KeyError>),
}

pub(super) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
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

pub(super) fn read_key_file(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = fs::read_to_string(path).map_err(io_error(path))?;
    SigningKey::from_pem(&pem, path)
}

/// Generates a 2048-bit RSA key, saves it in `keys_dir` as `<kid>.pem`
/// readable by the owner only, and returns it.
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

pub(super) fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_error(dir))
}

pub(super) fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
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
