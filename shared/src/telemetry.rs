//! Logging for an actix-web server: the global subscriber and one log line
//! per request.
//!
//! A request line carries the request id, method, path without its query
//! string, matched route, status and latency. Query strings and headers are
//! never logged, because a client may put a token in either.

use std::str::FromStr;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use tracing_subscriber::EnvFilter;

pub use tracing_actix_web::{RequestId, TracingLogger};

/// Log filter used when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info";

/// Output format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    /// Parses `text` or `json`, in any case.
    fn from_str(value: &str) -> Result<LogFormat, String> {
        if value.eq_ignore_ascii_case("text") {
            Ok(LogFormat::Text)
        } else if value.eq_ignore_ascii_case("json") {
            Ok(LogFormat::Json)
        } else {
            Err(format!("expected text or json, found {value:?}"))
        }
    }
}

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

/// Returns the middleware that gives each request an id and a span and logs
/// one line per request.
pub fn request_logger() -> TracingLogger<RequestSpan> {
    TracingLogger::<RequestSpan>::new()
}

/// Start time of a request, kept in the request extensions.
#[derive(Clone, Copy)]
struct RequestStart(Instant);

/// The root span of each request for `TracingLogger::<RequestSpan>::new()`,
/// which also writes the request's log line when the response is ready.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request
            .extensions_mut()
            .insert(RequestStart(Instant::now()));
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();

        tracing::info_span!(
            "request",
            request_id,
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
                let status = response.status().as_u16();

                // 4xx and 503 (a dependency is away) are expected answers;
                // any other 5xx means a fault in this server.
                if status >= 500 && status != 503 {
                    tracing::error!(status, latency_ms, "request failed");
                } else {
                    tracing::info!(status, latency_ms, "request completed");
                }
            }
            Err(error) => {
                let status = error.as_response_error().status_code().as_u16();
                tracing::error!(status, %error, "request failed before a response was built");
            }
        }
    }
}
