//! Administrative commands run from the command line, outside any server.
//!
//! Each command opens its own small pool, works on either backend, and
//! returns an error message that says what failed and how to fix it.

pub mod keys;
pub mod users;

use crate::db::DbError;

/// A command failure, as the message printed before exiting non-zero.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CommandError(pub String);

impl From<String> for CommandError {
    fn from(message: String) -> CommandError {
        CommandError(message)
    }
}

impl From<DbError> for CommandError {
    fn from(error: DbError) -> CommandError {
        CommandError(error.to_string())
    }
}

impl From<diesel::result::Error> for CommandError {
    fn from(error: diesel::result::Error) -> CommandError {
        CommandError(format!("database query failed: {error}"))
    }
}
