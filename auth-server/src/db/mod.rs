//! Database access: the connection type shared by both backends, the pool,
//! migrations, and one module of queries per table.
//!
//! Every function in the table modules is synchronous and takes a connection;
//! handlers call them through [`Database::run`], which moves the work to the
//! blocking thread pool so Diesel never blocks an actix worker.

pub mod schema;
pub mod sessions;
pub mod users;

mod backend;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::r2d2::{Pool, R2D2Connection};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use backend::DbConnection;

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

/// Errors from the pool, the blocking pool or a query.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot get a database connection: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database query failed")]
    Query(#[from] diesel::result::Error),
    #[error("running migrations failed: {0}")]
    Migration(String),
    #[error("the blocking task was cancelled")]
    Cancelled,
    #[error("the database did not answer within {0:?}")]
    TimedOut(Duration),
}

/// A pooled connection to SQLite or PostgreSQL, chosen by the database URL.
#[derive(Clone)]
pub struct Database {
    pool: Pool<ConnectionManager>,
    backend: BackendKind,
    query_timeout: Duration,
}

/// The default time [`Database::run`] waits for its work.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(10);

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// The database product behind a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Postgres,
    Sqlite,
}

impl BackendKind {
    /// Picks the backend from a database URL: `postgres://` and
    /// `postgresql://` select PostgreSQL, anything else is a SQLite path.
    pub fn from_url(url: &str) -> BackendKind {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            BackendKind::Postgres
        } else {
            BackendKind::Sqlite
        }
    }

    /// The lower-case product name, for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Postgres => "postgres",
            BackendKind::Sqlite => "sqlite",
        }
    }
}

/// Opens connections of the one backend named by the URL.
///
/// Diesel's generated `establish` tries every backend in turn, which would
/// make an unreachable PostgreSQL URL fall through to SQLite and create a
/// file named after the URL; this manager never guesses.
struct ConnectionManager {
    url: String,
    backend: BackendKind,
    query_timeout: Duration,
}

impl ConnectionManager {
    fn connect_postgres(&self) -> diesel::ConnectionResult<DbConnection> {
        let mut conn = PgConnection::establish(&self.url)?;

        // The server cancels a statement that runs longer than the query
        // timeout, so work abandoned by a timed-out request stops there too.
        let timeout_ms = self.query_timeout.as_millis();
        diesel::sql_query(format!("SET statement_timeout = {timeout_ms}"))
            .execute(&mut conn)
            .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))?;
        Ok(DbConnection::Postgres(conn))
    }

    fn connect_sqlite(&self) -> diesel::ConnectionResult<DbConnection> {
        let path = self
            .url
            .strip_prefix("sqlite://")
            .or_else(|| self.url.strip_prefix("sqlite:"))
            .unwrap_or(&self.url);
        restrict_new_file(path);
        let mut conn = SqliteConnection::establish(path)?;

        // busy_timeout comes first so that the others wait for a lock instead
        // of failing at once; WAL lets readers run beside the single writer.
        let pragmas = [
            "PRAGMA busy_timeout = 10000",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA foreign_keys = ON",
        ];
        for pragma in pragmas {
            diesel::sql_query(pragma)
                .execute(&mut conn)
                .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))?;
        }
        enable_wal(&mut conn)
            .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))?;

        Ok(DbConnection::Sqlite(conn))
    }
}

/// Switches a SQLite database to WAL mode unless it is in WAL mode already.
/// The mode is kept in the file, so only the first connection changes it,
/// and later connections do not contend for the lock a change needs.
fn enable_wal(conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
    #[derive(diesel::QueryableByName)]
    struct JournalMode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }

    let current: JournalMode = diesel::sql_query("PRAGMA journal_mode").get_result(conn)?;
    if !current.journal_mode.eq_ignore_ascii_case("wal") {
        diesel::sql_query("PRAGMA journal_mode = WAL").execute(conn)?;
    }
    Ok(())
}

/// Creates a missing SQLite file readable and writable by the owner only,
/// because it contains password hashes and personal data. SQLite gives its WAL and
/// shared-memory files the same mode. Failures are left to `establish`,
/// which reports them.
fn restrict_new_file(path: &str) {
    use std::os::unix::fs::OpenOptionsExt;

    if path.is_empty() || path.starts_with(':') || path.starts_with("file:") {
        return;
    }
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
}

