//! The rules an access token must pass before its claims are trusted.
//!
//! Verification here is synchronous and takes the token, a [`KeySet`] and the
//! current time as arguments. Fetching keys belongs in [`crate::jwks`], and
//! reading the `Authorization` header belongs in [`crate::extractor`].
//!
//! The algorithm is pinned: every key in a [`KeySet`] is an RSA key, and a
//! token is checked with RS256 regardless of its header, after its `alg` was
//! checked to be `RS256`. Header parameters that point at other keys (`jku`,
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

/// Configuration of a [`Verifier`]: the accepted issuer and audience, and limits.
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

/// Reason a token was rejected.
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
        let (Some(encoded_header), Some(payload), Some(signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(VerifyError::Malformed(
                "expected three dot-separated segments",
            ));
        };

        let header_json = URL_SAFE_NO_PAD
            .decode(encoded_header)
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

        let signing_input_len = encoded_header.len() + 1 + payload.len();
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

    /// Checks the claims of a token that already passed [`Verifier::verify`]
    /// against the time `now`: `exp`, `nbf` and `iat` with the leeway, and
    /// the issuer and audience. Used to reuse an earlier verification.
    pub fn recheck_claims(
        &self,
        claims: &AccessClaims,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        self.check_claims(claims, unix_seconds(now))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::OnceLock;
    use std::time::UNIX_EPOCH;

    use aws_lc_rs::hmac;
    use serde_json::json;

    use super::*;
    use crate::jwk::JwkSet;
    use crate::testing::{TestKey, access_claims, encode_json};

    const ISSUER: &str = "http://127.0.0.1:8080";
    const AUDIENCE: &str = "api";
    /// Seconds since the epoch at which the tests run: 2025-01-01T00:00:00Z.
    const NOW: u64 = 1_735_689_600;

    fn key() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(TestKey::generate)
    }

    fn other_key() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(TestKey::generate)
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn keys() -> KeySet {
        KeySet::from_jwks(&key().jwks())
    }

    fn verifier() -> Verifier {
        Verifier::new(VerifierConfig::new(ISSUER, AUDIENCE))
    }

    fn claims_json() -> Value {
        json!(access_claims(ISSUER, AUDIENCE, "42", "reports:read", now()))
    }

    fn verify(token: &str) -> Result<AccessClaims, VerifyError> {
        verifier().verify(token, &keys(), now())
    }

    /// Signs the standard claims with `changes` merged into them. A `null`
    /// value removes the claim.
    fn token_with_claims(changes: Value) -> String {
        let mut claims = claims_json();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        key().sign_json(&key().header(), &claims)
    }

    /// Signs the standard claims with `changes` merged into the header. A
    /// `null` value removes the parameter.
    fn token_with_header(changes: Value) -> String {
        let mut header = key().header();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                header.as_object_mut().unwrap().remove(name);
            } else {
                header[name] = value.clone();
            }
        }
        key().sign_json(&header, &claims_json())
    }

    #[test]
    fn valid_token_is_accepted() {
        let token = key().sign(&access_claims(ISSUER, AUDIENCE, "42", "admin", now()));

        let claims = verify(&token).unwrap();

        assert_eq!(claims.sub, "42");
        assert!(claims.has_scope("admin"));
    }

    #[test]
    fn audience_array_containing_ours_is_accepted() {
        let token = token_with_claims(json!({ "aud": ["web", AUDIENCE] }));

        assert!(verify(&token).is_ok());
    }

    #[test]
    fn typ_variants_of_rfc9068_are_accepted() {
        for typ in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/AT+JWT",
        ] {
            let token = token_with_header(json!({ "typ": typ }));

            assert!(verify(&token).is_ok(), "typ {typ}");
        }
    }

    #[test]
    fn oversized_token_is_rejected_before_parsing() {
        let token = "a".repeat(DEFAULT_MAX_TOKEN_BYTES + 1);

        assert_eq!(
            verify(&token),
            Err(VerifyError::TooLarge {
                max: DEFAULT_MAX_TOKEN_BYTES
            })
        );
    }

    #[test]
    fn max_token_bytes_is_configurable() {
        let token = key().sign(&access_claims(ISSUER, AUDIENCE, "42", "", now()));
        let strict = Verifier::new(
            VerifierConfig::new(ISSUER, AUDIENCE).with_max_token_bytes(token.len() - 1),
        );

        assert!(matches!(
            strict.verify(&token, &keys(), now()),
            Err(VerifyError::TooLarge { .. })
        ));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        let valid = token_with_claims(json!({}));
        let (signing_input, signature) = valid.rsplit_once('.').unwrap();
        let header = encode_json(&key().header());
        let not_json_payload = {
            let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode("not json"));
            let signature = URL_SAFE_NO_PAD.encode(key().sign_bytes(input.as_bytes()));
            format!("{input}.{signature}")
        };
        let cases = [
            (String::new(), "empty"),
            ("abc".to_owned(), "one segment"),
            (signing_input.to_owned(), "two segments"),
            (format!("{valid}.extra"), "four segments"),
            (
                format!("{signing_input}.{signature}.a.b"),
                "JWE-like five segments",
            ),
            (
                format!("!!!.{}", &valid[valid.find('.').unwrap() + 1..]),
                "header not base64url",
            ),
            (
                format!("{}.x.y", URL_SAFE_NO_PAD.encode("not json")),
                "header not JSON",
            ),
            (
                format!("{}.x.y", URL_SAFE_NO_PAD.encode("[1,2]")),
                "header a JSON array",
            ),
            (
                format!("{}.x.y", URL_SAFE_NO_PAD.encode(r#"{"typ":"at+jwt"}"#)),
                "header without alg",
            ),
            (
                format!(
                    "{}.x.y",
                    URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","alg":"none"}"#)
                ),
                "duplicate alg",
            ),
            (
                format!("{}=.x.y", encode_json(&key().header())),
                "padded header",
            ),
        ];

        for (token, case) in cases {
            assert!(
                matches!(verify(&token), Err(VerifyError::Malformed(_))),
                "{case}: {:?}",
                verify(&token)
            );
        }

        assert_eq!(verify(&not_json_payload), Err(VerifyError::InvalidClaims));
    }

    #[test]
    fn payload_not_base64url_is_malformed_after_signature_check() {
        let input = format!("{}.***", encode_json(&key().header()));
        let signature = URL_SAFE_NO_PAD.encode(key().sign_bytes(input.as_bytes()));

        assert_eq!(
            verify(&format!("{input}.{signature}")),
            Err(VerifyError::Malformed("payload is not base64url"))
        );
    }

    #[test]
    fn algorithm_none_is_rejected() {
        let header = json!({ "alg": "none", "typ": "at+jwt", "kid": key().kid() });
        let token = format!("{}.{}.", encode_json(&header), encode_json(&claims_json()));

        assert_eq!(verify(&token), Err(VerifyError::AlgorithmNotAllowed));
    }

    #[test]
    fn hs256_signed_with_public_key_is_rejected() {
        // The classic confusion attack: use the published key as an HMAC secret.
        let header = json!({ "alg": "HS256", "typ": "at+jwt", "kid": key().kid() });
        let input = format!("{}.{}", encode_json(&header), encode_json(&claims_json()));
        let secret = serde_json::to_vec(&key().jwk()).unwrap();
        let mac = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));

        assert_eq!(verify(&token), Err(VerifyError::AlgorithmNotAllowed));
    }

    #[test]
    fn other_algorithms_in_header_are_rejected() {
        for alg in [
            "RS512", "RS384", "PS256", "ES256", "EdDSA", "HS512", "rs256", "",
        ] {
            let token = token_with_header(json!({ "alg": alg }));

            assert_eq!(
                verify(&token),
                Err(VerifyError::AlgorithmNotAllowed),
                "alg {alg:?}"
            );
        }
    }

    #[test]
    fn wrong_or_missing_typ_is_rejected() {
        for typ in [json!(null), json!("JWT"), json!("at+jwt+x"), json!(5)] {
            let token = token_with_header(json!({ "typ": typ }));
            let result = verify(&token);

            assert!(
                matches!(
                    result,
                    Err(VerifyError::WrongType | VerifyError::Malformed(_))
                ),
                "typ {typ}: {result:?}"
            );
        }
        assert_eq!(
            verify(&token_with_header(json!({ "typ": "JWT" }))),
            Err(VerifyError::WrongType)
        );
        assert_eq!(
            verify(&token_with_header(json!({ "typ": null }))),
            Err(VerifyError::WrongType)
        );
    }

    #[test]
    fn critical_extensions_are_rejected() {
        let token = token_with_header(json!({ "crit": ["exp"] }));

        assert_eq!(verify(&token), Err(VerifyError::UnsupportedCritical));
    }

    #[test]
    fn missing_kid_is_rejected() {
        let token = token_with_header(json!({ "kid": null }));

        assert_eq!(verify(&token), Err(VerifyError::MissingKid));
    }

    #[test]
    fn unknown_kid_is_rejected() {
        let token = token_with_header(json!({ "kid": "not-published" }));

        assert_eq!(verify(&token), Err(VerifyError::UnknownKid));
    }

    #[test]
    fn header_key_parameters_cannot_choose_the_key() {
        let mut header = other_key().header();
        header["kid"] = json!(key().kid());
        header["jwk"] = json!(other_key().jwk());
        header["jku"] = json!("http://127.0.0.1:1/evil.json");
        let token = other_key().sign_json(&header, &claims_json());

        assert_eq!(verify(&token), Err(VerifyError::BadSignature));
    }

    #[test]
    fn token_signed_by_another_key_is_rejected() {
        let mut header = other_key().header();
        header["kid"] = json!(key().kid());
        let token = other_key().sign_json(&header, &claims_json());

        assert_eq!(verify(&token), Err(VerifyError::BadSignature));
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let token = token_with_claims(json!({}));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = encode_json(&json!(access_claims(ISSUER, AUDIENCE, "1", "admin", now())));
        parts[1] = &forged;

        assert_eq!(verify(&parts.join(".")), Err(VerifyError::BadSignature));
    }

    #[test]
    fn signature_not_base64url_is_rejected() {
        let token = token_with_claims(json!({}));
        let (input, _) = token.rsplit_once('.').unwrap();

        assert_eq!(
            verify(&format!("{input}.***")),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(verify(&format!("{input}.")), Err(VerifyError::BadSignature));
    }

    #[test]
    fn verifying_with_another_key_set_fails() {
        let token = token_with_claims(json!({}));
        let other_keys = KeySet::from_jwks(&JwkSet {
            keys: vec![other_key().jwk()],
        });

        assert_eq!(
            verifier().verify(&token, &other_keys, now()),
            Err(VerifyError::UnknownKid)
        );
    }

    #[test]
    fn issuer_must_match_exactly() {
        for iss in [
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8081",
            "HTTP://127.0.0.1:8080",
            "",
        ] {
            let token = token_with_claims(json!({ "iss": iss }));

            assert_eq!(verify(&token), Err(VerifyError::WrongIssuer), "iss {iss:?}");
        }
    }

    #[test]
    fn audience_must_contain_ours() {
        for aud in [
            json!("web"),
            json!(["web", "admin"]),
            json!([]),
            json!("API"),
        ] {
            let token = token_with_claims(json!({ "aud": aud }));

            assert_eq!(verify(&token), Err(VerifyError::WrongAudience), "aud {aud}");
        }
    }

    #[test]
    fn missing_claims_are_named() {
        for claim in ["exp", "iss", "aud", "sub", "iat", "nbf"] {
            let token = token_with_claims(json!({ claim: null }));

            assert_eq!(
                verify(&token),
                Err(VerifyError::MissingClaim(claim)),
                "{claim}"
            );
        }
    }

    #[test]
    fn claims_of_the_wrong_type_are_rejected() {
        for changes in [
            json!({ "exp": "tomorrow" }),
            json!({ "exp": 1.5e9 }),
            json!({ "aud": 7 }),
            json!({ "sub": 42 }),
        ] {
            let token = token_with_claims(changes.clone());

            assert_eq!(verify(&token), Err(VerifyError::InvalidClaims), "{changes}");
        }
    }

    #[test]
    fn expiry_honours_leeway() {
        let now = NOW as i64;
        let cases = [
            (now + 1, true, "expires in a second"),
            (now - 29, true, "expired within the 30 s leeway"),
            (now - 30, false, "expired exactly one leeway ago"),
            (now - 3600, false, "expired an hour ago"),
            (i64::MIN, false, "expired at the start of time"),
        ];

        for (exp, accepted, case) in cases {
            let token = token_with_claims(json!({ "exp": exp }));
            let result = verify(&token);

            if accepted {
                assert!(result.is_ok(), "{case}: {result:?}");
            } else {
                assert_eq!(result, Err(VerifyError::Expired), "{case}");
            }
        }
    }

    #[test]
    fn far_future_times_do_not_overflow() {
        let token = token_with_claims(json!({ "exp": i64::MAX, "nbf": i64::MIN, "iat": i64::MIN }));

        assert!(verify(&token).is_ok());
    }

    #[test]
    fn not_before_honours_leeway() {
        let now = NOW as i64;

        assert!(verify(&token_with_claims(json!({ "nbf": now + 30 }))).is_ok());
        assert_eq!(
            verify(&token_with_claims(json!({ "nbf": now + 31 }))),
            Err(VerifyError::NotYetValid)
        );
    }

    #[test]
    fn issue_time_in_future_beyond_leeway_is_rejected() {
        let now = NOW as i64;

        assert!(verify(&token_with_claims(json!({ "iat": now + 30 }))).is_ok());
        assert_eq!(
            verify(&token_with_claims(json!({ "iat": now + 31 }))),
            Err(VerifyError::IssuedInFuture)
        );
    }

    #[test]
    fn leeway_is_configurable() {
        let token = token_with_claims(json!({ "exp": NOW as i64 - 10 }));
        let strict =
            Verifier::new(VerifierConfig::new(ISSUER, AUDIENCE).with_leeway(Duration::ZERO));

        assert_eq!(
            strict.verify(&token, &keys(), now()),
            Err(VerifyError::Expired)
        );
        assert!(verify(&token).is_ok());
    }

    #[test]
    fn mutated_tokens_never_panic_or_pass() {
        let token = token_with_claims(json!({}));
        let bytes = token.as_bytes();
        let replacements = b".-_=+/ aZ09\"{}\\\x00";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;

        for _ in 0..2_000 {
            // xorshift64: a fixed sequence, so a failure reproduces.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let position = (state % bytes.len() as u64) as usize;
            let replacement = replacements[(state >> 32) as usize % replacements.len()];
            if bytes[position] == replacement {
                continue;
            }
            let mut mutated = bytes.to_vec();
            mutated[position] = replacement;
            let mutated = String::from_utf8_lossy(&mutated);

            assert!(verify(&mutated).is_err(), "accepted mutation at {position}");
        }
    }

    #[test]
    fn reasons_are_distinct_labels() {
        let errors = [
            VerifyError::TooLarge { max: 1 },
            VerifyError::Malformed("x"),
            VerifyError::AlgorithmNotAllowed,
            VerifyError::WrongType,
            VerifyError::UnsupportedCritical,
            VerifyError::MissingKid,
            VerifyError::UnknownKid,
            VerifyError::KeysUnavailable,
            VerifyError::BadSignature,
            VerifyError::MissingClaim("exp"),
            VerifyError::InvalidClaims,
            VerifyError::WrongIssuer,
            VerifyError::WrongAudience,
            VerifyError::Expired,
            VerifyError::NotYetValid,
            VerifyError::IssuedInFuture,
        ];
        let mut reasons: Vec<&str> = errors.iter().map(VerifyError::reason).collect();
        reasons.sort_unstable();
        reasons.dedup();

        assert_eq!(reasons.len(), errors.len());
        assert!(
            reasons
                .iter()
                .all(|reason| reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }
}
