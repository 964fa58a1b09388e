use std::process::ExitCode;

use clap::Parser;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = auth_server::cli::Cli::parse();

    match auth_server::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("auth-server: {error}");
            ExitCode::FAILURE
        }
    }
}
