//! The command line: serving is the default; subcommands administer the
//! database and keys.

use clap::{Parser, Subcommand};

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
}

/// Runs the parsed command line and returns the process exit code.
pub async fn run(cli: Cli) -> Result<(), String> {
    let settings = Settings::from_env().map_err(|error| error.to_string())?;
    crate::telemetry::init(settings.log_format);

    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let application = Application::build(settings)
                .await
                .map_err(|error| error.to_string())?;
            tracing::info!(port = application.port(), "auth server listening");
            application
                .run_until_stopped()
                .await
                .map_err(|error| error.to_string())
        }
        Command::Migrate => {
            let db = Database::connect(&settings.database_url, 1);
            tokio::task::spawn_blocking(move || db.migrate())
                .await
                .map_err(|error| error.to_string())?
                .map_err(|error| error.to_string())
        }
    }
}
