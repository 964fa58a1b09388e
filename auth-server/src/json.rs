//! JSON request bodies with errors that name the offending field.
//!
//! actix-web's `web::Json` reports type errors without the field path; this
//! extractor runs serde through `serde_path_to_error` so a client reads, for
//! example, "`date_of_birth`: invalid type: integer, expected a string".

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest JSON body accepted, in bytes.
pub const MAX_JSON_BYTES: usize = 16 * 1024;

/// A JSON request body deserialized into `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// Checks that the request declares a JSON body.
pub fn require_json_content_type(request: &HttpRequest) -> Result<(), ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();

    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// Parses a JSON object body, naming the path of the first field that fails.
///
/// serde lets a struct deserialize from an array of its fields in order, so
/// anything but an object is rejected before serde parses it.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|byte| *byte != b'{') {
        return Err(ApiError::BadRequest(
            "invalid JSON body: expected a JSON object".into(),
        ));
    }

    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            ApiError::BadRequest(format!("invalid JSON body: {inner}"))
        } else {
            ApiError::BadRequest(format!("invalid JSON body at `{path}`: {inner}"))
        }
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::BadRequest(format!("invalid JSON body: {error}")))?;
    Ok(value)
}

/// How long a client may take to send a request body.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads the request body, up to [`MAX_JSON_BYTES`] and within
/// [`BODY_TIMEOUT`], so a client that announces a body and never sends it
/// does not hold a connection and a worker slot forever.
pub async fn read_body(
    request: &HttpRequest,
    payload: &mut Payload,
) -> Result<web::Bytes, ApiError> {
    let read = tokio::time::timeout(BODY_TIMEOUT, web::Bytes::from_request(request, payload));
    match read.await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::PayloadTooLarge(MAX_JSON_BYTES)),
        Err(_) => Err(ApiError::RequestTimeout(BODY_TIMEOUT.as_secs())),
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<JsonBody<T>, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let mut payload = payload.take();

        Box::pin(async move {
            require_json_content_type(&request)?;
            let bytes = read_body(&request, &mut payload).await?;
            parse(&bytes).map(JsonBody)
        })
    }
}

/// Deserializes a field that may be absent, `null` or a value into
/// `None`, `Some(None)` or `Some(Some(value))`, so PATCH can clear a field.
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}
