//! Queries on `sessions` (refresh token families) and `refresh_tokens`.
//!
//! Only SHA-256 hashes of refresh tokens reach these functions; the tokens
//! themselves never leave the request that carries them.
//!
//! Lock order: every transaction that writes to a session takes its locks in
//! the order user row, session row, token rows. Rotation takes the first two
//! up front with [`lock_family`]; revocation writes the session row before its
//! tokens. With one order on PostgreSQL, concurrent refresh, logout and
//! revocation wait for each other instead of deadlocking.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{refresh_tokens, sessions, users};

/// A row of `sessions`: one login and every refresh token rotated from it.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
}

/// The columns set when a session starts.
#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub user_agent: Option<&'a str>,
    pub ip_address: Option<&'a str>,
}

/// A row of `refresh_tokens`.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: i64,
    pub token_hash: String,
    pub session_id: String,
    pub user_id: i64,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub replaced_by: Option<i64>,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_reason: Option<String>,
}

/// The columns set when a refresh token is issued.
#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub token_hash: &'a str,
    pub session_id: &'a str,
    pub user_id: i64,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// Inserts a session.
pub fn insert_session(conn: &mut DbConnection, session: &NewSession<'_>) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)?;
    Ok(())
}

/// Inserts a refresh token and returns its row id.
pub fn insert_refresh_token(
    conn: &mut DbConnection,
    token: &NewRefreshToken<'_>,
) -> QueryResult<i64> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .returning(refresh_tokens::id)
        .get_result(conn)
}

/// Marks an unused, unrevoked, unexpired token as used, in one conditional
/// write. Returns the updated row when this caller won the token, and `None`
/// when it was already used, revoked, expired or never existed.
pub fn claim_unused_token(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<RefreshTokenRow>> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null())
            .filter(refresh_tokens::expires_at.gt(now)),
    )
    .set(refresh_tokens::used_at.eq(Some(now)))
    .returning(refresh_tokens::all_columns)
    .get_result(conn)
    .optional()
}

/// Finds a refresh token by its hash.
pub fn find_token(
    conn: &mut DbConnection,
    token_hash: &str,
) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Locks a user row against deletion and a session row against every other
/// writer until the transaction ends, then returns the session as it is now.
/// Returns `None` when the session no longer exists.
///
/// On PostgreSQL these are `SELECT … FOR KEY SHARE` on the user and
/// `SELECT … FOR UPDATE` on the session. SQLite needs no row locks because
/// [`super::write_transaction`] already holds the database write lock, so
/// there the session is only read.
pub fn lock_family(
    conn: &mut DbConnection,
    user_id: i64,
    session_id: &str,
) -> QueryResult<Option<Session>> {
    match conn {
        DbConnection::Postgres(pg) => {
            users::table
                .find(user_id)
                .select(users::id)
                .for_key_share()
                .first::<i64>(pg)
                .optional()?;
            sessions::table
                .find(session_id)
                .select(Session::as_select())
                .for_update()
                .first(pg)
                .optional()
        }
        DbConnection::Sqlite(_) => sessions::table
            .find(session_id)
            .select(Session::as_select())
            .first(conn)
            .optional(),
    }
}

/// Records which token a used token was rotated into.
pub fn set_replaced_by(
    conn: &mut DbConnection,
    token_id: i64,
    successor_id: i64,
) -> QueryResult<usize> {
    diesel::update(refresh_tokens::table.find(token_id))
        .set(refresh_tokens::replaced_by.eq(Some(successor_id)))
        .execute(conn)
}

/// Records the last use of a session.
pub fn touch_session(
    conn: &mut DbConnection,
    session_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(sessions::table.find(session_id))
        .set(sessions::last_used_at.eq(now))
        .execute(conn)
}

