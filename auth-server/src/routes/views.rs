//! JSON shapes of responses shared by several handlers.

use actix_web::HttpResponse;
use actix_web::http::header;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::db::users::User;

/// A user as clients see it; the password hash is never included.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub phone: Option<String>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    pub permissions: Vec<String>,
}

impl UserView {
    pub fn new(user: User, permissions: Vec<String>) -> UserView {
        UserView {
            id: user.id,
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            date_of_birth: user.date_of_birth,
            phone: user.phone,
            is_active: user.is_active,
            is_staff: user.is_staff,
            is_superuser: user.is_superuser,
            date_joined: user.date_joined.and_utc(),
            last_login: user.last_login.map(|at| at.and_utc()),
            permissions,
        }
    }
}

/// A 200 JSON response that caches must not store, as RFC 6749 requires for
/// token responses and as suits any personal data.
pub fn no_store_json(body: impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}
