//! Helpers for tests of code that verifies access tokens: an RSA test key,
//! its JWK, tokens signed with it (well-formed or deliberately broken), and
//! [`FakeIssuer`], a JWKS server on 127.0.0.1.
//!
//! Compiled only with the `testing` feature, which belongs in
//! `[dev-dependencies]`. The helpers panic on failure because a test key that
//! cannot sign means the test environment is broken.

use std::time::SystemTime;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::claims::{ACCESS_TOKEN_TYPE, AccessClaims, Audience};
use crate::clock::unix_seconds;
use crate::jwk::{Jwk, JwkSet};

mod fake_issuer;

pub use fake_issuer::{FakeIssuer, JwksMode, eventually};

/// A freshly generated 2048-bit RSA key that signs test tokens.
pub struct TestKey {
    pair: RsaKeyPair,
    jwk: Jwk,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// Generates a new key. Its `kid` is the RFC 7638 thumbprint.
    ///
    /// # Panics
    ///
    /// When aws-lc-rs fails to generate a key.
    #[expect(
        clippy::expect_used,
        reason = "test helper; failure means a broken environment"
    )]
    pub fn generate() -> TestKey {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("generate a 2048-bit RSA key");
        let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let jwk = Jwk::rsa_signing_key(&components.n, &components.e);

        TestKey { pair, jwk }
    }

    /// Returns the key id published in the JWK and put in token headers.
    pub fn kid(&self) -> &str {
        self.jwk.kid.as_deref().unwrap_or_default()
    }

    /// Returns the public key as a JWK.
    pub fn jwk(&self) -> Jwk {
        self.jwk.clone()
    }

    /// Returns a JWKS with this key only.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk()],
        }
    }

    /// Returns the header an access token signed by this key carries.
    pub fn header(&self) -> Value {
        json!({ "alg": "RS256", "typ": ACCESS_TOKEN_TYPE, "kid": self.kid() })
    }

    /// Signs `claims` as an access token with the standard header.
    pub fn sign(&self, claims: &AccessClaims) -> String {
        self.sign_json(&self.header(), &json!(claims))
    }

    /// Signs any header and payload with RS256, regardless of the header, so
    /// tests can build tokens that lie about their algorithm or type.
    pub fn sign_json(&self, header: &Value, payload: &Value) -> String {
        let signing_input = format!("{}.{}", encode_json(header), encode_json(payload));
        let signature = self.sign_bytes(signing_input.as_bytes());

        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Returns the raw RS256 (PKCS#1 v1.5, SHA-256) signature of `message`.
    ///
    /// # Panics
    ///
    /// When aws-lc-rs fails to sign.
    #[expect(
        clippy::expect_used,
        reason = "test helper; failure means a broken environment"
    )]
    pub fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .expect("sign with the test key");
        signature
    }
}

/// Encodes a JSON value as one base64url segment of a compact JWS.
pub fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Builds the claims of a token for `sub` that the auth server could have
/// issued at `now`, valid for 15 minutes, with the given scope.
pub fn access_claims(
    issuer: &str,
    audience: &str,
    sub: &str,
    scope: &str,
    now: SystemTime,
) -> AccessClaims {
    let issued_at = unix_seconds(now);

    AccessClaims {
        iss: issuer.to_owned(),
        sub: sub.to_owned(),
        aud: Audience::One(audience.to_owned()),
        exp: issued_at + 900,
        iat: issued_at,
        nbf: issued_at,
        jti: format!("test-{sub}-{issued_at}"),
        scope: scope.to_owned(),
        email: format!("user{sub}@example.com"),
        sid: None,
    }
}
