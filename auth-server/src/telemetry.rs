//! Log output: human-readable text by default, JSON lines when configured.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Log filter used when `RUST_LOG` is unset. tracing-actix-web's own event
/// for failed requests is off because the request line has the status.
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
