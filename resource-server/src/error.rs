//! The error type of the resource server's own routes, and the handlers that
//! turn actix-web's extractor failures and unknown routes into JSON.
//!
//! Every error response is `{"error": <code>, "error_description": <text>}`.
//! Authentication failures come from [`auth_shared::AuthError`], which has
//! the same shape and adds the `WWW-Authenticate` challenge.

use std::collections::BTreeMap;

use actix_web::error::{JsonPayloadError, PathError};
use actix_web::http::StatusCode;
use actix_web::http::header::ALLOW;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::items::CreateError;

/// An error returned to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route matches the path.
    #[error("no route matches this path")]
    RouteNotFound,
    /// The route exists but not for this method. The field lists the allowed ones.
    #[error("this route does not accept the request method")]
    MethodNotAllowed(&'static str),
    /// The resource does not exist or is not the caller's.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The body is not the JSON the route expects.
    #[error("the request body is invalid: {0}")]
    InvalidBody(String),
    /// The body is not declared as JSON.
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// The client did not send the whole body in time; the field is seconds.
    #[error("the request body did not arrive within {0} seconds")]
    RequestTimeout(u64),
    /// The body is larger than the route accepts.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// One field failed validation.
    #[error("the request has an invalid field")]
    Validation {
        /// The field name.
        field: &'static str,
        /// Description of the problem.
        message: String,
    },
    /// A storage limit was reached.
    #[error(transparent)]
    Limit(#[from] CreateError),
}

/// The JSON body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody<'a> {
    /// Error code, such as `invalid_request`, `invalid_token` or `not_found`.
    error: &'a str,
    /// A short explanation for the developer of the client.
    error_description: String,
    /// Each invalid field of the request and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<BTreeMap<&'static str, &'a str>>,
}

impl ApiError {
    /// Returns the error code sent in the body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::RouteNotFound | ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::InvalidBody(_)
            | ApiError::UnsupportedMediaType
            | ApiError::PayloadTooLarge(_)
            | ApiError::Validation { .. } => "invalid_request",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::Limit(_) => "limit_exceeded",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::RouteNotFound | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::InvalidBody(_) | ApiError::Validation { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Limit(_) => StatusCode::CONFLICT,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::MethodNotAllowed(allowed) = self {
            response.insert_header((ALLOW, *allowed));
        }

        let fields = match self {
            ApiError::Validation { field, message } => {
                Some(BTreeMap::from([(*field, message.as_str())]))
            }
            _ => None,
        };
        response.json(ErrorBody {
            error: self.code(),
            error_description: self.to_string(),
            fields,
        })
    }
}

/// Turns a JSON body that fails to parse into a 400 that names the problem,
/// such as a missing field or a wrong type.
pub fn json_error(error: JsonPayloadError, _request: &HttpRequest) -> actix_web::Error {
    let api_error = match error {
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::PayloadTooLarge(limit),
        JsonPayloadError::Deserialize(error) => ApiError::InvalidBody(error.to_string()),
        other => ApiError::InvalidBody(other.to_string()),
    };
    api_error.into()
}

/// Turns a path segment that does not parse, such as a non-numeric id, into
/// a 404: no resource has that name.
pub fn path_error(_error: PathError, _request: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound("resource").into()
}

/// Returns 404 for requests that match no route.
pub async fn route_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}