/// Revokes one session and every unexpired token in it. Returns whether the
/// session was live before the call.
///
/// The session row is written first, as the lock order requires. A revoked
/// session rejects all of its tokens, so tokens that expired before the
/// revocation are left for [`purge_tokens`], which keeps the two statements
/// from ever waiting on each other's rows.
pub fn revoke_session(
    conn: &mut DbConnection,
    session_id: &str,
    now: NaiveDateTime,
    reason: &str,
) -> QueryResult<bool> {
    let revoked = diesel::update(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(Some(now)),
        sessions::revoked_reason.eq(Some(reason)),
    ))
    .execute(conn)?;

    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::session_id.eq(session_id))
            .filter(refresh_tokens::revoked_at.is_null())
            .filter(refresh_tokens::expires_at.gt(now)),
    )
    .set((
        refresh_tokens::revoked_at.eq(Some(now)),
        refresh_tokens::revoked_reason.eq(Some(reason)),
    ))
    .execute(conn)?;

    Ok(revoked > 0)
}

/// Revokes every live session of a user, except `keep` when given. Returns
/// the number of sessions revoked.
pub fn revoke_user_sessions(
    conn: &mut DbConnection,
    user_id: i64,
    keep: Option<&str>,
    now: NaiveDateTime,
    reason: &str,
) -> QueryResult<usize> {
    let live_ids: Vec<String> = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .select(sessions::id)
        .order(sessions::id.asc())
        .load(conn)?;

    let mut revoked = 0;
    for session_id in live_ids.iter().filter(|id| Some(id.as_str()) != keep) {
        if revoke_session(conn, session_id, now, reason)? {
            revoked += 1;
        }
    }
    Ok(revoked)
}

/// Lists a user's live sessions, most recently used first: not revoked, not
/// past their absolute lifetime, and holding at least one unexpired,
/// unrevoked refresh token (a session whose newest token passed its idle
/// lifetime can never refresh again).
pub fn live_sessions_of(
    conn: &mut DbConnection,
    user_id: i64,
    now: NaiveDateTime,
) -> QueryResult<Vec<Session>> {
    let with_live_token = refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::expires_at.gt(now))
        .filter(refresh_tokens::revoked_at.is_null())
        .select(refresh_tokens::session_id);

    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::id.eq_any(with_live_token))
        .order(sessions::last_used_at.desc())
        .select(Session::as_select())
        .load(conn)
}

/// Finds one session of a user; another user's session id finds nothing.
pub fn find_session_of(
    conn: &mut DbConnection,
    user_id: i64,
    session_id: &str,
) -> QueryResult<Option<Session>> {
    sessions::table
        .filter(sessions::id.eq(session_id))
        .filter(sessions::user_id.eq(user_id))
        .select(Session::as_select())
        .first(conn)
        .optional()
}

/// Deletes refresh tokens that expired or were revoked before `cutoff`, then
/// sessions with no tokens left that are revoked or expired. Returns the
/// number of token rows and session rows deleted.
///
/// Called outside a transaction, as the server's purge task does, each
/// statement commits on its own and holds its row locks only while it runs.
pub fn purge(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<(usize, usize)> {
    let tokens = purge_tokens(conn, cutoff)?;
    let sessions = purge_sessions(conn, cutoff)?;
    Ok((tokens, sessions))
}

/// Deletes refresh tokens that expired or were revoked before `cutoff`.
pub fn purge_tokens(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        refresh_tokens::table.filter(
            refresh_tokens::expires_at
                .lt(cutoff)
                .or(refresh_tokens::revoked_at.lt(cutoff)),
        ),
    )
    .execute(conn)
}

/// Deletes sessions that are revoked or past their absolute lifetime before
/// `cutoff` and have no refresh token left.
pub fn purge_sessions(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    let sessions_with_tokens = refresh_tokens::table.select(refresh_tokens::session_id);
    diesel::delete(
        sessions::table
            .filter(
                sessions::expires_at
                    .lt(cutoff)
                    .or(sessions::revoked_at.lt(cutoff)),
            )
            .filter(sessions::id.ne_all(sessions_with_tokens)),
    )
    .execute(conn)
}
