//! Sessions and refresh token rotation.
//!
//! A session is one login: a family of refresh tokens where each token is
//! rotated into the next. The rules:
//!
//! - A token can be used once. The conditional write in
//!   [`sessions::claim_unused_token`] decides which of several concurrent
//!   requests wins it, on any number of auth-server processes, and records
//!   the successor in `replaced_by`.
//! - A used token presented again within the reuse grace window gets a new
//!   token of its own in the same session instead of an error. Two browser
//!   tabs, or a client retrying after a lost response, send the same token
//!   twice. The earlier successor stays valid too, so the session
//!   briefly has two live branches, each rotated and checked for reuse on its
//!   own.
//! - A used token presented after the grace window is treated as stolen
//!   (RFC 9700, section 4.14.2): the whole session is revoked, even when the
//!   used token has also expired.
//! - A token expires after the idle lifetime unless rotated; no rotation can
//!   take a session past its absolute lifetime.
//! - Every rotation reads the user: an inactive or deleted user gets no new
//!   token, and the session is revoked.

use std::time::Duration;

use chrono::NaiveDateTime;

use crate::db::sessions::{self, NewRefreshToken, NewSession, RefreshTokenRow, Session};
use crate::db::users::{self, User};
use crate::db::{Database, DbConnection, DbError, write_transaction};
use crate::state::Clock;
use crate::tokens::refresh::{RefreshToken, new_session_id};

/// Lifetimes and the reuse rule of refresh tokens.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// Lifetime of each token from its issue; rotation issues a new one.
    pub idle_ttl: Duration,
    /// Lifetime of a session from its login, which rotation cannot extend.
    pub family_ttl: Duration,
    /// How long after a token's first use a second use still gets a token.
    pub reuse_grace: Duration,
}

/// Client details of a session, as shown in the session list.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
}

/// A refresh token just issued, with what the access token needs.
#[derive(Debug)]
pub struct IssuedRefresh {
    pub session_id: String,
    pub refresh_token: RefreshToken,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub user: User,
    pub permissions: Vec<String>,
}

