//! The OpenAPI document of the auth server and the route that serves it.
//!
//! Operations come from the `#[utoipa::path]` attributes on the handlers in
//! `routes`. The structs below describe bodies that handlers build with
//! `json!` or parse by hand. They exist only for the document, so keep each
//! in step with the handler named in its doc comment.

use actix_web::HttpResponse;
use auth_shared::openapi::BearerSecurity;
use utoipa::{OpenApi, ToSchema};

use crate::routes;

/// The OpenAPI document: every route of [`routes::configure`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "auth-server",
        description = "Authorization server: users, passwords, RS256 access tokens, rotating refresh tokens and the JWKS."
    ),
    paths(
        routes::auth::register,
        routes::auth::login,
        routes::auth::refresh,
        routes::auth::logout,
        routes::auth::logout_all,
        routes::me::get_profile,
        routes::me::update_profile,
        routes::me::change_password,
        routes::sessions::list,
        routes::sessions::revoke,
        routes::oauth::revoke,
        routes::admin::list_users,
        routes::admin::update_user,
        routes::admin::delete_user,
        routes::well_known::jwks,
        routes::well_known::openid_configuration,
        routes::health::liveness,
        routes::health::readiness,
        routes::health::metrics,
        openapi_json,
    ),
    modifiers(&BEARER_SECURITY),
    tags(
        (name = "auth", description = "Registration, login, refresh and logout"),
        (name = "profile", description = "The caller's own profile and password"),
        (name = "sessions", description = "The caller's sessions, one per login"),
        (name = "oauth", description = "OAuth 2.0 token revocation (RFC 7009)"),
        (name = "admin", description = "User administration; needs the `admin` scope"),
        (name = "discovery", description = "Public keys and server metadata"),
        (name = "operations", description = "Probes, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme that protected operations name.
const BEARER_SECURITY: BearerSecurity = BearerSecurity {
    description: "An RS256 access token from `POST /auth/login` or `POST /auth/refresh`",
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

/// Form body of `POST /oauth/revoke` (RFC 7009, section 2.1). Unknown
/// parameters are ignored and a repeated one is rejected.
#[derive(ToSchema)]
pub struct RevocationForm {
    /// The refresh token to revoke. An access token is accepted without effect.
    pub token: String,
    /// `refresh_token` or `access_token`. Optional, because every token is
    /// looked up as a refresh token.
    pub token_type_hint: Option<String>,
}

/// Body of `GET /healthz`.
#[derive(ToSchema)]
pub struct HealthStatus {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
}

/// Body of `GET /readyz` when the database is reachable.
#[derive(ToSchema)]
pub struct ReadyStatus {
    /// Always `ready`.
    #[schema(example = "ready")]
    pub status: String,
    /// Always `ok`.
    #[schema(example = "ok")]
    pub database: String,
}

/// Body of `GET /readyz` when the database is unreachable: the readiness
/// fields and the fields of an error body together.
#[derive(ToSchema)]
pub struct NotReadyStatus {
    /// Always `not_ready`.
    #[schema(example = "not_ready")]
    pub status: String,
    /// Always `unreachable`.
    #[schema(example = "unreachable")]
    pub database: String,
    /// Always `temporarily_unavailable`.
    #[schema(example = "temporarily_unavailable")]
    pub error: String,
    /// A short explanation for the developer of the client.
    pub error_description: String,
}

/// Body of `GET /.well-known/openid-configuration`. Every endpoint is an
/// absolute URL under the issuer. Login and refresh take JSON bodies, not
/// OAuth form requests, so they are published under names of their own
/// rather than as a `token_endpoint`.
#[derive(ToSchema)]
pub struct OpenIdConfiguration {
    /// The `iss` of every access token.
    pub issuer: String,
    /// `{issuer}/.well-known/jwks.json`.
    pub jwks_uri: String,
    /// `{issuer}/auth/login`.
    pub login_endpoint: String,
    /// `{issuer}/auth/refresh`.
    pub refresh_endpoint: String,
    /// `{issuer}/oauth/revoke`.
    pub revocation_endpoint: String,
    /// `{issuer}/auth/me`.
    pub userinfo_endpoint: String,
    /// `{issuer}/auth/register`.
    pub registration_endpoint: String,
    /// `none`: clients do not authenticate.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// `RS256`.
    pub access_token_signing_alg_values_supported: Vec<String>,
    /// The claims of an access token.
    pub claims_supported: Vec<String>,
}
