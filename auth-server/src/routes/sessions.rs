//! The caller's sessions: one per login, each a refresh token family.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::views::no_store_json;
use crate::bearer::Bearer;
use crate::db::sessions::{self, Session};
use crate::error::ApiError;
use crate::state::AppState;

/// One session as the list shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SessionView {
    id: String,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    user_agent: Option<String>,
    ip_address: Option<String>,
    /// Whether the access token of this request was issued in this session.
    current: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SessionList {
    sessions: Vec<SessionView>,
}

fn view(session: Session, current_id: Option<&str>) -> SessionView {
    SessionView {
        current: current_id == Some(session.id.as_str()),
        id: session.id,
        created_at: session.created_at.and_utc(),
        last_used_at: session.last_used_at.and_utc(),
        expires_at: session.expires_at.and_utc(),
        user_agent: session.user_agent,
        ip_address: session.ip_address,
    }
}

/// `GET /auth/sessions`: the caller's live sessions, most recently used first.
#[utoipa::path(
    get,
    path = "/auth/sessions",
    operation_id = "list_sessions",
    security(("bearer" = [])),
    tag = "sessions",
    responses(
        (status = 200, description = "The caller's live sessions, most recently used first", body = SessionList),
        (status = 401, description = "The bearer token is missing, invalid or expired, or its user is inactive", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn list(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let user_id = bearer.user_id;
    let now = state.clock.now_naive();
    let live = state
        .db
        .run(move |conn| Ok::<_, ApiError>(sessions::live_sessions_of(conn, user_id, now)?))
        .await?;

    let current = bearer.claims.sid.as_deref();
    let sessions = live
        .into_iter()
        .map(|session| view(session, current))
        .collect();
    Ok(no_store_json(SessionList { sessions }))
}

/// `DELETE /auth/sessions/{id}`: revokes one of the caller's sessions. Another
/// user's session id gives 404, exactly like an unknown one.
#[utoipa::path(
    delete,
    path = "/auth/sessions/{id}",
    operation_id = "revoke_session",
    params(("id" = String, Path, description = "Session id, as listed by `GET /auth/sessions`")),
    security(("bearer" = [])),
    tag = "sessions",
    responses(
        (status = 204, description = "The session is revoked"),
        (status = 401, description = "The bearer token is missing, invalid or expired, or its user is inactive", body = crate::error::ErrorBody),
        (status = 404, description = "No such session among the caller's", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn revoke(
    state: web::Data<AppState>,
    bearer: Bearer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = bearer.user_id;
    let session_id = path.into_inner();
    let now = state.clock.now_naive();

    let found = state
        .db
        .run(move |conn| {
            let Some(session) = sessions::find_session_of(conn, user_id, &session_id)? else {
                return Ok::<_, ApiError>(None);
            };
            sessions::revoke_session(conn, &session.id, now, "revoked by user")?;
            Ok(Some(session.id))
        })
        .await?;

    let session_id = found.ok_or(ApiError::NotFound("session"))?;
    tracing::info!(event = "session_revoked", user_id, session_id = %session_id, reason = "revoked by user", "session revoked");
    Ok(HttpResponse::NoContent().finish())
}
