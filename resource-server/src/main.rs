use std::process::ExitCode;

use clap::Parser;
use resource_server::{Application, Settings};

/// The resource server. Settings come from `RESOURCE_*` environment
/// variables, listed in the README.
#[derive(Debug, Parser)]
#[command(name = "resource-server", version, about)]
struct Cli {}

#[actix_web::main]
async fn main() -> ExitCode {
    let _cli = Cli::parse();

    match serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("resource-server: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), String> {
    let settings = Settings::from_env().map_err(|error| error.to_string())?;
    auth_shared::telemetry::init(settings.log_format);

    let application = Application::build(settings.clone())
        .await
        .map_err(|error| format!("failed to start on {}: {error}", settings.bind))?;
    tracing::info!(
        port = application.port(),
        issuer = %settings.issuer,
        audience = %settings.audience,
        "resource server listening"
    );
    application
        .run_until_stopped()
        .await
        .map_err(|error| error.to_string())
}
