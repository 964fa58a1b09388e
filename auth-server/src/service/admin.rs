//! Account administration: flags, permissions and deletion.

use chrono::NaiveDateTime;

use crate::db::sessions as session_queries;
use crate::db::users::{self, FlagChanges, User};
use crate::db::{DbConnection, write_transaction};
use crate::error::ApiError;

/// Fails unless `actor_id` is an active staff member or superuser now, so a
/// token minted before a demotion stops working for administration at once.
/// An inactive or deleted actor gets 401, like on every other route.
pub fn require_admin(conn: &mut DbConnection, actor_id: i64) -> Result<(), ApiError> {
    let Some(actor) = users::find_by_id(conn, actor_id)?.filter(|actor| actor.is_active) else {
        return Err(ApiError::InvalidToken(
            "the user of this token no longer exists or is inactive".into(),
        ));
    };
    if actor.is_staff || actor.is_superuser {
        Ok(())
    } else {
        Err(ApiError::InsufficientScope(
            auth_shared::claims::ADMIN_SCOPE,
        ))
    }
}

/// Changes flags and, when given, replaces the permissions of a user. A user
/// set inactive loses every session at once.
pub fn update_user(
    conn: &mut DbConnection,
    target_id: i64,
    flags: &FlagChanges,
    permissions: Option<&[String]>,
    now: NaiveDateTime,
) -> Result<(User, Vec<String>), ApiError> {
    write_transaction(conn, |conn| {
        if !users::set_flags(conn, target_id, flags)? {
            return Err(ApiError::NotFound("user"));
        }
        if let Some(permissions) = permissions {
            users::replace_permissions(conn, target_id, permissions)?;
        }
        if flags.is_active == Some(false) {
            session_queries::revoke_user_sessions(conn, target_id, None, now, "user deactivated")?;
        }

        let user = users::find_by_id(conn, target_id)?.ok_or(ApiError::NotFound("user"))?;
        let permissions = users::permissions_of(conn, target_id)?;
        Ok((user, permissions))
    })
}

/// Deletes a user with their sessions and tokens; unknown ids give 404.
pub fn delete_user(conn: &mut DbConnection, target_id: i64) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        if users::delete(conn, target_id)? {
            Ok(())
        } else {
            Err(ApiError::NotFound("user"))
        }
    })
}
