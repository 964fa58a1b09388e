//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// `GET /healthz`: the process is up and serving.
pub async fn liveness() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers a query.
pub async fn readiness(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
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