impl diesel::r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, diesel::r2d2::Error> {
        let connected = match self.backend {
            BackendKind::Postgres => self.connect_postgres(),
            BackendKind::Sqlite => self.connect_sqlite(),
        };
        connected.map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Logs a failed attempt of the pool to open a connection. The pool retries
/// on its own, and a request that finds no connection fails with 503.
#[derive(Debug)]
struct ConnectionErrorLogger;

impl diesel::r2d2::HandleError<diesel::r2d2::Error> for ConnectionErrorLogger {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        tracing::warn!(error = %error, "opening a database connection failed; retrying");
    }
}

impl Database {
    /// Opens a pool for `url`: `postgres://…` or `postgresql://…` selects
    /// PostgreSQL, anything else is a SQLite file path (created if missing).
    pub fn connect(url: &str, max_connections: u32) -> Database {
        Database::connect_with_timeout(
            url,
            max_connections,
            Duration::from_secs(5),
            DEFAULT_QUERY_TIMEOUT,
        )
    }

    /// Opens a pool like [`Database::connect`] whose requests for a
    /// connection fail after `connection_timeout`.
    pub fn connect_with_timeout(
        url: &str,
        max_connections: u32,
        connection_timeout: Duration,
        query_timeout: Duration,
    ) -> Database {
        let backend = BackendKind::from_url(url);
        let manager = ConnectionManager {
            url: url.to_owned(),
            backend,
            query_timeout,
        };

        // build_unchecked: the server starts and reports not-ready while the
        // database is down, instead of failing to start.
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(1))
            .connection_timeout(connection_timeout)
            .error_handler(Box::new(ConnectionErrorLogger))
            .build_unchecked(manager);

        Database {
            pool,
            backend,
            query_timeout,
        }
    }

    /// Applies every pending migration of the connected backend.
    pub fn migrate(&self) -> Result<(), DbError> {
        let mut conn = self.pool.get()?;
        let applied = match &mut *conn {
            DbConnection::Postgres(pg) => pg
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len()),
            DbConnection::Sqlite(sqlite) => sqlite
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.len()),
        }
        .map_err(|error| DbError::Migration(error.to_string()))?;

        tracing::info!(applied, "database migrations are up to date");
        Ok(())
    }

    /// Runs `work` with a pooled connection on the blocking thread pool,
    /// carrying the current tracing span along. Gives up with
    /// [`DbError::TimedOut`] after the query timeout, so requests to a
    /// stalled database fail with 503 instead of waiting forever.
    ///
    /// NOTE: the blocking thread cannot be interrupted. Work that finishes
    /// after the timeout still commits; on PostgreSQL `statement_timeout`
    /// bounds it, on SQLite the busy timeout does.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();

        let task = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(DbError::from)?;
            work(&mut conn)
        });

        match tokio::time::timeout(self.query_timeout, task).await {
            Ok(joined) => joined.map_err(|_| E::from(DbError::Cancelled))?,
            Err(_) => Err(E::from(DbError::TimedOut(self.query_timeout))),
        }
    }

    /// Checks that a connection can be taken and runs a trivial query.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok::<_, DbError>(())
        })
        .await
    }

    /// The backend this pool connects to.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// Connections open and idle in the pool, for metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// Runs `work` in a transaction on a connection taken synchronously, for
    /// command-line tools that are not inside the async runtime.
    pub fn run_blocking<T, E, F>(&self, work: F) -> Result<T, E>
    where
        E: From<DbError> + From<diesel::result::Error>,
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
    {
        let mut conn = self.pool.get().map_err(DbError::from)?;
        (*conn).transaction(work)
    }
}

/// Runs `work` in a transaction that takes the write lock up front.
///
/// On PostgreSQL this is a plain transaction: its row locks serialize
/// conflicting writers. On SQLite it is `BEGIN IMMEDIATE`, because a deferred
/// transaction that reads first fails at once with "database is locked" when
/// it later tries to write while another connection writes, whatever the busy
/// timeout.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    E: From<diesel::result::Error>,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    type Manager = <DbConnection as Connection>::TransactionManager;

    match conn {
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgres(_) => Manager::begin_transaction(conn)?,
    }

    match work(conn) {
        Ok(value) => match Manager::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(commit_error) => {
                let _ = Manager::rollback_transaction(conn);
                Err(E::from(commit_error))
            }
        },
        Err(error) => {
            // A failed rollback leaves the connection marked broken, and the
            // pool discards it; the caller still gets the original error.
            let _ = Manager::rollback_transaction(conn);
            Err(error)
        }
    }
}
