//! Benchmark of the auth server and the resource server against the
//! machine's limits. Starts the release binaries, drives them over HTTP from
//! this process, prints one table and exits with 1 if any request failed.
//!
//! Run it as BENCHMARKS.md shows: build the three binaries in release mode
//! first, because this binary starts the servers found next to itself.

mod http;
mod limits;
mod load;
mod report;
mod scenario;
mod servers;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// A failure of the benchmark itself (setup, a server that would not start),
/// as opposed to a failed request, which is counted in the table.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BenchError(String);

impl BenchError {
    pub fn new(message: impl Into<String>) -> BenchError {
        BenchError(message.into())
    }
}

/// Measures throughput, latency and memory of the real servers against the
/// machine's limits, and prints one table.
#[derive(Debug, Parser)]
#[command(name = "bench", version, about)]
struct Options {
    /// Seconds each load phase and each limit measurement runs.
    #[arg(long, default_value_t = 8)]
    duration_secs: u64,
    /// Connections for the resource server GET phases.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Concurrent refresh chains per backend; each starts with one login.
    #[arg(long, default_value_t = 32)]
    refresh_chains: usize,
    /// Connections sending logins in the login phase.
    #[arg(long, default_value_t = 8)]
    login_connections: usize,
    /// bcrypt cost the auth servers run with (AUTH_BCRYPT_COST).
    #[arg(long, default_value_t = 12)]
    bcrypt_cost: u32,
    /// PostgreSQL server to create the run's database on; the database is
    /// dropped at the end. Only the server part of the URL is used.
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// Directory holding the auth-server and resource-server binaries;
    /// default the directory of this binary (target/release).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Check that the command works: 1-second phases and 2 to 4 connections.
    /// The numbers mean nothing; the exit code still reports failed requests.
    #[arg(long)]
    smoke: bool,
}

/// The knobs of one run, after `--smoke` is applied.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub phase: Duration,
    pub connections: usize,
    pub refresh_chains: usize,
    pub login_connections: usize,
    pub bcrypt_cost: u32,
    pub threads: usize,
    pub bin_dir: PathBuf,
    pub postgres_url: String,
}

impl RunConfig {
    fn from_options(options: Options) -> Result<RunConfig, BenchError> {
        let bin_dir = match options.bin_dir {
            Some(dir) => dir,
            None => servers::default_binary_dir()?,
        };
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        let mut config = RunConfig {
            phase: Duration::from_secs(options.duration_secs.max(1)),
            connections: options.connections.max(1),
            refresh_chains: options.refresh_chains.max(1),
            login_connections: options.login_connections.max(1),
            bcrypt_cost: options.bcrypt_cost,
            threads,
            bin_dir,
            postgres_url: options.postgres_url,
        };
        if options.smoke {
            config.phase = Duration::from_secs(1);
            config.connections = 4;
            config.refresh_chains = 4;
            config.login_connections = 2;
        }
        Ok(config)
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    let config = match RunConfig::from_options(options) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("bench: {error}");
            return ExitCode::from(2);
        }
    };

    match scenario::run_all(&config) {
        Ok(results) => {
            print!("{}", report::render(&config, &results));
            let failed = results.failed_requests();
            if failed > 0 {
                eprintln!("bench: {failed} request(s) failed");
                for (phase, error) in results.first_errors() {
                    eprintln!("  {phase}: {error}");
                }
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::from(2)
        }
    }
}
