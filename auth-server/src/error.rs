//! The one error type of the HTTP API and how each variant reaches a client.
//!
//! Variants are named for what the client sees. The client gets a short
//! message and an OAuth-style code; causes of server faults go only to the
//! log, once, here.

use std::collections::BTreeMap;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::DbError;
use crate::keys::KeyError;
use crate::password::HashError;

/// An error returned to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// One or more fields failed validation; the map names each field.
    #[error("the request has invalid fields")]
    Validation(BTreeMap<String, String>),
    /// The request is malformed in a way that is not about one field.
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request body is larger than {0} bytes, or could not be read")]
    PayloadTooLarge(usize),
    #[error("the request body did not arrive within {0} seconds")]
    RequestTimeout(u64),
    #[error("a user with this email already exists")]
    EmailTaken,
    /// Login failed; the same for an unknown email and a wrong password.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// A refresh token or grant that is unknown, expired or revoked.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// No bearer token in the request.
    #[error("a bearer access token is required")]
    MissingToken,
    /// A bearer token that failed verification.
    #[error("{0}")]
    /// A bearer token that failed verification; the text is fixed per
    /// failure and never copied from the request.
    InvalidToken(String),
    /// A valid token without the scope the route needs.
    #[error("the access token lacks the {0} scope")]
    InsufficientScope(&'static str),
    /// A request from an origin outside the allowlist.
    #[error("origin not allowed")]
    ForbiddenOrigin,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("too many requests, retry after {0} seconds")]
    RateLimited(u64),
    /// The database cannot be reached.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// Any other server fault; the cause is logged, never sent.
    #[error("internal server error")]
    Internal(String),
}

/// The JSON body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody<'a> {
    /// OAuth-style error code, such as `invalid_request` or `invalid_grant`.
    error: &'a str,
    /// A short explanation for the developer of the client.
    error_description: String,
    /// Each invalid field of the request and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a BTreeMap<String, String>>,
}

impl ApiError {
    /// Builds a validation error for one field.
    pub fn field(name: &str, message: impl Into<String>) -> ApiError {
        ApiError::Validation(BTreeMap::from([(name.to_owned(), message.into())]))
    }

    /// The OAuth-style error code of the body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest(_) => "invalid_request",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::EmailTaken => "email_taken",
            ApiError::InvalidCredentials | ApiError::InvalidGrant(_) => "invalid_grant",
            // RFC 6750 puts no error code in the challenge of a request
            // without credentials; the body carries invalid_request, as the
            // shared extractor does.
            ApiError::MissingToken => "invalid_request",
            ApiError::InvalidToken(_) => "invalid_token",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::ForbiddenOrigin => "forbidden_origin",
            ApiError::NotFound(_) => "not_found",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Unavailable => "temporarily_unavailable",
            ApiError::Internal(_) => "server_error",
        }
    }

    fn www_authenticate(&self) -> Option<String> {
        match self {
            ApiError::MissingToken => Some(r#"Bearer realm="auth""#.to_owned()),
            ApiError::InvalidToken(_) => Some(format!(
                r#"Bearer realm="auth", error="invalid_token", error_description="{}""#,
                self
            )),
            ApiError::InsufficientScope(scope) => Some(format!(
                r#"Bearer realm="auth", error="insufficient_scope", scope="{scope}""#
            )),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::EmailTaken => StatusCode::CONFLICT,
            ApiError::InvalidCredentials
            | ApiError::InvalidGrant(_)
            | ApiError::MissingToken
            | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope(_) | ApiError::ForbiddenOrigin => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(cause = %cause, "request failed with a server fault");
        }

        let fields = match self {
            ApiError::Validation(fields) => Some(fields),
            _ => None,
        };
        let body = ErrorBody {
            error: self.code(),
            error_description: self.to_string(),
            fields,
        };

        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(challenge) = self.www_authenticate()
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
        if let ApiError::RateLimited(seconds) = self {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(body)
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> ApiError {
        use diesel::result::{DatabaseErrorKind, Error as Diesel};

        match error {
            DbError::Pool(_) | DbError::TimedOut(_) => ApiError::Unavailable,
            DbError::Query(Diesel::DatabaseError(DatabaseErrorKind::ClosedConnection, _)) => {
                ApiError::Unavailable
            }
            DbError::Query(Diesel::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _)) => {
                ApiError::Unavailable
            }
            other => ApiError::Internal(format!("{other}: {other:?}")),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> ApiError {
        ApiError::from(DbError::Query(error))
    }
}

impl From<HashError> for ApiError {
    fn from(error: HashError) -> ApiError {
        ApiError::Internal(error.to_string())
    }
}

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> ApiError {
        ApiError::Internal(error.to_string())
    }
}

/// The maximum size of a plain-text error body kept as the description.
const MAX_PLAIN_ERROR_BYTES: usize = 512;

/// Gives a JSON body to error responses built outside [`ApiError`], such as
/// actix-cors's plain-text rejection of a preflight from a disallowed origin.
/// A short plain text becomes the description. Used with `ErrorHandlers`.
pub fn json_body_for_plain_errors<B>(
    response: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>>
where
    B: MessageBody + 'static,
{
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(
            response.map_into_left_body(),
        ));
    }

    Ok(ErrorHandlerResponse::Future(Box::pin(async move {
        let status = response.status();
        let (request, plain) = response.into_parts();
        let text = actix_web::body::to_bytes_limited(plain.into_body(), MAX_PLAIN_ERROR_BYTES)
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
            .filter(|text| !text.trim().is_empty());
        let description = text.unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("the request failed")
                .to_owned()
        });

        let error = if status.is_server_error() {
            "server_error"
        } else {
            "invalid_request"
        };
        let body = ErrorBody {
            error,
            error_description: description,
            fields: None,
        };
        let json = HttpResponse::build(status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(body);
        Ok(ServiceResponse::new(request, json).map_into_right_body())
    })))
}
