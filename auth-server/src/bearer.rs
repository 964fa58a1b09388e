//! The bearer access token of requests to the auth server's own protected
//! routes, checked against the auth server's own published keys.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use auth_shared::claims::{ACCESS_TOKEN_TYPE, AccessClaims};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::error::ApiError;
use crate::state::AppState;

/// Tokens longer than this are rejected before any parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The verified caller of a protected route.
#[derive(Debug, Clone)]
pub struct Bearer {
    pub user_id: i64,
    pub claims: AccessClaims,
}

impl Bearer {
    /// Fails with 403 `insufficient_scope` unless the token grants `scope`.
    pub fn require_scope(&self, scope: &'static str) -> Result<(), ApiError> {
        if self.claims.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope))
        }
    }
}

fn bearer_token(request: &HttpRequest) -> Result<&str, ApiError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Err(ApiError::MissingToken);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::InvalidToken("the Authorization header is not valid ASCII"))?;
    let (scheme, token) = text.split_once(' ').ok_or(ApiError::InvalidToken(
        "the Authorization header must be: Bearer <token>",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::InvalidToken(
            "the Authorization header must be: Bearer <token>",
        ));
    }
    Ok(token.trim())
}

/// Verifies `token` against the key ring and settings of `state`.
pub fn verify(state: &AppState, token: &str, now: i64) -> Result<AccessClaims, ApiError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ApiError::InvalidToken("the access token is too large"));
    }

    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| ApiError::InvalidToken("the access token is malformed"))?;
    if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) || header.alg != Algorithm::RS256 {
        return Err(ApiError::InvalidToken(
            "the access token has the wrong type or algorithm",
        ));
    }
    let kid = header
        .kid
        .ok_or(ApiError::InvalidToken("the access token has no kid"))?;
    let jwk = state
        .keys
        .jwks()
        .keys
        .into_iter()
        .find(|jwk| jwk.kid.as_deref() == Some(kid.as_str()))
        .ok_or(ApiError::InvalidToken(
            "the access token was signed by an unknown key",
        ))?;
    let key = DecodingKey::from_rsa_components(
        jwk.n.as_deref().unwrap_or(""),
        jwk.e.as_deref().unwrap_or(""),
    )
    .map_err(|_| ApiError::Internal("a published key is not a valid RSA key".into()))?;

    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&state.settings.issuer]);
    validation.set_audience(&[&state.settings.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf", "iat"]);
    validation.validate_nbf = true;
    validation.leeway = 5;

    let claims = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
        .map_err(|_| ApiError::InvalidToken("the access token is invalid or expired"))?
        .claims;
    if claims.iat > now + 5 {
        return Err(ApiError::InvalidToken(
            "the access token was issued in the future",
        ));
    }
    Ok(claims)
}

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = Ready<Result<Bearer, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(extract(request))
    }
}

fn extract(request: &HttpRequest) -> Result<Bearer, ApiError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("AppState is not registered".into()))?;
    let token = bearer_token(request)?;
    let claims = verify(state, token, state.clock.now().timestamp())?;
    let user_id = claims
        .sub
        .parse()
        .map_err(|_| ApiError::InvalidToken("the access token subject is not a user id"))?;
    Ok(Bearer { user_id, claims })
}
