//! `/api/items`: each user's own items, kept in memory. Another user's item
//! returns 404, exactly like one that does not exist.

use std::time::SystemTime;

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use auth_shared::AuthenticatedUser;
use auth_shared::clock::unix_seconds;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::items::{ItemStore, validate_name};
use crate::json::JsonObject;

/// The body of `POST /api/items`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    /// Display name: 1 to 200 characters after trimming, no control characters.
    name: String,
}

/// `GET /api/items`: the caller's items, oldest first.
#[utoipa::path(
    get,
    path = "/api/items",
    operation_id = "list_items",
    tag = "items",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's items, oldest first", body = crate::openapi::ItemList),
        (status = 401, description = "The bearer token is missing, invalid or expired", body = crate::error::ErrorBody),
    )
)]
pub async fn list(user: AuthenticatedUser, items: web::Data<ItemStore>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "items": items.list(user.subject()) }))
}

/// `POST /api/items`: stores a new item for the caller and returns 201 with it.
#[utoipa::path(
    post,
    path = "/api/items",
    operation_id = "create_item",
    tag = "items",
    security(("bearer" = [])),
    request_body = NewItem,
    responses(
        (status = 201, description = "The item is stored", body = crate::items::Item,
            headers(("Location" = String, description = "Path of the new item, `/api/items/{id}`"))),
        (status = 400, description = "The body is not valid JSON or the name is invalid", body = crate::error::ErrorBody),
        (status = 401, description = "The bearer token is missing, invalid or expired", body = crate::error::ErrorBody),
        (status = 409, description = "The caller or the whole store has reached its item limit", body = crate::error::ErrorBody),
        (status = 408, description = "The body did not arrive within 10 seconds", body = crate::error::ErrorBody),
        (status = 413, description = "The body is too large", body = crate::error::ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = crate::error::ErrorBody),
    )
)]
pub async fn create(
    user: AuthenticatedUser,
    items: web::Data<ItemStore>,
    JsonObject(body): JsonObject<NewItem>,
) -> Result<HttpResponse, ApiError> {
    let name = validate_name(&body.name).map_err(|message| ApiError::Validation {
        field: "name",
        message,
    })?;

    let item = items.create(user.subject(), name, unix_seconds(SystemTime::now()))?;
    tracing::info!(item_id = item.id, sub = user.subject(), "item created");

    Ok(HttpResponse::Created()
        .insert_header((LOCATION, format!("/api/items/{}", item.id)))
        .json(item))
}

/// `GET /api/items/{id}`: one of the caller's items.
#[utoipa::path(
    get,
    path = "/api/items/{id}",
    operation_id = "get_item",
    tag = "items",
    security(("bearer" = [])),
    params(("id" = u64, Path, description = "Item id")),
    responses(
        (status = 200, description = "The item", body = crate::items::Item),
        (status = 401, description = "The bearer token is missing, invalid or expired", body = crate::error::ErrorBody),
        (status = 404, description = "No such item among the caller's", body = crate::error::ErrorBody),
    )
)]
pub async fn get(
    user: AuthenticatedUser,
    items: web::Data<ItemStore>,
    id: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let item = items
        .get(user.subject(), id.into_inner())
        .ok_or(ApiError::NotFound("item"))?;

    Ok(HttpResponse::Ok().json(item))
}

/// `DELETE /api/items/{id}`: deletes one of the caller's items and returns 204.
#[utoipa::path(
    delete,
    path = "/api/items/{id}",
    operation_id = "delete_item",
    tag = "items",
    security(("bearer" = [])),
    params(("id" = u64, Path, description = "Item id")),
    responses(
        (status = 204, description = "The item is deleted"),
        (status = 401, description = "The bearer token is missing, invalid or expired", body = crate::error::ErrorBody),
        (status = 404, description = "No such item among the caller's", body = crate::error::ErrorBody),
    )
)]
pub async fn delete(
    user: AuthenticatedUser,
    items: web::Data<ItemStore>,
    id: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !items.delete(user.subject(), id) {
        return Err(ApiError::NotFound("item"));
    }
    tracing::info!(item_id = id, sub = user.subject(), "item deleted");

    Ok(HttpResponse::NoContent().finish())
}
