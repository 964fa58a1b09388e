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
    #[error("no database connection available")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database query failed")]
    Query(#[from] diesel::result::Error),
    #[error("running migrations failed: {0}")]
    Migration(String),
    #[error("the blocking task was cancelled")]
    Cancelled,
}

/// A pooled connection to SQLite or PostgreSQL, chosen by the database URL.
#[derive(Clone)]
pub struct Database {
    pool: Pool<ConnectionManager>,
    backend: BackendKind,
}

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
}

impl ConnectionManager {
    fn connect_sqlite(&self) -> diesel::ConnectionResult<DbConnection> {
        let path = self
            .url
            .strip_prefix("sqlite://")
            .or_else(|| self.url.strip_prefix("sqlite:"))
            .unwrap_or(&self.url);
        let mut conn = SqliteConnection::establish(path)?;

        // busy_timeout comes first so that the others wait for a lock instead
        // of failing at once; WAL lets readers run beside the single writer.
        let pragmas = [
            "PRAGMA busy_timeout = 10000",
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA foreign_keys = ON",
        ];
        for pragma in pragmas {
            diesel::sql_query(pragma)
                .execute(&mut conn)
                .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))?;
        }

        Ok(DbConnection::Sqlite(conn))
    }
}

impl diesel::r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, diesel::r2d2::Error> {
        let connected = match self.backend {
            BackendKind::Postgres => PgConnection::establish(&self.url).map(DbConnection::Postgres),
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

impl Database {
    /// Opens a pool for `url`: `postgres://…` or `postgresql://…` selects
    /// PostgreSQL, anything else is a SQLite file path (created if missing).
    pub fn connect(url: &str, max_connections: u32) -> Database {
        Database::connect_with_timeout(url, max_connections, Duration::from_secs(5))
    }

    /// Opens a pool like [`Database::connect`] whose requests for a
    /// connection fail after `connection_timeout`.
    pub fn connect_with_timeout(
        url: &str,
        max_connections: u32,
        connection_timeout: Duration,
    ) -> Database {
        let backend = BackendKind::from_url(url);
        let manager = ConnectionManager {
            url: url.to_owned(),
            backend,
        };

        // build_unchecked: the server starts and reports not-ready while the
        // database is down, instead of failing to start.
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(1))
            .connection_timeout(connection_timeout)
            .build_unchecked(manager);

        Database { pool, backend }
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
    /// carrying the current tracing span along.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();

        let joined = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(DbError::from)?;
            work(&mut conn)
        })
        .await;

        joined.map_err(|_| E::from(DbError::Cancelled))?
    }

    /// Checks that a connection can be taken and answers a trivial query.
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
