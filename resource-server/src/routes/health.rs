//! Liveness, readiness and metrics: the routes that orchestrators and
//! Prometheus call, none of which needs a token.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use auth_shared::Authenticator;
use serde_json::json;

use crate::metrics::Metrics;

/// `GET /healthz`: the process is up and serving.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "The process is up", body = crate::openapi::HealthStatus),
    )
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 once the JWKS is loaded, 503 before, because until
/// then every token would be rejected.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The verification keys are loaded", body = crate::openapi::ReadyStatus),
        (status = 503, description = "The verification keys are not loaded yet", body = crate::error::ErrorBody),
    )
)]
pub async fn readyz(authenticator: web::Data<Authenticator>) -> HttpResponse {
    let stats = authenticator.jwks().stats();

    if stats.ready {
        HttpResponse::Ok().json(json!({ "status": "ready", "keys": stats.keys }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({
            "error": "temporarily_unavailable",
            "error_description": "the verification keys are not loaded yet",
        }))
    }
}

/// `GET /metrics`: every metric in the OpenMetrics text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Every metric in the OpenMetrics text format", body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 500, description = "The metrics could not be rendered", body = crate::error::ErrorBody),
    )
)]
pub async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    match metrics.render() {
        Ok(text) => HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text),
        Err(error) => {
            tracing::error!(%error, "failed to render metrics");
            HttpResponse::InternalServerError()
                .insert_header(ContentType::json())
                .body(r#"{"error":"server_error","error_description":"failed to render metrics"}"#)
        }
    }
}
