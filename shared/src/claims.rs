//! Claims carried by an access token, as issued by the auth server.

use serde::{Deserialize, Serialize};

/// The `typ` header value of every access token (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The scope value that staff users receive and admin-only routes require.
pub const ADMIN_SCOPE: &str = "admin";

/// The `aud` claim, which RFC 7519 allows as one string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// Reports whether `audience` is one of the values of this claim.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(value) => value == audience,
            Audience::Many(values) => values.iter().any(|value| value == audience),
        }
    }
}

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessClaims {
    /// Issuer: the auth server's base URL.
    pub iss: String,
    /// Subject: the user's integer id, as a string.
    pub sub: String,
    /// Audience: the APIs this token is meant for.
    pub aud: Audience,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: i64,
    /// Issue time, in seconds since the Unix epoch.
    pub iat: i64,
    /// Not-before time, in seconds since the Unix epoch.
    pub nbf: i64,
    /// Unique token id.
    pub jti: String,
    /// Space-separated permissions granted to the subject.
    pub scope: String,
    /// The user's email address at the time of issue.
    pub email: String,
    /// Session id: the login (refresh token family) this token was issued in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl AccessClaims {
    /// Iterates over the space-separated values of the `scope` claim.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }

    /// Reports whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|granted| granted == scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims_with_scope(scope: &str) -> AccessClaims {
        AccessClaims {
            iss: "http://127.0.0.1:8080".into(),
            sub: "1".into(),
            aud: Audience::One("api".into()),
            exp: 2,
            iat: 1,
            nbf: 1,
            jti: "j".into(),
            scope: scope.into(),
            email: "a@example.com".into(),
            sid: None,
        }
    }

    #[test]
    fn has_scope_matches_whole_values_only() {
        let claims = claims_with_scope("reports:read admin");

        assert!(claims.has_scope("admin"));
        assert!(claims.has_scope("reports:read"));
        assert!(!claims.has_scope("reports"));
        assert!(!claims.has_scope(""));
    }

    #[test]
    fn audience_accepts_string_or_array() {
        let one: Audience = serde_json::from_str(r#""api""#).unwrap_or(Audience::Many(vec![]));
        let many: Audience =
            serde_json::from_str(r#"["web","api"]"#).unwrap_or(Audience::Many(vec![]));

        assert!(one.contains("api"));
        assert!(many.contains("api"));
        assert!(!many.contains("other"));
    }
}
