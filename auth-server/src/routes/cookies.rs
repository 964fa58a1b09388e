//! The refresh token cookie of browser clients.
//!
//! The cookie is HttpOnly (page scripts cannot read it), SameSite=Strict (no
//! cross-site request carries it), Secure unless the issuer is plain HTTP on
//! localhost, and sent only to the refresh and logout endpoints: the same
//! token is set twice, once per path, because a cookie has one path.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

use crate::config::Settings;
use crate::error::ApiError;

/// The name of the refresh token cookie.
pub const REFRESH_COOKIE: &str = "refresh_token";
/// The paths the cookie is sent to.
pub const COOKIE_PATHS: [&str; 2] = ["/auth/refresh", "/auth/logout"];

/// Builds the refresh cookie once for each path.
fn refresh_cookies(
    settings: &Settings,
    token: &str,
    max_age_secs: i64,
) -> impl Iterator<Item = Cookie<'static>> {
    let secure = !settings.is_local_http();
    let token = token.to_owned();
    COOKIE_PATHS.into_iter().map(move |path| {
        Cookie::build(REFRESH_COOKIE, token.clone())
            .path(path)
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Strict)
            .max_age(time::Duration::seconds(max_age_secs))
            .finish()
    })
}

/// Adds the refresh cookie, for each path, to a response.
pub fn set_refresh_cookie(
    response: &mut HttpResponseBuilder,
    settings: &Settings,
    token: &str,
    max_age_secs: i64,
) {
    for cookie in refresh_cookies(settings, token, max_age_secs) {
        response.cookie(cookie);
    }
}

/// Adds cookies that make the browser delete the refresh cookie.
pub fn clear_refresh_cookie(response: &mut HttpResponseBuilder, settings: &Settings) {
    set_refresh_cookie(response, settings, "", 0);
}

/// Adds cookies that delete the refresh cookie to a finished response, such
/// as an error response.
pub fn clear_refresh_cookie_on(response: &mut HttpResponse, settings: &Settings) {
    for cookie in refresh_cookies(settings, "", 0) {
        if let Err(error) = response.add_cookie(&cookie) {
            tracing::error!(error = %error, "adding the cookie that deletes the refresh cookie failed");
        }
    }
}

/// The refresh token from the cookie, if the request carries one.
pub fn refresh_cookie(request: &HttpRequest) -> Option<String> {
    request
        .cookie(REFRESH_COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| !value.is_empty())
}

/// Checks the Origin of a request authenticated by cookie.
///
/// Browsers send Origin with every POST, so a missing Origin means the request
/// did not come from a page; it is rejected like a foreign one. The issuer's
/// own origin is always allowed.
pub fn check_origin(request: &HttpRequest, settings: &Settings) -> Result<(), ApiError> {
    let origin = request
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .ok_or(ApiError::ForbiddenOrigin)?;

    let issuer_origin = url::Url::parse(&settings.issuer)
        .map(|url| url.origin().ascii_serialization())
        .ok();
    let allowed = settings
        .allowed_origins
        .iter()
        .any(|allowed| allowed == origin)
        || issuer_origin.as_deref() == Some(origin);

    if allowed {
        Ok(())
    } else {
        Err(ApiError::ForbiddenOrigin)
    }
}
