//! Prometheus metrics of the auth server and the middleware that writes one
//! log line and one latency sample per request.
//!
//! Counters use small fixed label sets (outcomes, reasons, route patterns),
//! never user input, so the number of series stays bounded.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use auth_shared::telemetry::RequestId;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::db::Database;
use crate::state::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

/// Every metric the auth server updates.
pub struct Metrics {
    registry: Registry,
    logins: Family<OutcomeLabels, Counter>,
    refreshes: Family<OutcomeLabels, Counter>,
    registrations: Family<OutcomeLabels, Counter>,
    reuse_detections: Counter,
    jwks_requests: Counter,
    request_seconds: Family<RequestLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Metrics {
    /// Creates the registry; pool gauges are read from `db` at each scrape.
    pub fn new(db: Database) -> Metrics {
        let mut registry = Registry::with_prefix("auth");
        let metrics = Metrics {
            logins: Family::default(),
            refreshes: Family::default(),
            registrations: Family::default(),
            reuse_detections: Counter::default(),
            jwks_requests: Counter::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            registry: Registry::default(),
        };

        registry.register(
            "logins",
            "Login attempts by outcome",
            metrics.logins.clone(),
        );
        registry.register(
            "refreshes",
            "Refresh token presentations by outcome",
            metrics.refreshes.clone(),
        );
        registry.register(
            "registrations",
            "Registration attempts by outcome",
            metrics.registrations.clone(),
        );
        registry.register(
            "refresh_token_reuse_detections",
            "Rotated refresh tokens presented again after the grace window",
            metrics.reuse_detections.clone(),
        );
        registry.register(
            "jwks_requests",
            "Requests served for the JWKS",
            metrics.jwks_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route pattern and status",
            metrics.request_seconds.clone(),
        );
        registry.register_collector(Box::new(PoolCollector(db)));

        Metrics {
            registry,
            ..metrics
        }
    }

    /// Counts a login attempt: `success`, `invalid_credentials`, `rate_limited`.
    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Counts a refresh: `rotated`, `rejected`, `reuse_detected`, `rate_limited`.
    pub fn refresh(&self, outcome: &'static str) {
        self.refreshes
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        if outcome == "reuse_detected" {
            self.reuse_detections.inc();
        }
    }

    /// Counts a registration: `created`, `email_taken`, `invalid`, `rate_limited`.
    pub fn registration(&self, outcome: &'static str) {
        self.registrations
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts a JWKS request.
    pub fn jwks_request(&self) {
        self.jwks_requests.inc();
    }

    /// The number of JWKS requests served so far.
    pub fn jwks_request_count(&self) -> u64 {
        self.jwks_requests.get()
    }

    /// Renders every metric in the Prometheus text format.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Reports the database pool's connections at scrape time.
#[derive(Debug)]
struct PoolCollector(Database);

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (open, idle) = self.0.pool_state();
        let open_gauge = ConstGauge::new(i64::from(open));
        open_gauge.encode(encoder.encode_descriptor(
            "db_pool_connections",
            "Connections open in the database pool",
            None,
            open_gauge.metric_type(),
        )?)?;
        let idle_gauge = ConstGauge::new(i64::from(idle));
        idle_gauge.encode(encoder.encode_descriptor(
            "db_pool_idle_connections",
            "Open connections not in use",
            None,
            idle_gauge.metric_type(),
        )?)?;
        Ok(())
    }
}

/// Middleware: records the latency of each request in the histogram and
/// returns the request id in `x-request-id`. The request's log line comes
/// from [`auth_shared::telemetry::RequestSpan`].
pub async fn observe_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = request.method().to_string();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    let metrics = request
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());

    let mut response = next.call(request).await?;

    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(metrics) = metrics {
        metrics
            .request_seconds
            .get_or_create(&RequestLabels {
                method,
                route,
                status: response.status().as_u16(),
            })
            .observe(started.elapsed().as_secs_f64());
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(response)
}
