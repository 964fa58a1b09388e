//! Prometheus metrics: token verifications by outcome and reason, and the
//! JWKS client's fetch counters and cache state, read at scrape time.

use std::fmt;
use std::sync::Arc;

use auth_shared::jwks::JwksClient;
use auth_shared::{AccessClaims, VerifyError};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Labels of `resource_token_verifications_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerificationLabels {
    /// `accepted` or `rejected`.
    outcome: &'static str,
    /// `ok`, or the [`VerifyError::reason`] of a rejection.
    reason: &'static str,
}

/// The registry and the metrics the server updates.
pub struct Metrics {
    registry: Registry,
    verifications: Family<VerificationLabels, Counter>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Creates the registry, with JWKS metrics read from `jwks` at each scrape.
    pub fn new(jwks: JwksClient) -> Self {
        let mut registry = Registry::with_prefix("resource");
        let verifications = Family::<VerificationLabels, Counter>::default();
        registry.register(
            "token_verifications",
            "Bearer token verifications, by outcome and rejection reason",
            verifications.clone(),
        );
        registry.register_collector(Box::new(JwksCollector(jwks)));

        Metrics {
            registry,
            verifications,
        }
    }

    /// Counts one verification outcome.
    pub fn record_verification(&self, result: Result<&AccessClaims, &VerifyError>) {
        let labels = match result {
            Ok(_) => VerificationLabels {
                outcome: "accepted",
                reason: "ok",
            },
            Err(error) => VerificationLabels {
                outcome: "rejected",
                reason: error.reason(),
            },
        };
        self.verifications.get_or_create(&labels).inc();
    }

    /// Renders every metric in the OpenMetrics text format.
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    /// Returns a verification observer that records into these metrics.
    pub fn observer(self: &Arc<Self>) -> auth_shared::authenticator::VerificationObserver {
        let metrics = Arc::clone(self);
        Arc::new(move |result| metrics.record_verification(result))
    }
}

/// Reads the JWKS client's counters at scrape time.
#[derive(Debug)]
struct JwksCollector(JwksClient);

impl Collector for JwksCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let stats = self.0.stats();

        let fetches = ConstCounter::new(stats.fetches);
        fetches.encode(encoder.encode_descriptor(
            "jwks_fetches",
            "JWKS fetch attempts, successful or not",
            None,
            fetches.metric_type(),
        )?)?;

        let failures = ConstCounter::new(stats.failed_fetches);
        failures.encode(encoder.encode_descriptor(
            "jwks_fetch_failures",
            "JWKS fetch attempts that failed; the last good keys stay in use",
            None,
            failures.metric_type(),
        )?)?;

        let keys = ConstGauge::new(i64::try_from(stats.keys).unwrap_or(i64::MAX));
        keys.encode(encoder.encode_descriptor(
            "jwks_keys",
            "Verification keys in the JWKS cache",
            None,
            keys.metric_type(),
        )?)?;

        let ready = ConstGauge::new(i64::from(stats.ready));
        ready.encode(encoder.encode_descriptor(
            "jwks_ready",
            "1 once verification keys have been loaded, else 0",
            None,
            ready.metric_type(),
        )?)?;

        Ok(())
    }
}
