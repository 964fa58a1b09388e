//! Logging: the global subscriber and the one log line written per request.
//!
//! Request lines carry the method, the path without its query string, the
//! matched route, the status and the latency. Headers are never logged, so
//! bearer tokens never reach the log.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Log filter used when `RUST_LOG` is unset. tracing-actix-web's own event
/// for failed requests is off because the request line already has the status.
const DEFAULT_FILTER: &str = "info,tracing_actix_web=off";

/// Installs the global tracing subscriber. `RUST_LOG` overrides the default
/// filter. Calling it twice leaves the first subscriber in place.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);

    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Start time of a request, kept in the request extensions.
#[derive(Clone, Copy)]
struct RequestStart(Instant);

/// Builds each request's span and writes its log line when it ends.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request
            .extensions_mut()
            .insert(RequestStart(Instant::now()));

        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.path(),
            route = request.match_pattern().unwrap_or_default(),
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let _entered = span.enter();
        match outcome {
            Ok(response) => {
                let latency_ms = response
                    .request()
                    .extensions()
                    .get::<RequestStart>()
                    .map(|start| start.0.elapsed().as_secs_f64() * 1000.0);
                let status = response.status();
                // A 503 from /readyz and 4xx responses are expected. Only a 500
                // means a fault in this server.
                if status == StatusCode::INTERNAL_SERVER_ERROR {
                    tracing::error!(status = status.as_u16(), latency_ms, "request failed");
                } else {
                    tracing::info!(status = status.as_u16(), latency_ms, "request completed");
                }
            }
            Err(error) => {
                let status = error.as_response_error().status_code().as_u16();
                tracing::error!(status, %error, "request failed before a response was built");
            }
        }
    }
}
