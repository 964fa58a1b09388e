//! Registration, login, refresh and logout.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use chrono::NaiveDate;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::cookies;
use super::views::UserView;
use crate::bearer::Bearer;
use crate::config::Settings;
use crate::db::{sessions as session_queries, users};
use crate::error::ApiError;
use crate::json::{self, JsonBody};
use crate::password;
use crate::rate_limit;
use crate::service::accounts::{self, Registration};
use crate::service::sessions::{self, ClientInfo, IssuedRefresh, RotateOutcome};
use crate::state::AppState;
use crate::tokens::access;
use crate::tokens::refresh::RefreshToken;
use crate::validation;

/// Body of `POST /auth/register`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    #[schema(format = Date, example = "1990-12-31")]
    date_of_birth: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// Destination of the refresh token in a token response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenDelivery {
    /// In the JSON body, for non-browser clients.
    #[default]
    Body,
    /// In an HttpOnly cookie, for browser clients.
    Cookie,
}

/// Body of `POST /auth/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
    #[serde(default)]
    token_delivery: TokenDelivery,
}

/// Body of `POST /auth/refresh` and `POST /auth/logout`. Without
/// `refresh_token` (or with no body at all) the token comes from the cookie.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    refresh_token: Option<SecretString>,
}

/// The token response of login and refresh.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    refresh_expires_in: i64,
    scope: &'a str,
}

/// Parses a `YYYY-MM-DD` date of birth and checks its range.
pub fn parse_date_of_birth(text: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| "must be a date in the form YYYY-MM-DD".to_owned())?;
    validation::check_date_of_birth(date, today)
}

/// The normalized email, first name, last name, date of birth and phone of a
/// valid registration.
type RegistrationFields = (String, String, String, Option<NaiveDate>, Option<String>);

