//! The command line: serving is the default; subcommands administer the
//! database, users and keys.

use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::commands::{self, CommandError};
use crate::config::Settings;
use crate::db::Database;
use crate::startup::Application;

/// The auth server. Settings come from `AUTH_*` environment variables; see
/// the README for the full list.
#[derive(Debug, Parser)]
#[command(name = "auth-server", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to run; with no subcommand the server serves.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Delete expired and revoked refresh tokens and sessions, then exit. A
    /// running server also does this every AUTH_PURGE_INTERVAL_SECS seconds.
    PurgeTokens,
    /// Create an active staff superuser. Prompts for the password when
    /// --password is not given (reads one line when stdin is not a terminal).
    CreateSuperuser {
        /// Login email of the new user.
        #[arg(long)]
        email: String,
        /// The password; prefer the prompt, which keeps it out of shell history.
        #[arg(long, env = "AUTH_SUPERUSER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Let a user log in and refresh again.
    ActivateUser {
        /// Login email of the user.
        email: String,
    },
    /// Stop a user from logging in and revoke all of their sessions at once.
    DeactivateUser {
        /// Login email of the user.
        email: String,
    },
    /// Grant a named permission; it appears in the scope of new access tokens.
    GrantPermission {
        /// Login email of the user.
        email: String,
        /// Permission name, such as reports:read.
        permission: String,
    },
    /// Revoke a named permission.
    RevokePermission {
        /// Login email of the user.
        email: String,
        /// Permission name, such as reports:read.
        permission: String,
    },
    /// List, rotate or retire signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// Key management subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Show every key with its state: pending, signing, verify-only or retired.
    List,
    /// Add a new key: published in the JWKS now, signing after the delay.
    Rotate {
        /// Seconds until the new key signs; default twice the JWKS max-age
        /// (600), so every verifier has fetched it first.
        #[arg(long)]
        activate_in: Option<u64>,
    },
    /// Withdraw a key that no longer signs and delete its private key file.
    Retire {
        /// The kid of the key, as shown by `keys list`.
        kid: String,
        /// Retire even though tokens it signed may still be unexpired.
        #[arg(long)]
        force: bool,
    },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CommandError> {
    let settings = Settings::from_env().map_err(|error| CommandError(error.to_string()))?;
    auth_shared::telemetry::init(settings.log_format);

    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        other => tokio::task::spawn_blocking(move || run_admin(other, &settings))
            .await
            .map_err(|error| CommandError(format!("the command was cancelled: {error}")))?,
    }
}

async fn serve(settings: Settings) -> Result<(), CommandError> {
    let application = Application::build(settings)
        .await
        .map_err(|error| CommandError(error.to_string()))?;
    tracing::info!(port = application.port(), "auth server listening");

    // actix-web stops on SIGTERM and Ctrl-C: it stops accepting, lets requests
    // in flight finish (up to 30 seconds), then returns here, and dropping
    // the state closes the database pool.
    application
        .run_until_stopped()
        .await
        .map_err(|error| CommandError(format!("the server stopped with an error: {error}")))?;
    tracing::info!("auth server stopped");
    Ok(())
}

fn run_admin(command: Command, settings: &Settings) -> Result<(), CommandError> {
    match command {
        Command::Serve => Ok(()),
        Command::Migrate => Ok(Database::connect(&settings.database_url, 1).migrate()?),
        Command::PurgeTokens => {
            let db = Database::connect(&settings.database_url, 1);
            db.migrate()?;
            let now = chrono::Utc::now().naive_utc();
            let (tokens, sessions) = db.run_blocking(|conn| {
                crate::service::sessions::purge(conn, now).map_err(CommandError::from)
            })?;
            println!("purged {tokens} refresh tokens and {sessions} sessions");
            Ok(())
        }
        Command::CreateSuperuser { email, password } => {
            let password = match password {
                Some(password) => SecretString::from(password),
                None => commands::users::prompt_password()?,
            };
            let user = commands::users::create_superuser(settings, &email, password)?;
            println!("created superuser {} with id {}", user.email, user.id);
            Ok(())
        }
        Command::ActivateUser { email } => {
            let user = commands::users::set_active(settings, &email, true)?;
            println!("activated {}", user.email);
            Ok(())
        }
        Command::DeactivateUser { email } => {
            let user = commands::users::set_active(settings, &email, false)?;
            println!("deactivated {} and revoked their sessions", user.email);
            Ok(())
        }
        Command::GrantPermission { email, permission } => {
            commands::users::set_permission(settings, &email, &permission, true)?;
            println!("granted {permission} to {email}");
            Ok(())
        }
        Command::Keys(command) => run_keys(command, settings),
        Command::RevokePermission { email, permission } => {
            let had = commands::users::set_permission(settings, &email, &permission, false)?;
            if had {
                println!("revoked {permission} from {email}");
            } else {
                println!("{email} did not have {permission}; nothing changed");
            }
            Ok(())
        }
    }
}

fn run_keys(command: KeysCommand, settings: &Settings) -> Result<(), CommandError> {
    match command {
        KeysCommand::List => {
            for line in commands::keys::list(settings)? {
                println!("{line}");
            }
        }
        KeysCommand::Rotate { activate_in } => {
            let delay = activate_in
                .map(std::time::Duration::from_secs)
                .unwrap_or(commands::keys::DEFAULT_ACTIVATION_DELAY);
            let entry = commands::keys::rotate(settings, delay)?;
            println!(
                "added key {}: published now, signing from {}",
                entry.kid,
                entry.activates_at.to_rfc3339()
            );
        }
        KeysCommand::Retire { kid, force } => {
            let entry = commands::keys::retire(settings, &kid, force)?;
            println!("retired key {}; it is no longer published", entry.kid);
        }
    }
    Ok(())
}
