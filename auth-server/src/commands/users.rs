//! Creating superusers, activating and deactivating users, and granting or
//! revoking permissions.

use std::io::{BufRead, IsTerminal};

use chrono::Utc;
use secrecy::SecretString;

use super::CommandError;
use crate::config::Settings;
use crate::db::sessions as session_queries;
use crate::db::users::{self, FlagChanges, User};
use crate::db::{Database, DbConnection};
use crate::password;
use crate::service::accounts::{self, Registration};
use crate::validation;

fn open_database(settings: &Settings) -> Result<Database, CommandError> {
    let db = Database::connect(&settings.database_url, 1);
    db.migrate().map_err(|error| {
        format!(
            "cannot open the database {}: {error}",
            settings.redacted_database_url()
        )
    })?;
    Ok(db)
}

fn find_user(conn: &mut DbConnection, email: &str) -> Result<User, CommandError> {
    let email = validation::normalize_email(email).map_err(|message| format!("email {message}"))?;
    let found = users::find_by_email(conn, &email)
        .map_err(|error| format!("looking up {email} failed: {error}"))?;
    Ok(found.ok_or_else(|| format!("no user has the email {email}"))?)
}

/// Reads a password from the terminal without echo, twice, or one line from
/// standard input when it is not a terminal (for scripts).
pub fn prompt_password() -> Result<SecretString, CommandError> {
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|error| format!("reading the password from standard input failed: {error}"))?;
        return Ok(SecretString::from(
            line.trim_end_matches(['\r', '\n']).to_owned(),
        ));
    }

    let first = rpassword::prompt_password("Password: ")
        .map_err(|error| format!("reading the password failed: {error}"))?;
    let second = rpassword::prompt_password("Password (again): ")
        .map_err(|error| format!("reading the password failed: {error}"))?;
    if first != second {
        return Err(CommandError("the passwords do not match".into()));
    }
    Ok(SecretString::from(first))
}

/// Creates an active staff superuser.
pub fn create_superuser(
    settings: &Settings,
    email: &str,
    password: SecretString,
) -> Result<User, CommandError> {
    let email = validation::normalize_email(email).map_err(|message| format!("email {message}"))?;
    password::check_policy(&password).map_err(|error| format!("password {error}"))?;
    let password_hash = password::hash_now(&password, settings.bcrypt_cost)
        .map_err(|error| format!("hashing the password failed: {error}"))?;

    let registration = Registration {
        email,
        password_hash,
        first_name: String::new(),
        last_name: String::new(),
        date_of_birth: None,
        phone: None,
        is_staff: true,
        is_superuser: true,
    };
    let db = open_database(settings)?;
    db.run_blocking(|conn| {
        accounts::register(conn, &registration, Utc::now().naive_utc()).map_err(|error| {
            CommandError(match error {
                crate::error::ApiError::EmailTaken => format!(
                    "a user with the email {} already exists",
                    registration.email
                ),
                other => format!("creating the user failed: {other}"),
            })
        })
    })
}

/// Activates or deactivates a user; deactivation revokes every session.
pub fn set_active(settings: &Settings, email: &str, active: bool) -> Result<User, CommandError> {
    let db = open_database(settings)?;
    db.run_blocking(|conn| {
        let user = find_user(conn, email)?;
        let changes = FlagChanges {
            is_active: Some(active),
            ..FlagChanges::default()
        };
        users::set_flags(conn, user.id, &changes)
            .map_err(|error| format!("updating the user failed: {error}"))?;
        if !active {
            session_queries::revoke_user_sessions(
                conn,
                user.id,
                None,
                Utc::now().naive_utc(),
                "user deactivated",
            )
            .map_err(|error| format!("revoking sessions failed: {error}"))?;
        }
        Ok(user)
    })
}

/// Grants (`granted = true`) or revokes a permission.
pub fn set_permission(
    settings: &Settings,
    email: &str,
    permission: &str,
    granted: bool,
) -> Result<bool, CommandError> {
    validation::check_permission_name(permission)?;
    let db = open_database(settings)?;
    db.run_blocking(|conn| {
        let user = find_user(conn, email)?;
        if granted {
            users::grant_permission(conn, user.id, permission)
                .map_err(|error| format!("granting failed: {error}"))?;
            Ok(true)
        } else {
            Ok(users::revoke_permission(conn, user.id, permission)
                .map_err(|error| format!("revoking failed: {error}"))?)
        }
    })
}