fn validate_registration(
    request: &RegisterRequest,
    today: NaiveDate,
) -> Result<RegistrationFields, ApiError> {
    let mut errors = BTreeMap::new();
    let mut note = |field: &str, result: Result<(), String>| {
        if let Err(message) = result {
            errors.insert(field.to_owned(), message);
        }
    };

    let email = validation::normalize_email(&request.email);
    note("email", email.as_ref().map(|_| ()).map_err(Clone::clone));
    note(
        "password",
        password::check_policy(&request.password).map_err(|error| error.to_string()),
    );
    let first_name = validation::normalize_name(&request.first_name);
    note(
        "first_name",
        first_name.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    let last_name = validation::normalize_name(&request.last_name);
    note(
        "last_name",
        last_name.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    let date_of_birth = request
        .date_of_birth
        .as_deref()
        .map(|text| parse_date_of_birth(text, today))
        .transpose();
    note(
        "date_of_birth",
        date_of_birth.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    let phone = request
        .phone
        .as_deref()
        .map(validation::normalize_phone)
        .transpose();
    note("phone", phone.as_ref().map(|_| ()).map_err(Clone::clone));

    match (email, first_name, last_name, date_of_birth, phone) {
        (Ok(email), Ok(first), Ok(last), Ok(date_of_birth), Ok(phone)) if errors.is_empty() => {
            Ok((email, first, last, date_of_birth, phone))
        }
        _ => Err(ApiError::Validation(errors)),
    }
}

/// `POST /auth/register`: creates a user and returns it with 201.
#[utoipa::path(
    post,
    path = "/auth/register",
    request_body = RegisterRequest,
    tag = "auth",
    responses(
        (status = 201, description = "The user is created", body = super::views::UserView),
        (status = 400, description = "The body is not valid JSON or has invalid fields, each named in `fields`", body = crate::error::ErrorBody),
        (status = 409, description = "A user with this email already exists", body = crate::error::ErrorBody),
        (status = 429, description = "Too many registrations from this client IP; `Retry-After` gives the seconds to wait", body = crate::error::ErrorBody),
        (status = 413, description = "The body is larger than 16 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn register(
    state: web::Data<AppState>,
    http_request: HttpRequest,
    JsonBody(request): JsonBody<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let ip = rate_limit::client_ip(&http_request, &state.settings);
    state
        .rate_limits
        .check_register(ip)
        .inspect_err(|_| state.metrics.registration("rate_limited"))?;

    let now = state.clock.now_naive();
    let (email, first_name, last_name, date_of_birth, phone) =
        validate_registration(&request, now.date())
            .inspect_err(|_| state.metrics.registration("invalid"))?;

    let password_hash = state.hasher.hash(&request.password).await?;
    let registration = Registration {
        email,
        password_hash,
        first_name,
        last_name,
        date_of_birth,
        phone,
        is_staff: false,
        is_superuser: false,
    };

    let user = state
        .db
        .run(move |conn| accounts::register(conn, &registration, now))
        .await
        .inspect_err(|error| {
            let outcome = match error {
                ApiError::EmailTaken => "email_taken",
                _ => "error",
            };
            state.metrics.registration(outcome);
        })?;
    state.metrics.registration("created");
    tracing::info!(user_id = user.id, "user registered");

    Ok(HttpResponse::Created().json(UserView::new(user, Vec::new())))
}

fn client_info(request: &HttpRequest, settings: &Settings) -> ClientInfo {
    let user_agent = request
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(|text| text.chars().take(256).collect());
    let ip_address = Some(rate_limit::client_ip(request, settings).to_string());
    ClientInfo {
        user_agent,
        ip_address,
    }
}

fn token_response(
    state: &AppState,
    issued: &IssuedRefresh,
    delivery: TokenDelivery,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let access_token = access::issue(
        &*state.keys.signing_key()?,
        &state.settings,
        &issued.user,
        &issued.permissions,
        &issued.session_id,
        now,
    )?;
    let refresh_expires_in = (issued.expires_at - issued.issued_at).num_seconds().max(0);

    let body = TokenResponse {
        access_token: &access_token.token,
        token_type: "Bearer",
        expires_in: access_token.expires_in,
        refresh_token: (delivery == TokenDelivery::Body).then(|| issued.refresh_token.expose()),
        refresh_expires_in,
        scope: &access_token.scope,
    };

    let mut response = HttpResponse::build(StatusCode::OK);
    response
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::PRAGMA, "no-cache"));
    if delivery == TokenDelivery::Cookie {
        cookies::set_refresh_cookie(
            &mut response,
            &state.settings,
            issued.refresh_token.expose(),
            refresh_expires_in,
        );
    }
    Ok(response.json(body))
}

/// `POST /auth/login`: checks the password and starts a session.
///
/// An unknown email, a wrong password and an inactive user all get the same
/// 401 after the same bcrypt work.
#[utoipa::path(
    post,
    path = "/auth/login",
    request_body = LoginRequest,
    tag = "auth",
    responses(
        (status = 200, description = "The password matches and a session starts", body = TokenResponse, headers(("Cache-Control" = String, description = "`no-store`"), ("Set-Cookie" = String, description = "In cookie mode, the HttpOnly `refresh_token` cookie"))),
        (status = 400, description = "The body is not valid JSON or the email is invalid", body = crate::error::ErrorBody),
        (status = 401, description = "Unknown email, wrong password or inactive user (`invalid_grant`)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many login attempts from this client IP, or for this account from this IP; `Retry-After` gives the seconds to wait", body = crate::error::ErrorBody),
        (status = 413, description = "The body is larger than 16 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    http_request: HttpRequest,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = validation::normalize_email(&request.email)
        .map_err(|message| ApiError::field("email", message))?;
    let ip = rate_limit::client_ip(&http_request, &state.settings);
    if let Err(error) = state.rate_limits.check_login(ip, &email) {
        state.metrics.login("rate_limited");
        tracing::warn!(event = "login_rate_limited", %ip, "login attempts over the rate limit");
        return Err(error);
    }

    let lookup_email = email.clone();
    let user = state
        .db
        .run(move |conn| Ok::<_, ApiError>(users::find_by_email(conn, &lookup_email)?))
        .await?;

    let hash = user.as_ref().map(|user| user.password_hash.as_str());
    let password_matches = state.hasher.verify(&request.password, hash).await?;
    let user = match user {
        Some(user) if password_matches && user.is_active => user,
        _ => {
            state.metrics.login("invalid_credentials");
            tracing::warn!(event = "login_failed", %ip, "login failed");
            return Err(ApiError::InvalidCredentials);
        }
    };

    let policy = state.refresh_policy();
    let client = client_info(&http_request, &state.settings);
    let now = state.clock.now_naive();
    let issued = state
        .db
        .run(move |conn| Ok::<_, ApiError>(sessions::start(conn, user, &policy, &client, now)?))
        .await?;
    state.metrics.login("success");
    tracing::info!(user_id = issued.user.id, session_id = %issued.session_id, "login succeeded");

    token_response(&state, &issued, request.token_delivery)
}

/// A refresh token found in the body or the cookie, and which one it was.
struct PresentedToken {
    token: RefreshToken,
    delivery: TokenDelivery,
}

/// Takes the refresh token from the JSON body when it has one, else from the
/// cookie; a cookie request must come from an allowed Origin.
fn presented_token(
    state: &AppState,
    request: &HttpRequest,
    body: &[u8],
) -> Result<PresentedToken, ApiError> {
    if !body.iter().all(u8::is_ascii_whitespace) {
        json::require_json_content_type(request)?;
        let parsed: RefreshRequest = json::parse(body)?;
        if let Some(text) = parsed.refresh_token {
            return Ok(PresentedToken {
                token: RefreshToken::presented(secrecy::ExposeSecret::expose_secret(&text)),
                delivery: TokenDelivery::Body,
            });
        }
    }

    let Some(cookie) = cookies::refresh_cookie(request) else {
        return Err(ApiError::field(
            "refresh_token",
            "missing: send it in a JSON body or in the refresh_token cookie",
        ));
    };
    cookies::check_origin(request, &state.settings)?;
    Ok(PresentedToken {
        token: RefreshToken::presented(&cookie),
        delivery: TokenDelivery::Cookie,
    })
}

/// `POST /auth/refresh`: rotates a refresh token and issues a new access token.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    request_body(content = Option<RefreshRequest>, description = "Optional: without `refresh_token` (or with no body) the token comes from the cookie"),
    params(("refresh_token" = Option<String>, Cookie, description = "The refresh token in cookie mode, used when the body has no `refresh_token`")),
    tag = "auth",
    responses(
        (status = 200, description = "The refresh token is rotated and a new access token issued", body = TokenResponse, headers(("Cache-Control" = String, description = "`no-store`"), ("Set-Cookie" = String, description = "In cookie mode, the HttpOnly `refresh_token` cookie"))),
        (status = 400, description = "The body is invalid or no refresh token was sent", body = crate::error::ErrorBody),
        (status = 401, description = "The refresh token is unknown, expired, revoked or already used (`invalid_grant`)", body = crate::error::ErrorBody),
        (status = 429, description = "Too many refreshes from this client IP; `Retry-After` gives the seconds to wait", body = crate::error::ErrorBody),
        (status = 403, description = "Cookie mode from an Origin outside the allowlist", body = crate::error::ErrorBody),
        (status = 413, description = "The body is larger than 16 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn refresh(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let ip = rate_limit::client_ip(&request, &state.settings);
    state
        .rate_limits
        .check_refresh(ip)
        .inspect_err(|_| state.metrics.refresh("rate_limited"))?;
    let body = json::read_body(&request, &mut payload.into_inner()).await?;
    let presented = presented_token(&state, &request, &body)?;

    let policy = state.refresh_policy();
    let now = state.clock.now_naive();
    let token = presented.token.clone();
    let outcome = state
        .db
        .run(move |conn| Ok::<_, ApiError>(sessions::rotate(conn, &token, &policy, now)?))
        .await?;

    let error = match outcome {
        RotateOutcome::Rotated(issued) => {
            state.metrics.refresh("rotated");
            return token_response(&state, &issued, presented.delivery);
        }
        RotateOutcome::Rejected(reason) => {
            state.metrics.refresh("rejected");
            tracing::info!(event = "refresh_rejected", reason, "refresh token rejected");
            ApiError::InvalidGrant(reason)
        }
        RotateOutcome::ReuseDetected {
            session_id,
            user_id,
        } => {
            state.metrics.refresh("reuse_detected");
            tracing::warn!(
                event = "refresh_token_reuse",
                user_id,
                session_id = %session_id,
                "a rotated refresh token was presented again; its session is revoked"
            );
            ApiError::InvalidGrant("the refresh token was already used; the session is revoked")
        }
    };

    // The cookie contains a token that can never work again, so the
    // response deletes it.
    if presented.delivery == TokenDelivery::Cookie {
        let mut response = actix_web::ResponseError::error_response(&error);
        cookies::clear_refresh_cookie_on(&mut response, &state.settings);
        return Ok(response);
    }
    Err(error)
}

/// `POST /auth/logout`: revokes the session of the presented refresh token.
/// Returns 204 whether or not the token was known, so the endpoint reveals
/// nothing about tokens.
#[utoipa::path(
    post,
    path = "/auth/logout",
    request_body(content = Option<RefreshRequest>, description = "Optional: without `refresh_token` (or with no body) the token comes from the cookie"),
    params(("refresh_token" = Option<String>, Cookie, description = "The refresh token in cookie mode, used when the body has no `refresh_token`")),
    tag = "auth",
    responses(
        (status = 204, description = "The session of the token is revoked, if the token was known, and the refresh cookie cleared"),
        (status = 400, description = "The body is invalid or no refresh token was sent", body = crate::error::ErrorBody),
        (status = 403, description = "Cookie mode from an Origin outside the allowlist", body = crate::error::ErrorBody),
        (status = 413, description = "The body is larger than 16 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn logout(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json::read_body(&request, &mut payload.into_inner()).await?;
    let presented = presented_token(&state, &request, &body)?;

    let now = state.clock.now_naive();
    let revoked = state
        .db
        .run(move |conn| {
            Ok::<_, ApiError>(sessions::revoke_by_token(
                conn,
                &presented.token,
                "logout",
                now,
            )?)
        })
        .await?;
    if let Some((session_id, user_id)) = revoked {
        tracing::info!(event = "session_revoked", user_id, session_id = %session_id, reason = "logout", "session revoked");
    }

    let mut response = HttpResponse::NoContent();
    cookies::clear_refresh_cookie(&mut response, &state.settings);
    Ok(response.finish())
}

/// `POST /auth/logout-all`: revokes every session of the caller.
#[utoipa::path(
    post,
    path = "/auth/logout-all",
    security(("bearer" = [])),
    tag = "auth",
    responses(
        (status = 204, description = "Every session of the caller is revoked and the refresh cookie cleared"),
        (status = 401, description = "The bearer token is missing, invalid or expired, or its user is inactive", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn logout_all(
    state: web::Data<AppState>,
    bearer: Bearer,
) -> Result<HttpResponse, ApiError> {
    let user_id = bearer.user_id;
    let now = state.clock.now_naive();
    let revoked = state
        .db
        .run(move |conn| {
            Ok::<_, ApiError>(session_queries::revoke_user_sessions(
                conn,
                user_id,
                None,
                now,
                "logout-all",
            )?)
        })
        .await?;
    tracing::info!(
        event = "sessions_revoked",
        user_id,
        revoked,
        reason = "logout-all",
        "sessions revoked"
    );

    let mut response = HttpResponse::NoContent();
    cookies::clear_refresh_cookie(&mut response, &state.settings);
    Ok(response.finish())
}
