//! Queries on `users` and `user_permissions`.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{user_permissions, users};

/// A row of `users`.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub phone: Option<String>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: NaiveDateTime,
    pub last_login: Option<NaiveDateTime>,
}

/// The columns set when a user is created.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub date_of_birth: Option<NaiveDate>,
    pub phone: Option<&'a str>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: NaiveDateTime,
}

/// Profile fields a user may change; `None` leaves a column as it is, and
/// `Some(None)` clears a nullable column.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct ProfileChanges {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub date_of_birth: Option<Option<NaiveDate>>,
    pub phone: Option<Option<String>>,
}

impl ProfileChanges {
    /// Reports whether no column would change.
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.date_of_birth.is_none()
            && self.phone.is_none()
    }
}

/// Inserts a user and returns the stored row.
pub fn insert(conn: &mut DbConnection, new_user: &NewUser<'_>) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(new_user)
        .returning(users::all_columns)
        .get_result(conn)
}

/// Finds a user by normalized email address.
pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Finds a user by id.
pub fn find_by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Applies profile changes and returns the updated row.
pub fn update_profile(
    conn: &mut DbConnection,
    id: i64,
    changes: &ProfileChanges,
) -> QueryResult<User> {
    if changes.is_empty() {
        return users::table.find(id).select(User::as_select()).first(conn);
    }

    diesel::update(users::table.find(id))
        .set(changes)
        .returning(users::all_columns)
        .get_result(conn)
}

/// Replaces the password hash of a user.
pub fn set_password_hash(
    conn: &mut DbConnection,
    id: i64,
    password_hash: &str,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::password_hash.eq(password_hash))
        .execute(conn)
}

/// Records a successful login.
pub fn set_last_login(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::last_login.eq(Some(at)))
        .execute(conn)
}

/// Lists the permissions granted to a user, sorted by name.
pub fn permissions_of(conn: &mut DbConnection, user_id: i64) -> QueryResult<Vec<String>> {
    user_permissions::table
        .filter(user_permissions::user_id.eq(user_id))
        .select(user_permissions::permission)
        .order(user_permissions::permission.asc())
        .load(conn)
}

/// Grants a permission; granting one the user already has changes nothing.
pub fn grant_permission(
    conn: &mut DbConnection,
    user_id: i64,
    permission: &str,
) -> QueryResult<()> {
    let already_granted = user_permissions::table
        .filter(user_permissions::user_id.eq(user_id))
        .filter(user_permissions::permission.eq(permission))
        .count()
        .get_result::<i64>(conn)?
        > 0;

    if !already_granted {
        diesel::insert_into(user_permissions::table)
            .values((
                user_permissions::user_id.eq(user_id),
                user_permissions::permission.eq(permission),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Revokes a permission and reports whether the user had it.
pub fn revoke_permission(
    conn: &mut DbConnection,
    user_id: i64,
    permission: &str,
) -> QueryResult<bool> {
    let deleted = diesel::delete(
        user_permissions::table
            .filter(user_permissions::user_id.eq(user_id))
            .filter(user_permissions::permission.eq(permission)),
    )
    .execute(conn)?;

    Ok(deleted > 0)
}

/// Lists users ordered by id, optionally those whose email contains
/// `email_filter`, one page at a time. Returns the page and the total count.
pub fn list(
    conn: &mut DbConnection,
    email_filter: Option<&str>,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<User>, i64)> {
    let pattern = email_filter.map(|filter| format!("%{}%", escape_like(filter)));

    let mut count_query = users::table.count().into_boxed();
    let mut page_query = users::table.select(User::as_select()).into_boxed();
    if let Some(pattern) = &pattern {
        count_query = count_query.filter(users::email.like(pattern.clone()).escape('\\'));
        page_query = page_query.filter(users::email.like(pattern.clone()).escape('\\'));
    }

    let total = count_query.get_result(conn)?;
    let page = page_query
        .order(users::id.asc())
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    Ok((page, total))
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Account flags an administrator may change; `None` leaves a flag alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct FlagChanges {
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
}

/// Applies flag changes and reports whether the user exists.
pub fn set_flags(conn: &mut DbConnection, id: i64, changes: &FlagChanges) -> QueryResult<bool> {
    if changes.is_active.is_none() && changes.is_staff.is_none() && changes.is_superuser.is_none() {
        return Ok(find_by_id(conn, id)?.is_some());
    }
    let updated = diesel::update(users::table.find(id))
        .set(changes)
        .execute(conn)?;
    Ok(updated > 0)
}

/// Replaces the permissions of a user with `permissions`.
pub fn replace_permissions(
    conn: &mut DbConnection,
    user_id: i64,
    permissions: &[String],
) -> QueryResult<()> {
    diesel::delete(user_permissions::table.filter(user_permissions::user_id.eq(user_id)))
        .execute(conn)?;

    // One statement per row: Diesel's multi-backend connection cannot render
    // a batch insert, and a user has few permissions.
    for permission in permissions {
        diesel::insert_into(user_permissions::table)
            .values((
                user_permissions::user_id.eq(user_id),
                user_permissions::permission.eq(permission),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Deletes a user; their permissions, sessions and refresh tokens go with
/// them through `ON DELETE CASCADE`. Reports whether the user existed.
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(users::table.find(id)).execute(conn)? > 0)
}
