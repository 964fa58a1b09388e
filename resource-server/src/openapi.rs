//! The OpenAPI document of the resource server and the route that serves it.
//!
//! Operations come from the `#[utoipa::path]` attributes on the handlers in
//! `routes`. The structs below describe responses that handlers build with
//! `json!`. They exist only for the document, so keep each in step with the
//! handler named in its doc comment.

use actix_web::HttpResponse;
use auth_shared::openapi::BearerSecurity;
use utoipa::{OpenApi, ToSchema};

use crate::routes;

/// The OpenAPI document: every route of [`routes::configure`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "resource-server",
        description = "Reference API that verifies access tokens against the auth server's published JWKS."
    ),
    paths(
        routes::api::me,
        routes::api::reports,
        routes::api::admin_stats,
        routes::items::list,
        routes::items::create,
        routes::items::get,
        routes::items::delete,
        routes::health::healthz,
        routes::health::readyz,
        routes::health::metrics,
        openapi_json,
    ),
    modifiers(&BEARER_SECURITY),
    tags(
        (name = "api", description = "Sample routes that need an access token"),
        (name = "items", description = "Each user's own items, kept in memory"),
        (name = "operations", description = "Probes, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme that protected operations name.
const BEARER_SECURITY: BearerSecurity = BearerSecurity {
    description: "An RS256 access token from the auth server, verified against its JWKS",
};

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI document of this server", content_type = "application/json", body = Object),
    )
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// Body of `GET /healthz`.
#[derive(ToSchema)]
pub struct HealthStatus {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
}

/// Body of `GET /readyz` once the verification keys are loaded.
#[derive(ToSchema)]
pub struct ReadyStatus {
    /// Always `ready`.
    #[schema(example = "ready")]
    pub status: String,
    /// Number of verification keys in the cache.
    pub keys: usize,
}

/// Body of `GET /api/reports`.
#[derive(ToSchema)]
pub struct ReportList {
    /// The `sub` claim of the caller's token.
    pub subject: String,
    /// The sample reports.
    pub reports: Vec<Report>,
}

/// One sample report of `GET /api/reports`.
#[derive(ToSchema)]
pub struct Report {
    /// Stable identifier, such as `monthly-sales`.
    pub id: String,
    /// Display title.
    pub title: String,
}

/// Body of `GET /api/admin/stats`.
#[derive(ToSchema)]
pub struct AdminStats {
    /// Items of all users.
    pub items: usize,
    /// Users with at least one item.
    pub item_owners: usize,
    /// State of the JWKS cache.
    pub jwks: JwksCacheStats,
}

/// State of the JWKS cache in `GET /api/admin/stats`.
#[derive(ToSchema)]
pub struct JwksCacheStats {
    /// Whether keys have been loaded at least once.
    pub ready: bool,
    /// Keys in the cache now.
    pub keys: usize,
    /// Fetch attempts since start, successful or not.
    pub fetches: u64,
    /// Failed fetch attempts since start.
    pub failed_fetches: u64,
    /// Cache lifetime taken from the last successful fetch, in seconds, or
    /// `null` before the first one.
    pub ttl_secs: Option<u64>,
}

/// Body of `GET /api/items`.
#[derive(ToSchema)]
pub struct ItemList {
    /// The caller's items, oldest first.
    pub items: Vec<crate::items::Item>,
}
