//! The rules an access token must pass before its claims are trusted.
//!
//! Verification here is synchronous and takes the token, a [`KeySet`] and the
//! current time as arguments. Fetching keys belongs in [`crate::jwks`], and
//! reading the `Authorization` header belongs in [`crate::extractor`].
//!
//! The algorithm is pinned: every key in a [`KeySet`] is an RSA key, and a
//! token is checked with RS256 whatever its header says, after the header was
//! required to say `RS256`. Header parameters that point at other keys (`jku`,
//! `jwk`, `x5u`, `x5c`) are ignored, so a token can never choose its own key.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::claims::{ACCESS_TOKEN_TYPE, AccessClaims};
use crate::clock::unix_seconds;
use crate::keyset::KeySet;

/// Default clock skew allowed on `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// Default size limit of a compact token, in bytes. Tokens of this product
/// are well under 1 KiB, so the limit only stops oversized input early.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The media type form of [`ACCESS_TOKEN_TYPE`], also allowed by RFC 9068.
const ACCESS_TOKEN_MEDIA_TYPE: &str = "application/at+jwt";

/// Claims that [`AccessClaims`] needs, checked by name so that a missing one
/// is reported as such.
const REQUIRED_CLAIMS: [&str; 9] = [
    "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "email",
];

/// What a [`Verifier`] accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The only `iss` accepted, compared byte for byte.
    pub issuer: String,
    /// The audience that `aud` (a string or an array) must contain.
    pub audience: String,
    /// Clock skew allowed on `exp`, `nbf` and `iat`. Default
    /// [`DEFAULT_LEEWAY`]. A large value keeps expired tokens usable longer.
    pub leeway: Duration,
    /// Tokens longer than this many bytes are rejected before any parsing.
    /// Default [`DEFAULT_MAX_TOKEN_BYTES`].
    pub max_token_bytes: usize,
}

impl VerifierConfig {
    /// Creates a configuration with the default leeway and size limit.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        VerifierConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: DEFAULT_LEEWAY,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }

    /// Sets the clock skew allowed on `exp`, `nbf` and `iat`.
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Sets the size limit of a token, in bytes.
    pub fn with_max_token_bytes(mut self, max_token_bytes: usize) -> Self {
        self.max_token_bytes = max_token_bytes;
        self
    }
}

/// Why a token was rejected.
///
/// The `Display` text is fixed per variant and never contains input from the
/// token, so it may be sent to clients and written into headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is longer than the configured limit.
    #[error("the token is longer than {max} bytes")]
    TooLarge {
        /// The configured limit, in bytes.
        max: usize,
    },
    /// The token is not three base64url segments with a JSON header.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is anything but `RS256`.
    #[error("the token algorithm is not allowed; only RS256 is accepted")]
    AlgorithmNotAllowed,
    /// The header's `typ` is missing or is not `at+jwt`.
    #[error("the token type is not at+jwt")]
    WrongType,
    /// The header lists `crit` extensions, none of which this verifier supports.
    #[error("the token header has critical extensions that are not supported")]
    UnsupportedCritical,
    /// The header has no `kid`.
    #[error("the token header has no kid")]
    MissingKid,
    /// No published key has the token's `kid`.
    #[error("no published key matches the token kid")]
    UnknownKid,
    /// No keys have been fetched yet, so no token can be verified.
    #[error("the verification keys are not loaded yet")]
    KeysUnavailable,
    /// The signature does not match the token and key.
    #[error("the token signature is invalid")]
    BadSignature,
    /// A required claim is absent.
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    /// The payload is not JSON, or a claim has the wrong type.
    #[error("the token claims are not valid JSON of the expected types")]
    InvalidClaims,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by an untrusted issuer")]
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    #[error("the token is not intended for this audience")]
    WrongAudience,
    /// `exp` is in the past, beyond the leeway.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future, beyond the leeway.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future, beyond the leeway.
    #[error("the token issue time is in the future")]
    IssuedInFuture,
}

impl VerifyError {
    /// Returns a short snake_case name of the failure, fit for a metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::TooLarge { .. } => "too_large",
            VerifyError::Malformed(_) => "malformed",
            VerifyError::AlgorithmNotAllowed => "alg_not_allowed",
            VerifyError::WrongType => "wrong_type",
            VerifyError::UnsupportedCritical => "unsupported_crit",
            VerifyError::MissingKid => "missing_kid",
            VerifyError::UnknownKid => "unknown_kid",
            VerifyError::KeysUnavailable => "keys_unavailable",
            VerifyError::BadSignature => "bad_signature",
            VerifyError::MissingClaim(_) => "missing_claim",
            VerifyError::InvalidClaims => "invalid_claims",
            VerifyError::WrongIssuer => "wrong_issuer",
            VerifyError::WrongAudience => "wrong_audience",
            VerifyError::Expired => "expired",
            VerifyError::NotYetValid => "not_yet_valid",
            VerifyError::IssuedInFuture => "issued_in_future",
        }
    }
}

