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

/// The body of `POST /api/items`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    name: String,
}

/// `GET /api/items`: the caller's items, oldest first.
pub async fn list(user: AuthenticatedUser, items: web::Data<ItemStore>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "items": items.list(user.subject()) }))
}

/// `POST /api/items`: stores a new item for the caller and returns 201 with it.
pub async fn create(
    user: AuthenticatedUser,
    items: web::Data<ItemStore>,
    body: web::Json<NewItem>,
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