/// The result of presenting a refresh token.
#[derive(Debug)]
pub enum RotateOutcome {
    Rotated(Box<IssuedRefresh>),
    /// The token is unknown, expired or revoked; the reason is for the client.
    Rejected(&'static str),
    /// A used token came back after the grace window; its session is revoked.
    ReuseDetected {
        session_id: String,
        user_id: i64,
    },
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// Starts a session for `user` and issues its first refresh token.
pub fn start(
    conn: &mut DbConnection,
    user: User,
    policy: &RefreshPolicy,
    client: &ClientInfo,
    now: NaiveDateTime,
) -> diesel::QueryResult<IssuedRefresh> {
    write_transaction(conn, |conn| {
        let session_id = new_session_id();
        let session_expires_at = now + to_chrono(policy.family_ttl);
        sessions::insert_session(
            conn,
            &NewSession {
                id: &session_id,
                user_id: user.id,
                created_at: now,
                expires_at: session_expires_at,
                last_used_at: now,
                user_agent: client.user_agent.as_deref(),
                ip_address: client.ip_address.as_deref(),
            },
        )?;

        let refresh_token = RefreshToken::generate();
        let expires_at = (now + to_chrono(policy.idle_ttl)).min(session_expires_at);
        insert_token(conn, &refresh_token, &session_id, user.id, now, expires_at)?;
        users::set_last_login(conn, user.id, now)?;

        let permissions = users::permissions_of(conn, user.id)?;
        Ok(IssuedRefresh {
            session_id,
            refresh_token,
            issued_at: now,
            expires_at,
            user,
            permissions,
        })
    })
}

fn insert_token(
    conn: &mut DbConnection,
    token: &RefreshToken,
    session_id: &str,
    user_id: i64,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> diesel::QueryResult<i64> {
    let token_hash = token.hash();
    sessions::insert_refresh_token(
        conn,
        &NewRefreshToken {
            token_hash: &token_hash,
            session_id,
            user_id,
            issued_at: now,
            expires_at,
        },
    )
}

/// Reasons for rejecting a presented refresh token, sent to the client.
pub mod rejection {
    pub const UNKNOWN: &str = "the refresh token is unknown";
    pub const REVOKED: &str = "the refresh token has been revoked";
    pub const EXPIRED: &str = "the refresh token has expired";
    pub const SESSION_EXPIRED: &str = "the session has reached its maximum lifetime";
    pub const USER_INACTIVE: &str = "the user is inactive or no longer exists";
}

/// Rotates a presented refresh token under the rules in the module docs.
pub fn rotate(
    conn: &mut DbConnection,
    presented: &RefreshToken,
    policy: &RefreshPolicy,
    now: NaiveDateTime,
) -> diesel::QueryResult<RotateOutcome> {
    let token_hash = presented.hash();

    write_transaction(conn, |conn| {
        let Some(found) = sessions::find_token(conn, &token_hash)? else {
            return Ok(RotateOutcome::Rejected(rejection::UNKNOWN));
        };

        // From here on no other transaction can rotate, revoke or delete
        // anything in this session until this one ends.
        let Some(session) = sessions::lock_family(conn, found.user_id, &found.session_id)? else {
            return Ok(RotateOutcome::Rejected(rejection::UNKNOWN));
        };
        if session.revoked_at.is_some() {
            return Ok(RotateOutcome::Rejected(rejection::REVOKED));
        }
        if session.expires_at <= now {
            return Ok(RotateOutcome::Rejected(rejection::SESSION_EXPIRED));
        }

        // The one conditional write that decides which request rotates the
        // token. It reads the row as last committed, after any wait.
        let claimed = sessions::claim_unused_token(conn, &token_hash, now)?;
        let rotated_from = match claimed {
            Some(token) => Some(token),
            None => {
                let Some(token) = sessions::find_token(conn, &token_hash)? else {
                    return Ok(RotateOutcome::Rejected(rejection::UNKNOWN));
                };
                if let Some(rejected) = check_used_token(conn, &token, &session, policy, now)? {
                    return Ok(rejected);
                }
                None
            }
        };

        let user = match users::find_by_id(conn, session.user_id)? {
            Some(user) if user.is_active => user,
            _ => {
                sessions::revoke_session(conn, &session.id, now, "user inactive")?;
                return Ok(RotateOutcome::Rejected(rejection::USER_INACTIVE));
            }
        };

        let refresh_token = RefreshToken::generate();
        let expires_at = (now + to_chrono(policy.idle_ttl)).min(session.expires_at);
        let successor_id =
            insert_token(conn, &refresh_token, &session.id, user.id, now, expires_at)?;
        if let Some(token) = rotated_from {
            sessions::set_replaced_by(conn, token.id, successor_id)?;
        }
        sessions::touch_session(conn, &session.id, now)?;

        let permissions = users::permissions_of(conn, user.id)?;
        Ok(RotateOutcome::Rotated(Box::new(IssuedRefresh {
            session_id: session.id,
            refresh_token,
            issued_at: now,
            expires_at,
            user,
            permissions,
        })))
    })
}

/// Decides what happens to a token that could not be claimed: `Some` with
/// the outcome to return, or `None` when it is a duplicate inside the grace
/// window that gets a token of its own.
///
/// Reuse is checked before expiry, because a rotated token replayed after it
/// expired still means that someone else may have its successor. The
/// session is then revoked, as long as the row has not been purged.
fn check_used_token(
    conn: &mut DbConnection,
    token: &RefreshTokenRow,
    session: &Session,
    policy: &RefreshPolicy,
    now: NaiveDateTime,
) -> diesel::QueryResult<Option<RotateOutcome>> {
    if token.revoked_at.is_some() {
        return Ok(Some(RotateOutcome::Rejected(rejection::REVOKED)));
    }
    // An unused, unrevoked token that could not be claimed has expired.
    let Some(used_at) = token.used_at else {
        return Ok(Some(RotateOutcome::Rejected(rejection::EXPIRED)));
    };

    // A zero grace turns the window off. Without that check a request that
    // read the clock just before the winning request used the token would
    // see a negative elapsed time and count as inside the window.
    let within_grace =
        !policy.reuse_grace.is_zero() && now - used_at <= to_chrono(policy.reuse_grace);
    if !within_grace {
        sessions::revoke_session(conn, &session.id, now, "refresh token reused")?;
        return Ok(Some(RotateOutcome::ReuseDetected {
            session_id: session.id.clone(),
            user_id: session.user_id,
        }));
    }
    if token.expires_at <= now {
        return Ok(Some(RotateOutcome::Rejected(rejection::EXPIRED)));
    }
    Ok(None)
}

/// Revokes the session of a presented refresh token, whatever the token's
/// state. Returns the session id and user id when the token was known.
pub fn revoke_by_token(
    conn: &mut DbConnection,
    presented: &RefreshToken,
    reason: &str,
    now: NaiveDateTime,
) -> diesel::QueryResult<Option<(String, i64)>> {
    write_transaction(conn, |conn| {
        let Some(token) = sessions::find_token(conn, &presented.hash())? else {
            return Ok(None);
        };
        sessions::revoke_session(conn, &token.session_id, now, reason)?;
        Ok(Some((token.session_id, token.user_id)))
    })
}

/// Deletes refresh tokens and sessions that expired or were revoked before
/// `now`. Returns the number of token rows and session rows deleted.
///
/// Starts no transaction of its own. A rotated token stays until it
/// expires, so reuse detection covers it for its whole lifetime.
pub fn purge(conn: &mut DbConnection, now: NaiveDateTime) -> diesel::QueryResult<(usize, usize)> {
    sessions::purge(conn, now)
}

/// Purges expired and revoked rows every `interval`, starting one interval
/// after the call, until the runtime stops. A failed purge is logged and
/// tried again at the next tick.
pub fn spawn_purge_task(db: Database, clock: Clock, interval: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = clock.now_naive();
            match db
                .run(move |conn| purge(conn, now).map_err(DbError::from))
                .await
            {
                Ok((tokens, sessions)) => {
                    tracing::info!(
                        tokens,
                        sessions,
                        "purged expired and revoked refresh tokens"
                    );
                }
                Err(error) => {
                    tracing::error!(error = %error, "purging refresh tokens failed; retrying at the next interval");
                }
            }
        }
    });
}
