//! RS256 access tokens (RFC 9068 profile) signed with a key parsed once.
//!
//! `jsonwebtoken::encode` re-parses the DER key on every call, which costs
//! several times the signature itself, so the JWS is assembled here around
//! the [`SigningKey`] held by the key ring.

use auth_shared::claims::{ACCESS_TOKEN_TYPE, ADMIN_SCOPE, AccessClaims, Audience};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Settings;
use crate::db::users::User;
use crate::keys::{KeyError, SigningKey};

/// The protected header of every access token.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// A freshly signed access token.
#[derive(Debug)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: u64,
    pub scope: String,
}

/// Builds the `scope` claim: the user's permissions, plus `admin` for staff
/// and superusers, sorted and without duplicates.
pub fn scope_for(user: &User, permissions: &[String]) -> String {
    let mut scopes: Vec<&str> = permissions.iter().map(String::as_str).collect();
    if user.is_staff || user.is_superuser {
        scopes.push(ADMIN_SCOPE);
    }
    scopes.sort_unstable();
    scopes.dedup();
    scopes.join(" ")
}

/// Signs an access token for `user`, issued in session `session_id`, valid
/// from `now` for the configured access token lifetime.
pub fn issue(
    key: &SigningKey,
    settings: &Settings,
    user: &User,
    permissions: &[String],
    session_id: &str,
    now: DateTime<Utc>,
) -> Result<AccessToken, KeyError> {
    let issued_at = now.timestamp();
    let ttl = settings.access_token_ttl;
    let claims = AccessClaims {
        iss: settings.issuer.clone(),
        sub: user.id.to_string(),
        aud: Audience::One(settings.audience.clone()),
        exp: issued_at + ttl.as_secs() as i64,
        iat: issued_at,
        nbf: issued_at,
        jti: super::random_base64url(16),
        scope: scope_for(user, permissions),
        email: user.email.clone(),
        sid: Some(session_id.to_owned()),
    };

    let token = sign_jws(key, &claims)?;
    Ok(AccessToken {
        token,
        expires_in: ttl.as_secs(),
        scope: claims.scope,
    })
}

fn sign_jws(key: &SigningKey, claims: &AccessClaims) -> Result<String, KeyError> {
    let header = Header {
        alg: "RS256",
        typ: ACCESS_TOKEN_TYPE,
        kid: key.kid(),
    };
    let header_json = serde_json::to_vec(&header).map_err(|_| KeyError::Sign)?;
    let claims_json = serde_json::to_vec(claims).map_err(|_| KeyError::Sign)?;

    let mut jws = URL_SAFE_NO_PAD.encode(header_json);
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(claims_json));

    let signature = key.sign_rs256(jws.as_bytes())?;
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(jws)
}
