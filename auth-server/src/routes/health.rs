//! Liveness and readiness probes, and the Prometheus metrics.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::db::DbError;
use crate::state::AppState;

/// `GET /healthz`: the process is up and serving.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "The process is up", body = crate::openapi::HealthStatus),
    )
)]
pub async fn liveness() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// How long `/readyz` waits for the database: shorter than the timeouts of
/// common health probes, so a dead database reads as not ready rather than
/// as a hung probe.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /readyz`: checks that the database runs a query.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The database responded to a test query", body = crate::openapi::ReadyStatus),
        (status = 503, description = "The database is unreachable", body = crate::openapi::NotReadyStatus),
    )
)]
pub async fn readiness(state: web::Data<AppState>) -> HttpResponse {
    let ping = tokio::time::timeout(READINESS_TIMEOUT, state.db.ping())
        .await
        .unwrap_or(Err(DbError::TimedOut(READINESS_TIMEOUT)));
    match ping {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok" })),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed: database unreachable");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "not_ready",
                "database": "unreachable",
                "error": "temporarily_unavailable",
                "error_description": "the database is unreachable",
            }))
        }
    }
}

/// `GET /metrics`: every metric in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Every metric in the OpenMetrics text format", body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 500, description = "The metrics could not be rendered. The body is empty"),
    )
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match state.metrics.render() {
        Ok(text) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Err(error) => {
            tracing::error!(error = %error, "rendering metrics failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
