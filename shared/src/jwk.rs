//! JSON Web Keys (RFC 7517) and their RFC 7638 thumbprints.
//!
//! Only RSA signature keys matter to this product. Other keys in a JWKS are
//! kept as parsed values so that one unusual key does not make the whole set
//! unreadable; [`Jwk::usable_rs256`] decides which keys a verifier may use.

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// One JSON Web Key. Fields this product does not use are ignored when parsing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwk {
    /// Key type, such as `RSA` or `EC`.
    #[serde(default)]
    pub kty: String,
    /// Intended use: `sig` for signatures, `enc` for encryption.
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Algorithm the key is meant for, such as `RS256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key id, matched against the `kid` header of a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// RSA modulus, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A JSON Web Key Set, as served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl Jwk {
    /// Builds the public JWK of an RSA signing key from its big-endian modulus
    /// and exponent; the `kid` is the key's RFC 7638 thumbprint.
    pub fn rsa_signing_key(modulus: &[u8], exponent: &[u8]) -> Jwk {
        let n = URL_SAFE_NO_PAD.encode(strip_leading_zeros(modulus));
        let e = URL_SAFE_NO_PAD.encode(strip_leading_zeros(exponent));
        let kid = rsa_thumbprint(&n, &e);

        Jwk {
            kty: "RSA".into(),
            key_use: Some("sig".into()),
            alg: Some("RS256".into()),
            kid: Some(kid),
            n: Some(n),
            e: Some(e),
        }
    }

    /// Reports whether a verifier may use this key for RS256 signatures: an RSA
    /// key with a `kid`, a modulus and an exponent, whose `use` (when present)
    /// is `sig` and whose `alg` (when present) is `RS256`.
    pub fn usable_rs256(&self) -> bool {
        self.kty == "RSA"
            && self.kid.is_some()
            && self.n.is_some()
            && self.e.is_some()
            && self
                .key_use
                .as_deref()
                .is_none_or(|key_use| key_use == "sig")
            && self.alg.as_deref().is_none_or(|alg| alg == "RS256")
    }
}

/// Computes the RFC 7638 thumbprint of an RSA public key given as base64url
/// `n` and `e`: the base64url SHA-256 of its canonical JSON members.
pub fn rsa_thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let hash = digest::digest(&digest::SHA256, canonical.as_bytes());

    URL_SAFE_NO_PAD.encode(hash.as_ref())
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first_nonzero = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    &bytes[first_nonzero..]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 7638, section 3.1.
    #[test]
    fn thumbprint_matches_rfc7638_example() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let e = "AQAB";

        assert_eq!(
            rsa_thumbprint(n, e),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn jwks_with_foreign_keys_still_parses() {
        let text = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"},{"kty":"RSA","kid":"k","n":"AQ","e":"AQAB","use":"enc"}]}"#;
        let set: JwkSet = serde_json::from_str(text).unwrap_or_default();

        assert_eq!(set.keys.len(), 2);
        assert!(!set.keys[0].usable_rs256());
        assert!(!set.keys[1].usable_rs256());
    }
}
