//! The token-protected sample API: the caller's claims, a route that needs
//! the `reports:read` permission and one that needs `admin`.

use actix_web::{HttpResponse, web};
use auth_shared::scope::RequiredScope;
use auth_shared::{AdminUser, AuthenticatedUser, Authenticator, RequireScope};
use serde_json::json;

use crate::items::ItemStore;

/// The permission `GET /api/reports` requires.
pub struct ReportsRead;

impl RequiredScope for ReportsRead {
    const SCOPE: &'static str = "reports:read";
}

/// `GET /api/me`: the verified claims of the caller's token.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "api",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verified claims of the caller's access token", body = auth_shared::AccessClaims),
        (status = 401, description = "The bearer token is missing, invalid or expired", body = crate::error::ErrorBody),
    )
)]
pub async fn me(user: AuthenticatedUser) -> HttpResponse {
    HttpResponse::Ok().json(user.claims())
}

/// `GET /api/reports`: sample report data, for tokens with `reports:read`.
#[utoipa::path(
    get,
    path = "/api/reports",
    tag = "api",
    security(("bearer" = ["reports:read"])),
    responses(
        (status = 200, description = "Sample report data", body = crate::openapi::ReportList),
        (status = 401, description = "The bearer token is missing, invalid or expired", body = crate::error::ErrorBody),
        (status = 403, description = "The token lacks the `reports:read` permission", body = crate::error::ErrorBody),
    )
)]
pub async fn reports(user: RequireScope<ReportsRead>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "subject": user.subject(),
        "reports": [
            { "id": "monthly-sales", "title": "Monthly sales" },
            { "id": "active-users", "title": "Active users" },
        ],
    }))
}

/// `GET /api/admin/stats`: item counts and JWKS cache state, for `admin`.
#[utoipa::path(
    get,
    path = "/api/admin/stats",
    tag = "api",
    security(("bearer" = ["admin"])),
    responses(
        (status = 200, description = "Item counts and the state of the JWKS cache", body = crate::openapi::AdminStats),
        (status = 401, description = "The bearer token is missing, invalid or expired", body = crate::error::ErrorBody),
        (status = 403, description = "The token lacks the `admin` scope", body = crate::error::ErrorBody),
    )
)]
pub async fn admin_stats(
    _admin: AdminUser,
    items: web::Data<ItemStore>,
    authenticator: web::Data<Authenticator>,
) -> HttpResponse {
    let counts = items.counts();
    let jwks = authenticator.jwks().stats();

    HttpResponse::Ok().json(json!({
        "items": counts.items,
        "item_owners": counts.owners,
        "jwks": {
            "ready": jwks.ready,
            "keys": jwks.keys,
            "fetches": jwks.fetches,
            "failed_fetches": jwks.failed_fetches,
            "ttl_secs": jwks.ttl.map(|ttl| ttl.as_secs()),
        },
    }))
}
