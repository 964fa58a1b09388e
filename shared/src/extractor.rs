//! The actix-web side of bearer authentication (RFC 6750): reading the
//! `Authorization` header, the [`AuthenticatedUser`] extractor, and
//! [`AuthError`], which turns every failure into a JSON error response with
//! the matching `WWW-Authenticate` challenge.
//!
//! The extractors find their [`Authenticator`] as `web::Data<Authenticator>`
//! in the app data.

use std::fmt;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;

use crate::authenticator::{Authenticator, DEFAULT_REALM};
use crate::claims::{ADMIN_SCOPE, AccessClaims};
use crate::verifier::VerifyError;

/// Seconds a client is asked to wait when the keys are not loaded yet.
const KEYS_UNAVAILABLE_RETRY_AFTER_SECS: &str = "5";

/// Kind of failure of a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No `Authorization: Bearer` credentials: 401 with a bare challenge.
    MissingToken,
    /// The `Authorization` header is not valid bearer syntax: 400
    /// `invalid_request`.
    MalformedHeader(&'static str),
    /// The token failed verification: 401 `invalid_token`, or 503 when the
    /// keys are not loaded yet.
    InvalidToken(VerifyError),
    /// The token lacks a scope the route requires: 403 `insufficient_scope`.
    InsufficientScope(&'static str),
    /// No [`Authenticator`] was registered as app data: 500.
    NotConfigured,
}

/// An authentication or authorization failure, rendered as a JSON error with
/// a `WWW-Authenticate` challenge.
///
/// Responses carry only fixed text chosen by this crate, never text from the
/// request, so they cannot be used for header injection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: AuthErrorKind,
    realm: Arc<str>,
}

impl AuthError {
    /// Creates an error for `kind`, challenging with `realm`.
    pub fn new(kind: AuthErrorKind, realm: Arc<str>) -> Self {
        AuthError { kind, realm }
    }

    /// Returns what went wrong.
    pub fn kind(&self) -> &AuthErrorKind {
        &self.kind
    }

    /// Returns the OAuth error code sent in the body, such as `invalid_token`.
    pub fn error_code(&self) -> &'static str {
        match &self.kind {
            AuthErrorKind::MissingToken | AuthErrorKind::MalformedHeader(_) => "invalid_request",
            AuthErrorKind::InvalidToken(VerifyError::KeysUnavailable) => "temporarily_unavailable",
            AuthErrorKind::InvalidToken(_) => "invalid_token",
            AuthErrorKind::InsufficientScope(_) => "insufficient_scope",
            AuthErrorKind::NotConfigured => "server_error",
        }
    }

    fn challenge(&self) -> Option<String> {
        let realm = &self.realm;
        let description = header_safe(&self.to_string());

        match &self.kind {
            AuthErrorKind::MissingToken => Some(format!(r#"Bearer realm="{realm}""#)),
            AuthErrorKind::MalformedHeader(_) | AuthErrorKind::InvalidToken(_) => Some(format!(
                r#"Bearer realm="{realm}", error="{}", error_description="{description}""#,
                self.error_code()
            )),
            AuthErrorKind::InsufficientScope(scope) => Some(format!(
                r#"Bearer realm="{realm}", error="insufficient_scope", error_description="{description}", scope="{}""#,
                header_safe(scope)
            )),
            AuthErrorKind::NotConfigured => None,
        }
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            AuthErrorKind::MissingToken => f.write_str("a bearer access token is required"),
            AuthErrorKind::MalformedHeader(problem) => {
                write!(f, "the Authorization header is malformed: {problem}")
            }
            AuthErrorKind::InvalidToken(error) => error.fmt(f),
            AuthErrorKind::InsufficientScope(scope) => {
                write!(f, "the token lacks the {scope} scope")
            }
            AuthErrorKind::NotConfigured => f.write_str("authentication is not configured"),
        }
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            AuthErrorKind::InvalidToken(error) => Some(error),
            _ => None,
        }
    }
}

/// The JSON body of an error response.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: String,
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match &self.kind {
            AuthErrorKind::MissingToken => StatusCode::UNAUTHORIZED,
            AuthErrorKind::MalformedHeader(_) => StatusCode::BAD_REQUEST,
            AuthErrorKind::InvalidToken(VerifyError::KeysUnavailable) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AuthErrorKind::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            AuthErrorKind::InsufficientScope(_) => StatusCode::FORBIDDEN,
            AuthErrorKind::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());

        let challenge = self.challenge();
        if let Some(value) = challenge.and_then(|text| HeaderValue::from_str(&text).ok()) {
            response.insert_header((WWW_AUTHENTICATE, value));
        }
        if self.kind == AuthErrorKind::InvalidToken(VerifyError::KeysUnavailable) {
            response.insert_header((RETRY_AFTER, KEYS_UNAVAILABLE_RETRY_AFTER_SECS));
        }

        response.json(ErrorBody {
            error: self.error_code(),
            error_description: self.to_string(),
        })
    }
}

