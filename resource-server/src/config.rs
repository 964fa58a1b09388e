//! Settings of the resource server, read from `RESOURCE_*` environment
//! variables and validated before anything starts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

/// A setting without a usable value, with the variable to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// Description of the problem with its value.
    pub message: String,
}

fn invalid(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

pub use auth_shared::telemetry::LogFormat;

/// Largest accepted `RESOURCE_LEEWAY_SECS`. More skew than this points at a
/// broken clock, and every second of leeway extends the life of a token.
pub const MAX_LEEWAY_SECS: u64 = 300;

/// Largest accepted `RESOURCE_JWKS_MAX_TTL_SECS`: one day. Keys removed from
/// the JWKS stay trusted up to this long.
pub const MAX_JWKS_TTL_SECS: u64 = 86_400;

/// Every setting of the resource server. Each field names its variable and
/// default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `RESOURCE_BIND`, default `127.0.0.1:8081`: the listen address. Port 0
    /// picks a free port.
    pub bind: SocketAddr,
    /// `RESOURCE_ISSUER`, default `http://127.0.0.1:8080`: the only `iss`
    /// accepted. Its discovery document gives the JWKS location.
    pub issuer: String,
    /// `RESOURCE_AUDIENCE`, default `api`: the audience tokens must name.
    pub audience: String,
    /// `RESOURCE_JWKS_URL`, default unset: the JWKS location. Unset, it is
    /// read from `<issuer>/.well-known/openid-configuration`.
    pub jwks_url: Option<String>,
    /// `RESOURCE_LEEWAY_SECS`, default 30, at most [`MAX_LEEWAY_SECS`]: clock
    /// skew allowed on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// `RESOURCE_JWKS_MIN_TTL_SECS`, default 30, at least 1: minimum JWKS
    /// cache lifetime, regardless of `Cache-Control`.
    pub jwks_min_ttl: Duration,
    /// `RESOURCE_JWKS_MAX_TTL_SECS`, default 3600, at most
    /// [`MAX_JWKS_TTL_SECS`]: maximum JWKS cache lifetime.
    pub jwks_max_ttl: Duration,
    /// `RESOURCE_JWKS_REFETCH_COOLDOWN_SECS`, default 10, at least 1: minimum
    /// time between JWKS fetches caused by tokens with an unknown `kid`.
    pub jwks_refetch_cooldown: Duration,
    /// `RESOURCE_LOG_FORMAT`, default `text`: `text` or `json`.
    pub log_format: LogFormat,
}

impl Default for Settings {
    /// Returns the documented defaults.
    fn default() -> Self {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8081)),
            issuer: "http://127.0.0.1:8080".into(),
            audience: "api".into(),
            jwks_url: None,
            leeway: Duration::from_secs(30),
            jwks_min_ttl: Duration::from_secs(30),
            jwks_max_ttl: Duration::from_secs(3600),
            jwks_refetch_cooldown: Duration::from_secs(10),
            log_format: LogFormat::Text,
        }
    }
}

