//! The connection enum that lets one set of queries serve both backends.

/// A connection to either backend; queries are written once against it.
///
/// Diesel's generated `MultiBackend` covers the SQL types both backends
/// share. It cannot render `RETURNING` with a `Selectable` projection, so
/// inserts and updates return `all_columns` into `Queryable` rows instead.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}
