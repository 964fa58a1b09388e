//! Sessions and refresh token rotation.
//!
//! A session is one login: a family of refresh tokens where each token is
//! rotated into the next. The rules:
//!
//! - A token can be used once. The conditional write in
//!   [`sessions::claim_unused_token`] decides which of several concurrent
//!   requests wins it, on any number of auth-server processes.
//! - A used token presented again within the reuse grace window gets a new
//!   token in the same session instead of an error, because two browser tabs
//!   or a client retrying after a lost response send the same token twice.
//! - A used token presented after the grace window is treated as stolen
//!   (RFC 9700, section 4.14.2): the whole session is revoked.
//! - A token expires after the idle lifetime unless rotated; no rotation can
//!   take a session past its absolute lifetime.

use std::time::Duration;

use chrono::NaiveDateTime;

use crate::db::sessions::{self, NewRefreshToken, NewSession};
use crate::db::users::{self, User};
use crate::db::{DbConnection, write_transaction};
use crate::tokens::refresh::{RefreshToken, new_session_id};

/// Lifetimes and the reuse rule of refresh tokens.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    pub idle_ttl: Duration,
    pub family_ttl: Duration,
    pub reuse_grace: Duration,
}

/// Who started a session, as shown in the session list.
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
    pub expires_at: NaiveDateTime,
    pub user: User,
    pub permissions: Vec<String>,
}

/// The result of presenting a refresh token.
#[derive(Debug)]
pub enum RotateOutcome {
    Rotated(IssuedRefresh),
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

/// Rotates a presented refresh token under the rules in the module docs.
pub fn rotate(
    conn: &mut DbConnection,
    presented: &RefreshToken,
    policy: &RefreshPolicy,
    now: NaiveDateTime,
) -> diesel::QueryResult<RotateOutcome> {
    let token_hash = presented.hash();

    write_transaction(conn, |conn| {
        // The claim comes first, so the transaction starts with a write and
        // the row lock (or SQLite's write lock) orders racing requests.
        let claimed = sessions::claim_unused_token(conn, &token_hash, now)? == 1;

        let Some((token, session)) = sessions::find_token_with_session(conn, &token_hash)? else {
            return Ok(RotateOutcome::Rejected("the refresh token is unknown"));
        };
        if session.revoked_at.is_some() || token.revoked_at.is_some() {
            return Ok(RotateOutcome::Rejected(
                "the refresh token has been revoked",
            ));
        }
        if session.expires_at <= now {
            return Ok(RotateOutcome::Rejected(
                "the session has reached its maximum lifetime",
            ));
        }

        if !claimed {
            if token.expires_at <= now {
                return Ok(RotateOutcome::Rejected("the refresh token has expired"));
            }
            let used_at = token.used_at.unwrap_or(now);
            if now - used_at > to_chrono(policy.reuse_grace) {
                sessions::revoke_session(conn, &session.id, now, "refresh token reused")?;
                return Ok(RotateOutcome::ReuseDetected {
                    session_id: session.id,
                    user_id: session.user_id,
                });
            }
        }

        let user = match users::find_by_id(conn, token.user_id)? {
            Some(user) if user.is_active => user,
            _ => {
                sessions::revoke_session(conn, &session.id, now, "user inactive")?;
                return Ok(RotateOutcome::Rejected("the user is inactive"));
            }
        };

        let refresh_token = RefreshToken::generate();
        let expires_at = (now + to_chrono(policy.idle_ttl)).min(session.expires_at);
        let successor_id =
            insert_token(conn, &refresh_token, &session.id, user.id, now, expires_at)?;
        if claimed {
            sessions::set_replaced_by(conn, token.id, successor_id)?;
        }
        sessions::touch_session(conn, &session.id, now)?;

        let permissions = users::permissions_of(conn, user.id)?;
        Ok(RotateOutcome::Rotated(IssuedRefresh {
            session_id: session.id,
            refresh_token,
            expires_at,
            user,
            permissions,
        }))
    })
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
        let Some((_, session)) = sessions::find_token_with_session(conn, &presented.hash())? else {
            return Ok(None);
        };
        sessions::revoke_session(conn, &session.id, now, reason)?;
        Ok(Some((session.id, session.user_id)))
    })
}
