//! User administration for holders of the `admin` scope.
//!
//! Each action is logged as a security event with the acting user's id.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use auth_shared::claims::ADMIN_SCOPE;
use serde::{Deserialize, Serialize};

use super::views::{UserView, no_store_json};
use crate::bearer::Bearer;
use crate::db::users::{self, FlagChanges};
use crate::error::ApiError;
use crate::json::JsonBody;
use crate::service::admin;
use crate::state::AppState;
use crate::validation;

/// The largest page size of `GET /admin/users`.
const MAX_PER_PAGE: i64 = 200;

/// Query of `GET /admin/users`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page number, from 1.
    #[serde(default = "first_page")]
    #[param(default = 1, minimum = 1)]
    page: i64,
    /// Users per page.
    #[serde(default = "default_per_page")]
    #[param(default = 50, minimum = 1, maximum = 200)]
    per_page: i64,
    /// Only users whose email contains this text, case-insensitively.
    email: Option<String>,
}

fn first_page() -> i64 {
    1
}

fn default_per_page() -> i64 {
    50
}

/// Body of `PATCH /admin/users/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    is_active: Option<bool>,
    is_staff: Option<bool>,
    is_superuser: Option<bool>,
    /// Replaces every permission of the user.
    permissions: Option<Vec<String>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct UserPage {
    users: Vec<UserView>,
    page: i64,
    per_page: i64,
    total: i64,
}

async fn authorize(state: &AppState, bearer: &Bearer) -> Result<i64, ApiError> {
    bearer.require_scope(ADMIN_SCOPE)?;
    let actor_id = bearer.user_id;
    state
        .db
        .run(move |conn| admin::require_admin(conn, actor_id))
        .await?;
    Ok(actor_id)
}

/// `GET /admin/users`: users by id, paged, optionally filtered by email.
#[utoipa::path(
    get,
    path = "/admin/users",
    params(ListQuery),
    security(("bearer" = ["admin"])),
    tag = "admin",
    responses(
        (status = 200, description = "One page of users, by id", body = UserPage),
        (status = 400, description = "`page` or `per_page` is out of range, or the query string is invalid", body = crate::error::ErrorBody),
        (status = 401, description = "The bearer token is missing, invalid or expired, or its user is inactive", body = crate::error::ErrorBody),
        (status = 403, description = "The token lacks the `admin` scope, or its user is no longer staff", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn list_users(
    state: web::Data<AppState>,
    bearer: Bearer,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    authorize(&state, &bearer).await?;
    let query = query.into_inner();
    if query.page < 1 {
        return Err(ApiError::field("page", "must be 1 or more"));
    }
    if !(1..=MAX_PER_PAGE).contains(&query.per_page) {
        return Err(ApiError::field(
            "per_page",
            format!("must be between 1 and {MAX_PER_PAGE}"),
        ));
    }

    let filter = query
        .email
        .map(|email| email.trim().to_lowercase())
        .filter(|email| !email.is_empty());
    let (offset, limit) = (
        (query.page - 1).saturating_mul(query.per_page),
        query.per_page,
    );
    let (page, total) = state
        .db
        .run(move |conn| {
            let (page, total) = users::list(conn, filter.as_deref(), offset, limit)?;
            let mut views = Vec::with_capacity(page.len());
            for user in page {
                let permissions = users::permissions_of(conn, user.id)?;
                views.push(UserView::new(user, permissions));
            }
            Ok::<_, ApiError>((views, total))
        })
        .await?;

    Ok(no_store_json(UserPage {
        users: page,
        page: query.page,
        per_page: query.per_page,
        total,
    }))
}

fn validate_update(
    actor_id: i64,
    target_id: i64,
    request: &UpdateUserRequest,
) -> Result<(), ApiError> {
    let mut errors = BTreeMap::new();
    if actor_id == target_id
        && (request.is_active == Some(false) || request.is_staff == Some(false))
    {
        errors.insert(
            "user".to_owned(),
            "administrators cannot deactivate or demote themselves".to_owned(),
        );
    }
    for permission in request.permissions.iter().flatten() {
        if let Err(message) = validation::check_permission_name(permission) {
            errors.insert("permissions".to_owned(), message);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// `PATCH /admin/users/{id}`: sets is_active, is_staff, is_superuser or the
/// permissions. Deactivation ends every session of the user at once.
#[utoipa::path(
    patch,
    path = "/admin/users/{id}",
    params(("id" = i64, Path, description = "User id")),
    request_body = UpdateUserRequest,
    security(("bearer" = ["admin"])),
    tag = "admin",
    responses(
        (status = 200, description = "The updated user", body = super::views::UserView),
        (status = 400, description = "Invalid fields, such as an administrator deactivating or demoting themselves", body = crate::error::ErrorBody),
        (status = 401, description = "The bearer token is missing, invalid or expired, or its user is inactive", body = crate::error::ErrorBody),
        (status = 403, description = "The token lacks the `admin` scope, or its user is no longer staff", body = crate::error::ErrorBody),
        (status = 404, description = "No such user", body = crate::error::ErrorBody),
        (status = 413, description = "The body is larger than 16 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn update_user(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<i64>,
    JsonBody(request): JsonBody<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor_id = authorize(&state, &bearer).await?;
    let target_id = path.into_inner();
    validate_update(actor_id, target_id, &request)?;

    let flags = FlagChanges {
        is_active: request.is_active,
        is_staff: request.is_staff,
        is_superuser: request.is_superuser,
    };
    let mut permissions = request.permissions;
    if let Some(permissions) = permissions.as_mut() {
        permissions.sort();
        permissions.dedup();
    }
    let now = state.clock.now_naive();
    let (user, granted) = state
        .db
        .run(move |conn| admin::update_user(conn, target_id, &flags, permissions.as_deref(), now))
        .await?;

    tracing::info!(
        event = "admin_user_updated",
        actor_id,
        user_id = target_id,
        is_active = user.is_active,
        is_staff = user.is_staff,
        is_superuser = user.is_superuser,
        permissions = %granted.join(" "),
        "user updated by an administrator"
    );
    Ok(no_store_json(UserView::new(user, granted)))
}

/// `DELETE /admin/users/{id}`: deletes a user; their sessions end at once.
#[utoipa::path(
    delete,
    path = "/admin/users/{id}",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = ["admin"])),
    tag = "admin",
    responses(
        (status = 204, description = "The user and every session of theirs are deleted"),
        (status = 400, description = "An administrator tried to delete themselves", body = crate::error::ErrorBody),
        (status = 401, description = "The bearer token is missing, invalid or expired, or its user is inactive", body = crate::error::ErrorBody),
        (status = 403, description = "The token lacks the `admin` scope, or its user is no longer staff", body = crate::error::ErrorBody),
        (status = 404, description = "No such user", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn delete_user(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let actor_id = authorize(&state, &bearer).await?;
    let target_id = path.into_inner();
    if actor_id == target_id {
        return Err(ApiError::field(
            "user",
            "administrators cannot delete themselves",
        ));
    }

    state
        .db
        .run(move |conn| admin::delete_user(conn, target_id))
        .await?;
    tracing::info!(
        event = "admin_user_deleted",
        actor_id,
        user_id = target_id,
        "user deleted by an administrator"
    );
    Ok(HttpResponse::NoContent().finish())
}
