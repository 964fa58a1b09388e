//! The machine's limits, measured in-process on every core: RS256 signing
//! with a key parsed once, token verification with the shared crate's
//! verifier, and bcrypt hashing at the configured cost.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use auth_shared::jwk::JwkSet;
use auth_shared::{KeySet, Verifier, VerifierConfig};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::BenchError;

/// Operations per second of one operation on all threads.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub per_second: f64,
    pub threads: usize,
}

/// Runs `operation` on `threads` threads until `duration` has passed and
/// returns the summed rate. Each thread's rate uses its own elapsed time,
/// because a slow operation (bcrypt) overruns the deadline.
fn measure<F>(threads: usize, duration: Duration, operation: F) -> Result<Limit, BenchError>
where
    F: Fn() -> Result<(), BenchError> + Sync,
{
    let rates: Vec<Result<f64, BenchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let started = Instant::now();
                    let mut operations = 0u64;
                    while started.elapsed() < duration {
                        operation()?;
                        operations += 1;
                    }
                    Ok(operations as f64 / started.elapsed().as_secs_f64())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(BenchError::new("a measuring thread panicked")))
            })
            .collect()
    });

    let mut per_second = 0.0;
    for rate in rates {
        per_second += rate?;
    }
    Ok(Limit {
        per_second,
        threads,
    })
}

/// Measures RS256 signatures of `message` per second with the PEM private
/// key at `key_path`, parsed once as the auth server does.
pub fn rs256_sign(
    key_path: &Path,
    message: &[u8],
    threads: usize,
    duration: Duration,
) -> Result<Limit, BenchError> {
    let key_pair = read_pkcs8_key(key_path)?;
    let random = SystemRandom::new();

    measure(threads, duration, || {
        let mut signature = vec![0; key_pair.public_modulus_len()];
        key_pair
            .sign(&RSA_PKCS1_SHA256, &random, message, &mut signature)
            .map_err(|_| BenchError::new("RS256 signing failed"))
    })
}

/// Measures verifications per second of `token` with the shared crate's
/// [`Verifier`] and the keys of `jwks`, as the resource server checks a
/// bearer token.
pub fn rs256_verify(
    token: &str,
    jwks: &JwkSet,
    issuer: &str,
    audience: &str,
    threads: usize,
    duration: Duration,
) -> Result<Limit, BenchError> {
    let keys = KeySet::from_jwks(jwks);
    let verifier = Verifier::new(VerifierConfig::new(issuer, audience));
    verifier
        .verify(token, &keys, SystemTime::now())
        .map_err(|error| BenchError::new(format!("the sample token does not verify: {error}")))?;

    measure(threads, duration, || {
        verifier
            .verify(token, &keys, SystemTime::now())
            .map(drop)
            .map_err(|error| BenchError::new(format!("verification failed: {error}")))
    })
}

/// Measures bcrypt hashes per second at `cost`, with the bcrypt crate the
/// auth server uses. Checking a password costs the same as hashing one.
pub fn bcrypt_hash(cost: u32, threads: usize, duration: Duration) -> Result<Limit, BenchError> {
    measure(threads, duration, || {
        bcrypt::hash("benchmark-password", cost)
            .map(drop)
            .map_err(|error| BenchError::new(format!("bcrypt failed: {error}")))
    })
}

/// Reads a PKCS#8 PEM RSA private key, the format the auth server writes.
fn read_pkcs8_key(path: &Path) -> Result<RsaKeyPair, BenchError> {
    let pem = std::fs::read_to_string(path)
        .map_err(|error| BenchError::new(format!("reading {} failed: {error}", path.display())))?;
    let base64_body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = STANDARD
        .decode(base64_body.trim())
        .map_err(|error| BenchError::new(format!("{} is not PEM: {error}", path.display())))?;
    RsaKeyPair::from_pkcs8(&der).map_err(|error| {
        BenchError::new(format!(
            "{} is not a PKCS#8 RSA private key: {error}",
            path.display()
        ))
    })
}
