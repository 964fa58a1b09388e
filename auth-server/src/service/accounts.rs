//! Creating users and changing their profiles.

use chrono::NaiveDateTime;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::users::{self, NewUser, ProfileChanges, User};
use crate::db::{DbConnection, write_transaction};
use crate::error::ApiError;

/// A validated registration, with the password already hashed.
#[derive(Debug)]
pub struct Registration {
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub phone: Option<String>,
    pub is_staff: bool,
    pub is_superuser: bool,
}

fn email_taken_or(error: DieselError) -> ApiError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => ApiError::EmailTaken,
        other => ApiError::from(other),
    }
}

/// Creates an active user. A taken email, in any letter case, gives
/// [`ApiError::EmailTaken`] and writes nothing.
pub fn register(
    conn: &mut DbConnection,
    registration: &Registration,
    now: NaiveDateTime,
) -> Result<User, ApiError> {
    let new_user = NewUser {
        email: &registration.email,
        password_hash: &registration.password_hash,
        first_name: &registration.first_name,
        last_name: &registration.last_name,
        date_of_birth: registration.date_of_birth,
        phone: registration.phone.as_deref(),
        is_active: true,
        is_staff: registration.is_staff,
        is_superuser: registration.is_superuser,
        date_joined: now,
    };

    users::insert(conn, &new_user).map_err(email_taken_or)
}

/// Applies profile changes. The id, and so the `sub` of tokens and every
/// session, stays the same when the email changes.
pub fn update_profile(
    conn: &mut DbConnection,
    user_id: i64,
    changes: &ProfileChanges,
) -> Result<User, ApiError> {
    write_transaction(conn, |conn| {
        if users::find_by_id(conn, user_id)?.is_none() {
            return Err(ApiError::NotFound("user"));
        }
        users::update_profile(conn, user_id, changes).map_err(email_taken_or)
    })
}

/// Finds an active user and their permissions by id, for routes that act for
/// the bearer of an access token.
pub fn active_user(conn: &mut DbConnection, user_id: i64) -> Result<(User, Vec<String>), ApiError> {
    let user = users::find_by_id(conn, user_id)?
        .filter(|user| user.is_active)
        .ok_or(ApiError::InvalidToken(
            "the user of this token no longer exists or is inactive".into(),
        ))?;
    let permissions = users::permissions_of(conn, user_id)?;
    Ok((user, permissions))
}