/// The verified claims of the request's bearer token.
///
/// As a handler argument it authenticates the request: a handler that takes
/// it runs only for a valid token. Verification happens once per request even
/// when several extractors need the claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    claims: AccessClaims,
    realm: Arc<str>,
}

impl AuthenticatedUser {
    /// Returns the verified claims.
    pub fn claims(&self) -> &AccessClaims {
        &self.claims
    }

    /// Returns the verified claims, consuming the extractor.
    pub fn into_claims(self) -> AccessClaims {
        self.claims
    }

    /// Returns the subject: the user id as a string.
    pub fn subject(&self) -> &str {
        &self.claims.sub
    }

    /// Returns `Ok` if the token grants `scope`, else the 403
    /// `insufficient_scope` error to return from the handler.
    pub fn require_scope(&self, scope: &'static str) -> Result<(), AuthError> {
        if self.claims.has_scope(scope) {
            Ok(())
        } else {
            Err(AuthError::new(
                AuthErrorKind::InsufficientScope(scope),
                Arc::clone(&self.realm),
            ))
        }
    }

    /// Returns `Ok` if the token grants [`ADMIN_SCOPE`].
    pub fn require_admin(&self) -> Result<(), AuthError> {
        self.require_scope(ADMIN_SCOPE)
    }
}

impl FromRequest for AuthenticatedUser {
    type Error = AuthError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move { authenticate_request(&request).await })
    }
}

/// Verifies the request's bearer token, or returns the claims verified earlier
/// in the same request.
pub(crate) async fn authenticate_request(
    request: &HttpRequest,
) -> Result<AuthenticatedUser, AuthError> {
    let Some(authenticator) = request.app_data::<web::Data<Authenticator>>() else {
        tracing::error!("no web::Data<Authenticator> registered; rejecting the request");
        return Err(AuthError::new(
            AuthErrorKind::NotConfigured,
            Arc::from(DEFAULT_REALM),
        ));
    };
    let realm = Arc::clone(authenticator.realm());

    if let Some(user) = request.extensions().get::<AuthenticatedUser>() {
        return Ok(user.clone());
    }

    let token = bearer_token(request).map_err(|kind| AuthError::new(kind, Arc::clone(&realm)))?;
    let claims = authenticator
        .authenticate(token)
        .await
        .map_err(|error| AuthError::new(AuthErrorKind::InvalidToken(error), Arc::clone(&realm)))?;

    let user = AuthenticatedUser { claims, realm };
    request.extensions_mut().insert(user.clone());
    Ok(user)
}

/// Reads the token from `Authorization: Bearer <token>`.
///
/// The scheme is matched without regard to case. Another scheme counts as no
/// bearer credentials. The token must be one RFC 6750 `b64token`.
pub fn bearer_token(request: &HttpRequest) -> Result<&str, AuthErrorKind> {
    let mut values = request.headers().get_all(AUTHORIZATION);
    let Some(value) = values.next() else {
        return Err(AuthErrorKind::MissingToken);
    };
    if values.next().is_some() {
        return Err(AuthErrorKind::MalformedHeader(
            "more than one Authorization header",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| AuthErrorKind::MalformedHeader("the header is not visible ASCII"))?;

    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthErrorKind::MissingToken);
    }

    let token = token.trim_matches(' ');
    if token.is_empty() {
        return Err(AuthErrorKind::MalformedHeader("the bearer token is empty"));
    }
    if !is_b64token(token) {
        return Err(AuthErrorKind::MalformedHeader(
            "the bearer token has characters outside the b64token syntax",
        ));
    }
    Ok(token)
}

/// Checks RFC 6750 `b64token` syntax: `1*( ALPHA / DIGIT / "-" / "." / "_" /
/// "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~+/".contains(&byte))
}

/// Drops every character that cannot appear inside a quoted header value
/// without escaping: quotes, backslashes, control and non-ASCII characters.
pub(crate) fn header_safe(text: &str) -> String {
    text.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}
