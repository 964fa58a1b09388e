//! Scope guards: extractors that admit a request only if its token grants a
//! named permission.
//!
//! A route states its permission in its signature with a marker type:
//!
//! ```
//! use auth_shared::scope::{RequireScope, RequiredScope};
//!
//! struct ReportsRead;
//! impl RequiredScope for ReportsRead {
//!     const SCOPE: &'static str = "reports:read";
//! }
//!
//! async fn reports(user: RequireScope<ReportsRead>) -> String {
//!     format!("reports for user {}", user.subject())
//! }
//! ```
//!
//! Handlers that decide at run time call
//! [`AuthenticatedUser::require_scope`] instead.

use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::claims::ADMIN_SCOPE;
use crate::extractor::{AuthError, AuthenticatedUser, authenticate_request};

/// A marker type naming the scope a [`RequireScope`] guard demands.
pub trait RequiredScope: 'static {
    /// The scope value, as it appears in the `scope` claim.
    const SCOPE: &'static str;
}

/// Marker for [`ADMIN_SCOPE`], which staff users receive.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl RequiredScope for Admin {
    const SCOPE: &'static str = ADMIN_SCOPE;
}

/// An authenticated user whose token grants `S::SCOPE`.
///
/// Rejects a request without a valid token like [`AuthenticatedUser`] does
/// (401), and one whose token lacks the scope with 403
/// `insufficient_scope`. Dereferences to the [`AuthenticatedUser`].
#[derive(Debug, Clone)]
pub struct RequireScope<S: RequiredScope> {
    user: AuthenticatedUser,
    scope: PhantomData<S>,
}

/// An authenticated user whose token grants [`ADMIN_SCOPE`].
pub type AdminUser = RequireScope<Admin>;

impl<S: RequiredScope> RequireScope<S> {
    /// Returns the authenticated user, consuming the guard.
    pub fn into_inner(self) -> AuthenticatedUser {
        self.user
    }
}

impl<S: RequiredScope> Deref for RequireScope<S> {
    type Target = AuthenticatedUser;

    fn deref(&self) -> &AuthenticatedUser {
        &self.user
    }
}

impl<S: RequiredScope> FromRequest for RequireScope<S> {
    type Error = AuthError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let user = authenticate_request(&request).await?;
            user.require_scope(S::SCOPE)?;
            Ok(RequireScope {
                user,
                scope: PhantomData,
            })
        })
    }
}
