//! Every route of the resource server, registered in [`configure`]. Handlers
//! live in one module per area.

pub(crate) mod api;
pub(crate) mod health;
pub(crate) mod items;

use actix_web::{HttpResponse, web};

use crate::error::ApiError;

/// Registers every route. The app must also provide the app data the
/// handlers take: the `Authenticator`, the `ItemStore` and the `Metrics`.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/healthz")
                .get(health::healthz)
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/readyz")
                .get(health::readyz)
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/metrics")
                .get(health::metrics)
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/openapi.json")
                .get(crate::openapi::openapi_json)
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/api/me")
                .get(api::me)
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/api/reports")
                .get(api::reports)
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/api/admin/stats")
                .get(api::admin_stats)
                .default_service(method_not_allowed("GET")),
        )
        .service(
            web::resource("/api/items")
                .get(items::list)
                .post(items::create)
                .default_service(method_not_allowed("GET, POST")),
        )
        .service(
            web::resource("/api/items/{id}")
                .get(items::get)
                .delete(items::delete)
                .default_service(method_not_allowed("GET, DELETE")),
        );
}

/// Returns 405 for a known path requested with a method it does not serve.
fn method_not_allowed(allowed: &'static str) -> actix_web::Route {
    web::to(move || async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allowed)) })
}
