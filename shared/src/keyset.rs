//! Verification keys parsed from a JWKS, indexed by `kid`.
//!
//! Parsing happens once per fetched JWKS, so verifying a token only looks a
//! key up. Keys a verifier must not use are dropped here.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;

use crate::jwk::{Jwk, JwkSet};

/// The smallest RSA modulus, in bits, that a key set accepts.
pub const MIN_RSA_MODULUS_BITS: usize = 2048;

/// Public keys that may verify RS256 access tokens, indexed by `kid`.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, DecodingKey>,
}

impl KeySet {
    /// Creates a key set with no keys, which verifies nothing.
    pub fn empty() -> Self {
        KeySet::default()
    }

    /// Parses the usable keys of `jwks`.
    ///
    /// A key is used only if [`Jwk::usable_rs256`] accepts it, its `n` and `e`
    /// are valid base64url and its modulus has at least
    /// [`MIN_RSA_MODULUS_BITS`] bits. Other keys are skipped with a debug log,
    /// so one odd key does not hide the rest. When two keys share a `kid`, the
    /// first one wins.
    pub fn from_jwks(jwks: &JwkSet) -> Self {
        let mut keys = HashMap::with_capacity(jwks.keys.len());

        for jwk in &jwks.keys {
            match parse_rs256_key(jwk) {
                Ok((kid, key)) => {
                    keys.entry(kid).or_insert(key);
                }
                Err(reason) => {
                    tracing::debug!(kid = ?jwk.kid, kty = %jwk.kty, reason, "skipped JWKS key");
                }
            }
        }

        KeySet { keys }
    }

    /// Returns the key whose `kid` is `kid`.
    pub fn get(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.get(kid)
    }

    /// Reports whether the set has a key with this `kid`.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Returns the number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Reports whether the set has no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Iterates over the key ids, in no particular order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Decodes one JWK into its `kid` and a decoding key, or returns why it is unusable.
fn parse_rs256_key(jwk: &Jwk) -> Result<(String, DecodingKey), &'static str> {
    if !jwk.usable_rs256() {
        return Err("not an RS256 signature key");
    }
    let (Some(kid), Some(n), Some(e)) = (&jwk.kid, &jwk.n, &jwk.e) else {
        return Err("missing kid, n or e");
    };

    let modulus = URL_SAFE_NO_PAD
        .decode(n)
        .map_err(|_| "n is not base64url")?;
    let exponent = URL_SAFE_NO_PAD
        .decode(e)
        .map_err(|_| "e is not base64url")?;

    // aws-lc-rs rejects components with leading zero bytes, which some
    // encoders emit, so strip them before building the key.
    let modulus = strip_leading_zeros(&modulus);
    let exponent = strip_leading_zeros(&exponent);

    if bit_length(modulus) < MIN_RSA_MODULUS_BITS {
        return Err("modulus shorter than 2048 bits");
    }
    if exponent.is_empty() {
        return Err("exponent is zero");
    }

    Ok((
        kid.clone(),
        DecodingKey::from_rsa_raw_components(modulus, exponent),
    ))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first_nonzero = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    &bytes[first_nonzero..]
}

/// Counts the bits of a big-endian unsigned integer without leading zero bytes.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(first) => (bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa_jwk(kid: &str, modulus: &[u8]) -> Jwk {
        Jwk {
            kty: "RSA".into(),
            key_use: Some("sig".into()),
            alg: Some("RS256".into()),
            kid: Some(kid.into()),
            n: Some(URL_SAFE_NO_PAD.encode(modulus)),
            e: Some("AQAB".into()),
        }
    }

    #[test]
    fn bit_length_counts_top_byte_bits() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(&[0x7f; 256]), 2047);
    }

    #[test]
    fn from_jwks_keeps_only_strong_rs256_keys() {
        let mut strong = vec![0xc5; 256];
        strong.insert(0, 0);
        let mut encryption_key = rsa_jwk("enc", &[0xc5; 256]);
        encryption_key.key_use = Some("enc".into());
        let mut bad_base64 = rsa_jwk("bad", &[0xc5; 256]);
        bad_base64.n = Some("***".into());
        let jwks = JwkSet {
            keys: vec![
                rsa_jwk("strong", &strong),
                rsa_jwk("weak", &[0xc5; 128]),
                encryption_key,
                bad_base64,
            ],
        };

        let keys = KeySet::from_jwks(&jwks);

        assert!(keys.contains("strong"));
        assert!(!keys.contains("weak"));
        assert!(!keys.contains("enc"));
        assert!(!keys.contains("bad"));
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn debug_lists_kids_only() {
        let keys = KeySet::from_jwks(&JwkSet {
            keys: vec![rsa_jwk("k1", &[0xc5; 256])],
        });

        assert_eq!(format!("{keys:?}"), r#"KeySet { kids: ["k1"] }"#);
    }
}
