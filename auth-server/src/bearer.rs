//! The bearer access token of requests to the auth server's own protected
//! routes, verified by the shared crate's verifier against the auth server's
//! own published keys, exactly as a resource server would.

use std::future::{Ready, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use auth_shared::AccessClaims;
use auth_shared::extractor::{AuthErrorKind, bearer_token};

use crate::error::ApiError;
use crate::state::AppState;

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

    let token = bearer_token(request).map_err(|kind| match kind {
        AuthErrorKind::MissingToken => ApiError::MissingToken,
        AuthErrorKind::MalformedHeader(problem) => {
            ApiError::BadRequest(format!("the Authorization header is malformed: {problem}"))
        }
        _ => ApiError::BadRequest("the Authorization header is invalid".into()),
    })?;

    let now = UNIX_EPOCH + Duration::from_secs(state.clock.now().timestamp().max(0).unsigned_abs());
    let claims = verify(state, token, now)?;
    let user_id = claims
        .sub
        .parse()
        .map_err(|_| ApiError::InvalidToken("the token subject is not a user id".into()))?;
    Ok(Bearer { user_id, claims })
}

fn verify(state: &AppState, token: &str, now: SystemTime) -> Result<AccessClaims, ApiError> {
    let key_set = state.keys.key_set();
    state
        .verifier
        .verify(token, &key_set, now)
        .map_err(|error| ApiError::InvalidToken(error.to_string()))
}
