//! Every route of the auth server, registered in one place.

pub(crate) mod admin;
pub(crate) mod auth;
mod cookies;
pub(crate) mod health;
pub(crate) mod me;
pub(crate) mod oauth;
pub(crate) mod sessions;
mod views;
pub(crate) mod well_known;

use actix_web::web;

pub use well_known::METADATA_MAX_AGE_SECS;

/// The JSON request bodies of the handlers, public so that fuzz targets parse
/// exactly the types the handlers parse.
pub mod bodies {
    pub use super::admin::UpdateUserRequest;
    pub use super::auth::{LoginRequest, RefreshRequest, RegisterRequest, parse_date_of_birth};
    pub use super::me::{ChangePasswordRequest, UpdateProfileRequest};
}

/// Registers every route of the auth server.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/auth/register", web::post().to(auth::register))
        .route("/auth/login", web::post().to(auth::login))
        .route("/auth/refresh", web::post().to(auth::refresh))
        .route("/auth/logout", web::post().to(auth::logout))
        .route("/auth/logout-all", web::post().to(auth::logout_all))
        .route("/auth/me", web::get().to(me::get_profile))
        .route("/auth/me", web::patch().to(me::update_profile))
        .route("/auth/me/password", web::post().to(me::change_password))
        .route("/auth/sessions", web::get().to(sessions::list))
        .route("/auth/sessions/{id}", web::delete().to(sessions::revoke))
        .route("/oauth/revoke", web::post().to(oauth::revoke))
        .route("/admin/users", web::get().to(admin::list_users))
        .route("/admin/users/{id}", web::patch().to(admin::update_user))
        .route("/admin/users/{id}", web::delete().to(admin::delete_user))
        .route("/.well-known/jwks.json", web::get().to(well_known::jwks))
        .route(
            "/.well-known/openid-configuration",
            web::get().to(well_known::openid_configuration),
        )
        .route("/healthz", web::get().to(health::liveness))
        .route("/readyz", web::get().to(health::readiness))
        .route("/metrics", web::get().to(health::metrics))
        .route("/openapi.json", web::get().to(crate::openapi::openapi_json));
}
