//! The servers under test: release binaries started as child processes on
//! free ports of 127.0.0.1, each with its own temporary data directory, and
//! the PostgreSQL database created for one run.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use hyper::StatusCode;
use tempfile::TempDir;

use crate::BenchError;
use crate::http::{RequestSpec, send_once};

/// Maximum time a server may take to return 200 on its readiness check.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running server process, killed when dropped.
pub struct ServerProcess {
    name: String,
    child: Child,
    address: SocketAddr,
    data_dir: TempDir,
}

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// `VmRSS`: resident set size now, in KiB.
    pub rss_kib: u64,
    /// `VmHWM`: the peak resident set size, in KiB.
    pub peak_kib: u64,
}

impl ServerProcess {
    /// Starts `binary` on a free port and waits until `readiness_path`
    /// returns 200.
    ///
    /// The variables named in `unset` are removed from the inherited
    /// environment. `configure` receives the chosen address and the data
    /// directory and returns the variables to set. Output goes to `server.log` in the
    /// data directory, whose tail is shown if the server fails to start.
    pub async fn start(
        name: &str,
        binary: &Path,
        readiness_path: &str,
        unset: Vec<String>,
        configure: impl FnOnce(SocketAddr, &Path) -> Vec<(String, String)>,
    ) -> Result<ServerProcess, BenchError> {
        let data_dir = tempfile::Builder::new()
            .prefix(&format!("bench-{name}-"))
            .tempdir()
            .map_err(|error| {
                BenchError::new(format!("creating a data directory failed: {error}"))
            })?;
        let address = free_address()?;
        let log_path = data_dir.path().join("server.log");
        let log = File::create(&log_path).map_err(|error| {
            BenchError::new(format!("creating {} failed: {error}", log_path.display()))
        })?;
        let log_for_stderr = log.try_clone().map_err(|error| {
            BenchError::new(format!("duplicating the log file failed: {error}"))
        })?;

        let mut command = Command::new(binary);
        for name in unset {
            command.env_remove(name);
        }
        let child = command
            .envs(configure(address, data_dir.path()))
            .current_dir(data_dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_for_stderr)
            .spawn()
            .map_err(|error| {
                BenchError::new(format!(
                    "starting {} failed: {error}; build it with `cargo build --release -p auth-server -p resource-server`",
                    binary.display()
                ))
            })?;

        let mut server = ServerProcess {
            name: name.to_owned(),
            child,
            address,
            data_dir,
        };
        server.wait_ready(readiness_path).await?;
        Ok(server)
    }

    /// Returns the address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Returns the base URL, `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Returns the server's data directory.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Reads the server's current and peak resident memory.
    pub fn memory(&self) -> Result<Memory, BenchError> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path)
            .map_err(|error| BenchError::new(format!("reading {path} failed: {error}")))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .ok_or_else(|| BenchError::new(format!("{path} has no {name} line")))
        };
        Ok(Memory {
            rss_kib: field("VmRSS:")?,
            peak_kib: field("VmHWM:")?,
        })
    }

    async fn wait_ready(&mut self, path: &str) -> Result<(), BenchError> {
        let started = Instant::now();
        let spec = RequestSpec::get(path);
        loop {
            if let Ok(Some(exit)) = self.child.try_wait() {
                return Err(self.failure(&format!("exited with {exit}")));
            }
            if let Ok(response) = send_once(self.address, &spec).await
                && response.status == StatusCode::OK
            {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(self.failure(&format!(
                    "did not return 200 on {path} within {} s",
                    START_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn failure(&self, what: &str) -> BenchError {
        let log_path = self.data_dir.path().join("server.log");
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        BenchError::new(format!(
            "{} {what}; last lines of its log:\n{}",
            self.name,
            tail.join("\n")
        ))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // SIGKILL: the data directory is deleted right after, so a graceful
        // stop would only add time.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Picks a free port by binding port 0 and releasing it. Another process
/// could take the port before the server binds it; the server then fails
/// to start with a clear error.
fn free_address() -> Result<SocketAddr, BenchError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|error| BenchError::new(format!("finding a free port failed: {error}")))?;
    listener
        .local_addr()
        .map_err(|error| BenchError::new(format!("finding a free port failed: {error}")))
}

/// Returns the directory of the running executable, where `cargo build
/// --release` also puts the server binaries.
pub fn default_binary_dir() -> Result<PathBuf, BenchError> {
    let executable = std::env::current_exe()
        .map_err(|error| BenchError::new(format!("locating the bench binary failed: {error}")))?;
    executable
        .parent()
        .map(Path::to_owned)
        .ok_or_else(|| BenchError::new("the bench binary has no parent directory"))
}

/// A PostgreSQL database created for one run and dropped by [`Self::drop_database`].
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Connects to `admin_url` and creates a database with a name unique to
    /// this process.
    pub fn create(admin_url: &str) -> Result<ScratchDatabase, BenchError> {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default();
        let name = format!("bench_{}_{seconds}", std::process::id());

        let mut url = url::Url::parse(admin_url).map_err(|error| {
            BenchError::new(format!("invalid PostgreSQL URL {admin_url:?}: {error}"))
        })?;
        url.set_path(&name);

        let mut admin = connect(admin_url)?;
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .map_err(|error| {
                BenchError::new(format!("creating database {name} failed: {error}"))
            })?;

        Ok(ScratchDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        })
    }

    /// Returns the URL of the created database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database, closing any connection still open to it.
    pub fn drop_database(self) -> Result<(), BenchError> {
        let mut admin = connect(&self.admin_url)?;
        diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .map_err(|error| {
            BenchError::new(format!("dropping database {} failed: {error}", self.name))
        })?;
        Ok(())
    }
}

fn connect(url: &str) -> Result<PgConnection, BenchError> {
    PgConnection::establish(url).map_err(|error| {
        BenchError::new(format!(
            "connecting to PostgreSQL failed: {error}; pass a reachable server with --postgres-url"
        ))
    })
}
