//! OAuth 2.0 token revocation (RFC 7009).

use actix_web::{HttpRequest, HttpResponse, http::header, web};

use crate::error::ApiError;
use crate::service::sessions;
use crate::state::AppState;
use crate::tokens::refresh::RefreshToken;

/// The form fields of a revocation request.
#[derive(Debug)]
struct RevocationRequest {
    token: RefreshToken,
    token_type_hint: Option<String>,
}

fn require_form_content_type(request: &HttpRequest) -> Result<(), ApiError> {
    let essence = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());

    if essence.as_deref() == Some("application/x-www-form-urlencoded") {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "the request body must be form-encoded (Content-Type: application/x-www-form-urlencoded)"
                .into(),
        ))
    }
}

/// Parses the form. A repeated parameter is invalid (RFC 6749, section 3.1);
/// unknown parameters are ignored, as RFC 6749 requires.
fn parse_form(body: &[u8]) -> Result<RevocationRequest, ApiError> {
    let mut token = None;
    let mut token_type_hint = None;
    for (name, value) in url::form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "token" => &mut token,
            "token_type_hint" => &mut token_type_hint,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(ApiError::BadRequest(format!(
                "the parameter {name} must not be repeated"
            )));
        }
    }

    let token = token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::BadRequest("the token parameter is missing".into()))?;
    Ok(RevocationRequest {
        token: RefreshToken::presented(&token),
        token_type_hint,
    })
}

/// `POST /oauth/revoke`: revokes the session of a refresh token.
///
/// Every well-formed request gets 200 with an empty body. A refresh token of
/// any state has its whole session revoked. An unknown or invalid token gets
/// 200 as RFC 7009 requires. An access token gets 200 without effect, because
/// access tokens are self-contained JWTs that stay valid until their `exp`,
/// and RFC 7009 allows that in place of `unsupported_token_type`. The hint is
/// not needed, because every token is looked up as a refresh token.
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    operation_id = "revoke_token",
    request_body(content = crate::openapi::RevocationForm, content_type = "application/x-www-form-urlencoded"),
    tag = "oauth",
    responses(
        (status = 200, description = "The request is well-formed, and the session of a known refresh token is revoked", headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "The body is not form-encoded, or `token` is missing or repeated", body = crate::error::ErrorBody),
        (status = 413, description = "The body is larger than 16 KiB", body = crate::error::ErrorBody),
        (status = 503, description = "The database is unreachable", body = crate::error::ErrorBody),
    )
)]
pub async fn revoke(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_form_content_type(&request)?;
    let body = crate::json::read_body(&request, &mut payload.into_inner()).await?;
    let form = parse_form(&body)?;

    let now = state.clock.now_naive();
    let token = form.token;
    let revoked = state
        .db
        .run(move |conn| {
            Ok::<_, ApiError>(sessions::revoke_by_token(
                conn,
                &token,
                "revoked by client",
                now,
            )?)
        })
        .await?;

    match revoked {
        Some((session_id, user_id)) => tracing::info!(
            event = "session_revoked",
            user_id,
            session_id = %session_id,
            reason = "revoked by client",
            "session revoked"
        ),
        None => tracing::info!(
            hint = match form.token_type_hint.as_deref() {
                None => "none",
                Some(hint @ ("access_token" | "refresh_token")) => hint,
                Some(_) => "unknown",
            },
            "revocation of a token that is not a known refresh token; nothing to do"
        ),
    }

    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