impl Settings {
    /// Creates settings that trust `issuer` for `audience`, listen on a free
    /// port of 127.0.0.1 and keep every other default. Meant for tests.
    pub fn for_issuer(issuer: impl Into<String>, audience: impl Into<String>) -> Settings {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            issuer: issuer.into(),
            audience: audience.into(),
            ..Settings::default()
        }
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings from a map of variables, as tests and tools do.
    pub fn from_map(variables: &HashMap<String, String>) -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| variables.get(name).cloned())
    }

    /// Reads and validates the settings through `lookup`, which returns the
    /// value of a variable or `None` when it is unset. Empty values count as
    /// unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let defaults = Settings::default();

        let settings = Settings {
            bind: match get("RESOURCE_BIND") {
                Some(value) => value.parse().map_err(|_| {
                    invalid(
                        "RESOURCE_BIND",
                        format!("{value:?} is not an IP address and port, such as 127.0.0.1:8081"),
                    )
                })?,
                None => defaults.bind,
            },
            // The auth server drops a trailing slash from its issuer, so the
            // same URL written with one still matches the `iss` of its tokens.
            issuer: get("RESOURCE_ISSUER")
                .map(|issuer| issuer.trim_end_matches('/').to_owned())
                .unwrap_or(defaults.issuer),
            audience: get("RESOURCE_AUDIENCE").unwrap_or(defaults.audience),
            jwks_url: get("RESOURCE_JWKS_URL"),
            leeway: parse_seconds(&get, "RESOURCE_LEEWAY_SECS", defaults.leeway)?,
            jwks_min_ttl: parse_seconds(&get, "RESOURCE_JWKS_MIN_TTL_SECS", defaults.jwks_min_ttl)?,
            jwks_max_ttl: parse_seconds(&get, "RESOURCE_JWKS_MAX_TTL_SECS", defaults.jwks_max_ttl)?,
            jwks_refetch_cooldown: parse_seconds(
                &get,
                "RESOURCE_JWKS_REFETCH_COOLDOWN_SECS",
                defaults.jwks_refetch_cooldown,
            )?,
            log_format: parse_log_format(get("RESOURCE_LOG_FORMAT"))?,
        };

        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that parse but make no sense, naming the variable at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_http_url("RESOURCE_ISSUER", &self.issuer)?;
        if let Some(jwks_url) = &self.jwks_url {
            check_http_url("RESOURCE_JWKS_URL", jwks_url)?;
        }
        if self.audience.trim().is_empty() {
            return Err(invalid("RESOURCE_AUDIENCE", "must not be empty"));
        }
        if self.leeway > Duration::from_secs(MAX_LEEWAY_SECS) {
            return Err(invalid(
                "RESOURCE_LEEWAY_SECS",
                format!("must be at most {MAX_LEEWAY_SECS}"),
            ));
        }
        if self.jwks_min_ttl < Duration::from_secs(1) {
            return Err(invalid("RESOURCE_JWKS_MIN_TTL_SECS", "must be at least 1"));
        }
        if self.jwks_max_ttl > Duration::from_secs(MAX_JWKS_TTL_SECS) {
            return Err(invalid(
                "RESOURCE_JWKS_MAX_TTL_SECS",
                format!("must be at most {MAX_JWKS_TTL_SECS}"),
            ));
        }
        if self.jwks_max_ttl < self.jwks_min_ttl {
            return Err(invalid(
                "RESOURCE_JWKS_MAX_TTL_SECS",
                "must not be less than RESOURCE_JWKS_MIN_TTL_SECS",
            ));
        }
        if self.jwks_refetch_cooldown < Duration::from_secs(1) {
            return Err(invalid(
                "RESOURCE_JWKS_REFETCH_COOLDOWN_SECS",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

fn parse_seconds(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match get(variable) {
        None => Ok(default),
        Some(value) => value.parse::<u64>().map(Duration::from_secs).map_err(|_| {
            invalid(
                variable,
                format!("{value:?} is not a whole number of seconds"),
            )
        }),
    }
}

fn parse_log_format(value: Option<String>) -> Result<LogFormat, ConfigError> {
    value.map_or(Ok(LogFormat::Text), |text| {
        text.parse()
            .map_err(|message| invalid("RESOURCE_LOG_FORMAT", message))
    })
}

fn check_http_url(variable: &'static str, value: &str) -> Result<(), ConfigError> {
    let url = Url::parse(value)
        .map_err(|error| invalid(variable, format!("{value:?} is not a URL: {error}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(invalid(
            variable,
            format!("{value:?} must start with http:// or https://"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn settings_from(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let variables = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Settings::from_map(&variables)
    }

    #[test]
    fn no_variables_give_documented_defaults() {
        let settings = settings_from(&[]).unwrap();

        assert_eq!(settings, Settings::default());
        assert_eq!(settings.bind.to_string(), "127.0.0.1:8081");
        assert_eq!(settings.issuer, "http://127.0.0.1:8080");
        assert_eq!(settings.audience, "api");
        assert_eq!(settings.jwks_url, None);
        assert_eq!(settings.leeway, Duration::from_secs(30));
        assert_eq!(settings.jwks_min_ttl, Duration::from_secs(30));
        assert_eq!(settings.jwks_max_ttl, Duration::from_secs(3600));
        assert_eq!(settings.jwks_refetch_cooldown, Duration::from_secs(10));
    }

    #[test]
    fn every_variable_is_read() {
        let settings = settings_from(&[
            ("RESOURCE_BIND", "0.0.0.0:9000"),
            ("RESOURCE_ISSUER", "https://auth.example.com/"),
            ("RESOURCE_AUDIENCE", "reports"),
            ("RESOURCE_JWKS_URL", "https://auth.example.com/keys"),
            ("RESOURCE_LEEWAY_SECS", "5"),
            ("RESOURCE_JWKS_MIN_TTL_SECS", "60"),
            ("RESOURCE_JWKS_MAX_TTL_SECS", "600"),
            ("RESOURCE_JWKS_REFETCH_COOLDOWN_SECS", "20"),
            ("RESOURCE_LOG_FORMAT", "JSON"),
        ])
        .unwrap();

        assert_eq!(settings.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(settings.issuer, "https://auth.example.com");
        assert_eq!(settings.audience, "reports");
        assert_eq!(
            settings.jwks_url.as_deref(),
            Some("https://auth.example.com/keys")
        );
        assert_eq!(settings.leeway, Duration::from_secs(5));
        assert_eq!(settings.jwks_min_ttl, Duration::from_secs(60));
        assert_eq!(settings.jwks_max_ttl, Duration::from_secs(600));
        assert_eq!(settings.jwks_refetch_cooldown, Duration::from_secs(20));
        assert_eq!(settings.log_format, LogFormat::Json);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let settings =
            settings_from(&[("RESOURCE_JWKS_URL", ""), ("RESOURCE_AUDIENCE", " ")]).unwrap();

        assert_eq!(settings.jwks_url, None);
        assert_eq!(settings.audience, "api");
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let cases = [
            ("RESOURCE_BIND", "localhost"),
            ("RESOURCE_ISSUER", "not a url"),
            ("RESOURCE_ISSUER", "ftp://auth.example.com"),
            ("RESOURCE_JWKS_URL", "/relative/jwks.json"),
            ("RESOURCE_LEEWAY_SECS", "-1"),
            ("RESOURCE_LEEWAY_SECS", "301"),
            ("RESOURCE_JWKS_MIN_TTL_SECS", "0"),
            ("RESOURCE_JWKS_MIN_TTL_SECS", "ten"),
            ("RESOURCE_JWKS_MAX_TTL_SECS", "86401"),
            ("RESOURCE_JWKS_MAX_TTL_SECS", "10"),
            ("RESOURCE_JWKS_REFETCH_COOLDOWN_SECS", "0"),
            ("RESOURCE_LOG_FORMAT", "xml"),
        ];

        for (variable, value) in cases {
            let error = settings_from(&[(variable, value)]).unwrap_err();

            assert_eq!(error.variable, variable, "{variable}={value}");
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("invalid {variable}: "))
            );
        }
    }
}