/// A token whose header passed every check but whose signature and claims are
/// not verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedToken<'t> {
    signing_input: &'t str,
    payload: &'t str,
    signature: &'t str,
    kid: String,
}

impl UnverifiedToken<'_> {
    /// Returns the `kid` from the header, which selects the verification key.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// The header parameters this verifier reads. Unknown parameters are ignored,
/// and a repeated one makes the header malformed.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// Checks compact RS256 access tokens against a configuration.
#[derive(Debug, Clone)]
pub struct Verifier {
    config: VerifierConfig,
}

impl Verifier {
    /// Creates a verifier for `config`.
    pub fn new(config: VerifierConfig) -> Self {
        Verifier { config }
    }

    /// Returns the configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Verifies `token` against `keys` at time `now` and returns its claims.
    pub fn verify(
        &self,
        token: &str,
        keys: &KeySet,
        now: SystemTime,
    ) -> Result<AccessClaims, VerifyError> {
        let token = self.parse(token)?;
        self.verify_parsed(&token, keys, now)
    }

    /// Checks the size and header of `token` without looking at any key.
    ///
    /// The header must name `RS256`, have `typ` `at+jwt` or
    /// `application/at+jwt` (ignoring ASCII case), carry a `kid` and list no
    /// `crit` extensions.
    pub fn parse<'t>(&self, token: &'t str) -> Result<UnverifiedToken<'t>, VerifyError> {
        if token.len() > self.config.max_token_bytes {
            return Err(VerifyError::TooLarge {
                max: self.config.max_token_bytes,
            });
        }

        let mut segments = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(VerifyError::Malformed("expected three dot-separated segments"));
        };

        let header_json = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| VerifyError::Malformed("header is not base64url"))?;
        let header: RawHeader = serde_json::from_slice(&header_json)
            .map_err(|_| VerifyError::Malformed("header is not a JSON object with an alg"))?;

        if header.alg != "RS256" {
            return Err(VerifyError::AlgorithmNotAllowed);
        }
        if !header.typ.as_deref().is_some_and(is_access_token_type) {
            return Err(VerifyError::WrongType);
        }
        if header.crit.is_some() {
            return Err(VerifyError::UnsupportedCritical);
        }
        let kid = header.kid.ok_or(VerifyError::MissingKid)?;

        let signing_input_len = header.len() + 1 + payload.len();
        Ok(UnverifiedToken {
            signing_input: &token[..signing_input_len],
            payload,
            signature,
            kid,
        })
    }

    /// Verifies the signature and claims of a token that [`Verifier::parse`]
    /// accepted.
    pub fn verify_parsed(
        &self,
        token: &UnverifiedToken<'_>,
        keys: &KeySet,
        now: SystemTime,
    ) -> Result<AccessClaims, VerifyError> {
        let key = keys.get(token.kid()).ok_or(VerifyError::UnknownKid)?;
        check_signature(token, key)?;

        let claims = decode_claims(token.payload)?;
        self.check_claims(&claims, unix_seconds(now))?;

        Ok(claims)
    }

    fn check_claims(&self, claims: &AccessClaims, now: i64) -> Result<(), VerifyError> {
        let leeway = i64::try_from(self.config.leeway.as_secs()).unwrap_or(i64::MAX);

        if claims.iss != self.config.issuer {
            return Err(VerifyError::WrongIssuer);
        }
        if !claims.aud.contains(&self.config.audience) {
            return Err(VerifyError::WrongAudience);
        }
        // RFC 7519: the token must not be accepted on or after `exp`.
        if now >= claims.exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        if now.saturating_add(leeway) < claims.nbf {
            return Err(VerifyError::NotYetValid);
        }
        if now.saturating_add(leeway) < claims.iat {
            return Err(VerifyError::IssuedInFuture);
        }

        Ok(())
    }
}

fn is_access_token_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE) || typ.eq_ignore_ascii_case(ACCESS_TOKEN_MEDIA_TYPE)
}

/// Checks the RS256 signature. The algorithm is fixed here, never taken from
/// the header.
fn check_signature(token: &UnverifiedToken<'_>, key: &DecodingKey) -> Result<(), VerifyError> {
    let valid = jsonwebtoken::crypto::verify(
        token.signature,
        token.signing_input.as_bytes(),
        key,
        Algorithm::RS256,
    );

    match valid {
        Ok(true) => Ok(()),
        // An error means the signature segment was not base64url.
        Ok(false) | Err(_) => Err(VerifyError::BadSignature),
    }
}

fn decode_claims(payload: &str) -> Result<AccessClaims, VerifyError> {
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| VerifyError::Malformed("payload is not base64url"))?;
    let object: Map<String, Value> =
        serde_json::from_slice(&json).map_err(|_| VerifyError::InvalidClaims)?;

    if let Some(missing) = REQUIRED_CLAIMS
        .into_iter()
        .find(|name| !object.contains_key(*name))
    {
        return Err(VerifyError::MissingClaim(missing));
    }

    serde_json::from_value(Value::Object(object)).map_err(|_| VerifyError::InvalidClaims)
}
