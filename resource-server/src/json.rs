//! JSON request bodies: the body must arrive within [`BODY_TIMEOUT`] and be a
//! JSON object, so a stalled upload ends with 408 and an array is not taken
//! for a struct's fields in order.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::JsonPayloadError;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, json_error};

/// How long a client may take to send a request body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// A JSON object body deserialized into `T`, read under the app's
/// `web::JsonConfig` (size limit, content type and error handler).
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<JsonObject<T>, actix_web::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let mut payload = payload.take();

        Box::pin(async move {
            let read = web::Json::<serde_json::Value>::from_request(&request, &mut payload);
            let value = match tokio::time::timeout(BODY_TIMEOUT, read).await {
                Ok(value) => value?.into_inner(),
                Err(_) => return Err(ApiError::RequestTimeout(BODY_TIMEOUT.as_secs()).into()),
            };

            if !value.is_object() {
                return Err(ApiError::InvalidBody("expected a JSON object".into()).into());
            }
            serde_json::from_value(value)
                .map(JsonObject)
                .map_err(|error| json_error(JsonPayloadError::Deserialize(error), &request))
        })
    }
}
