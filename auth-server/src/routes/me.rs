//! The caller's own profile and password.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;

use super::auth::parse_date_of_birth;
use super::views::{UserView, no_store_json};
use crate::bearer::Bearer;
use crate::db::users::{self, ProfileChanges, User};
use crate::db::{sessions as session_queries, write_transaction};
use crate::error::ApiError;
use crate::json::{JsonBody, double_option};
use crate::password;
use crate::service::accounts;
use crate::state::AppState;
use crate::validation;

/// Body of `PATCH /auth/me`: absent fields stay as they are; `null` clears
/// the date of birth or phone.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfileRequest {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(format = Date, example = "1990-12-31")]
    date_of_birth: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    phone: Option<Option<String>>,
    /// Required when `email` changes, because the email is the login name.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    current_password: Option<SecretString>,
}

/// Body of `POST /auth/me/password`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
}

/// `GET /auth/me`: the caller's profile.
#[utoipa::path(
    get,
    path = "/auth/me",
    security(("bearer" = [])),
    tag = "profile",
    responses(
        (status = 200, description = "The caller's profile", body = super::views::UserView),
        (status = 401, description = "The bearer token is missing, invalid or expired, or its user is inactive", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn get_profile(
    state: web::Data<AppState>,
    bearer: Bearer,
) -> Result<HttpResponse, ApiError> {
    let user_id = bearer.user_id;
    let (user, permissions) = state
        .db
        .run(move |conn| accounts::active_user(conn, user_id))
        .await?;
    Ok(no_store_json(UserView::new(user, permissions)))
}

fn validate_changes(
    request: UpdateProfileRequest,
    today: chrono::NaiveDate,
) -> Result<ProfileChanges, ApiError> {
    let mut errors = BTreeMap::new();
    let mut changes = ProfileChanges::default();

    let mut check = |field: &str, result: Result<(), String>| {
        if let Err(message) = result {
            errors.insert(field.to_owned(), message);
        }
    };

    if let Some(email) = request.email {
        check(
            "email",
            validation::normalize_email(&email).map(|email| changes.email = Some(email)),
        );
    }
    if let Some(name) = request.first_name {
        check(
            "first_name",
            validation::normalize_name(&name).map(|name| changes.first_name = Some(name)),
        );
    }
    if let Some(name) = request.last_name {
        check(
            "last_name",
            validation::normalize_name(&name).map(|name| changes.last_name = Some(name)),
        );
    }
    match request.date_of_birth {
        None => {}
        Some(None) => changes.date_of_birth = Some(None),
        Some(Some(text)) => check(
            "date_of_birth",
            parse_date_of_birth(&text, today).map(|date| changes.date_of_birth = Some(Some(date))),
        ),
    }
    match request.phone {
        None => {}
        Some(None) => changes.phone = Some(None),
        Some(Some(text)) => check(
            "phone",
            validation::normalize_phone(&text).map(|phone| changes.phone = Some(Some(phone))),
        ),
    }

    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Fails with a field error unless `password` is present and matches the
/// user's hash, and with 429 when the user has made too many attempts.
async fn check_current_password(
    state: &AppState,
    user: &User,
    password: Option<&SecretString>,
) -> Result<(), ApiError> {
    let Some(password) = password else {
        return Err(ApiError::field(
            "current_password",
            "is required to change the email",
        ));
    };
    if let Err(error) = state.rate_limits.check_password_attempt(user.id) {
        tracing::warn!(
            event = "password_check_rate_limited",
            user_id = user.id,
            "current password checks over the rate limit"
        );
        return Err(error);
    }

    if !state
        .hasher
        .verify(password, Some(&user.password_hash))
        .await?
    {
        tracing::warn!(
            event = "password_check_failed",
            user_id = user.id,
            "current password did not match"
        );
        return Err(ApiError::field("current_password", "is incorrect"));
    }
    Ok(())
}

/// `PATCH /auth/me`: changes names, email, date of birth or phone. The user
/// id, the `sub` of new tokens and every session stay the same.
#[utoipa::path(
    patch,
    path = "/auth/me",
    request_body = UpdateProfileRequest,
    security(("bearer" = [])),
    tag = "profile",
    responses(
        (status = 200, description = "The updated profile", body = super::views::UserView),
        (status = 400, description = "The body is not valid JSON or has invalid fields, each named in `fields`", body = crate::error::ErrorBody),
        (status = 401, description = "The bearer token is missing, invalid or expired, or its user is inactive", body = crate::error::ErrorBody),
        (status = 409, description = "Another user has this email", body = crate::error::ErrorBody),
        (status = 413, description = "The body is larger than 16 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn update_profile(
    state: web::Data<AppState>,
    bearer: Bearer,
    JsonBody(request): JsonBody<UpdateProfileRequest>,
) -> Result<HttpResponse, ApiError> {
    let current_password = request.current_password.clone();
    let changes = validate_changes(request, state.clock.now_naive().date())?;
    let user_id = bearer.user_id;

    let (current, _) = state
        .db
        .run(move |conn| accounts::active_user(conn, user_id))
        .await?;
    let email_changes = changes
        .email
        .as_ref()
        .is_some_and(|email| *email != current.email);
    if email_changes {
        check_current_password(&state, &current, current_password.as_ref()).await?;
    }

    // Sessions stay live: the user id, and so the `sub` of every token, does
    // not change with the email.
    let (user, permissions) = state
        .db
        .run(move |conn| {
            let user = accounts::update_profile(conn, user_id, &changes)?;
            let permissions = users::permissions_of(conn, user_id)?;
            Ok::<_, ApiError>((user, permissions))
        })
        .await?;
    tracing::info!(user_id, email_changed = email_changes, "profile updated");

    Ok(no_store_json(UserView::new(user, permissions)))
}

/// `POST /auth/me/password`: replaces the password after checking the
/// current one, and revokes every session but the caller's.
#[utoipa::path(
    post,
    path = "/auth/me/password",
    request_body = ChangePasswordRequest,
    security(("bearer" = [])),
    tag = "profile",
    responses(
        (status = 204, description = "The password is replaced and every other session of the caller revoked"),
        (status = 400, description = "The body is invalid, the new password fails the policy or the current one is incorrect", body = crate::error::ErrorBody),
        (status = 401, description = "The bearer token is missing, invalid or expired, or its user is inactive", body = crate::error::ErrorBody),
        (status = 413, description = "The body is larger than 16 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn change_password(
    state: web::Data<AppState>,
    bearer: Bearer,
    JsonBody(request): JsonBody<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    password::check_policy(&request.new_password)
        .map_err(|error| ApiError::field("new_password", error.to_string()))?;

    let user_id = bearer.user_id;
    let (user, _) = state
        .db
        .run(move |conn| accounts::active_user(conn, user_id))
        .await?;
    check_current_password(&state, &user, Some(&request.current_password)).await?;

    let new_hash = state.hasher.hash(&request.new_password).await?;
    let keep_session = bearer.claims.sid.clone();
    let now = state.clock.now_naive();
    let revoked = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                users::set_password_hash(conn, user_id, &new_hash)?;
                session_queries::revoke_user_sessions(
                    conn,
                    user_id,
                    keep_session.as_deref(),
                    now,
                    "password changed",
                )
            })
            .map_err(ApiError::from)
        })
        .await?;
    tracing::info!(
        event = "password_changed",
        user_id,
        sessions_revoked = revoked,
        "password changed"
    );

    Ok(HttpResponse::NoContent().finish())
}
