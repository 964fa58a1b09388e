//! Public metadata: the JWKS (RFC 7517) and the discovery document.

use actix_web::{HttpResponse, http::header, web};
use serde_json::json;

use crate::state::AppState;

/// How long clients may cache the JWKS and metadata, in seconds. A new key is
/// published at least this long before it signs, so caches pick it up first.
pub const METADATA_MAX_AGE_SECS: u64 = 300;

/// `GET /.well-known/jwks.json`: every published public key.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    responses(
        (status = 200, description = "Every published public key (RFC 7517)", body = auth_shared::jwk::JwkSet, headers(("Cache-Control" = String, description = "`public, max-age=300`"))),
    )
)]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.jwks_request();
    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={METADATA_MAX_AGE_SECS}"),
        ))
        .json(state.keys.jwks())
}

/// `GET /.well-known/openid-configuration`: where the keys and endpoints are.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "discovery",
    responses(
        (status = 200, description = "Server metadata: the issuer, endpoints and algorithms", body = crate::openapi::OpenIdConfiguration, headers(("Cache-Control" = String, description = "`public, max-age=300`"))),
    )
)]
pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    let issuer = &state.settings.issuer;
    let metadata = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "login_endpoint": format!("{issuer}/auth/login"),
        "refresh_endpoint": format!("{issuer}/auth/refresh"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "userinfo_endpoint": format!("{issuer}/auth/me"),
        "registration_endpoint": format!("{issuer}/auth/register"),
        "revocation_endpoint_auth_methods_supported": ["none"],
        "access_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "email", "sid"],
    });

    HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={METADATA_MAX_AGE_SECS}"),
        ))
        .json(metadata)
}
