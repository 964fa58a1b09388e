//! OpenAPI pieces for APIs that accept this product's access tokens
//! (feature `openapi`).

use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// A `Modify` that adds the `bearer` security scheme (HTTP bearer, JWT) that
/// protected operations name in their `security` requirement.
///
/// Use it as a constant in the document's `modifiers(&…)`.
#[derive(Debug, Clone, Copy)]
pub struct BearerSecurity {
    /// Source of the token for clients, shown in the API documentation.
    pub description: &'static str,
}

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(self.description))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}
