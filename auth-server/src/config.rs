//! Settings of the auth server, read from `AUTH_*` environment variables and
//! validated before anything starts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// A setting that is missing a usable value, with the variable to fix.
#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

fn invalid(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

pub use auth_shared::telemetry::LogFormat;

/// Every setting of the auth server. Each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `AUTH_BIND`, default `127.0.0.1:8080`: the listen address.
    pub bind: String,
    /// `AUTH_DATA_DIR`, default `./data`: the SQLite file and generated keys.
    pub data_dir: PathBuf,
    /// `AUTH_DATABASE_URL`, default `<AUTH_DATA_DIR>/auth.db`: `postgres://…`
    /// or a SQLite file path.
    pub database_url: String,
    /// `AUTH_DATABASE_MAX_CONNECTIONS`, default 10: the pool size.
    pub database_max_connections: u32,
    /// `AUTH_DATABASE_CONNECT_TIMEOUT_SECS`, default 5: how long a request
    /// waits for a pooled connection before it fails with 503 while the
    /// database is unreachable.
    pub database_connect_timeout: Duration,
    /// `AUTH_DATABASE_QUERY_TIMEOUT_SECS`, default 10: how long a request waits
    /// for its database work before it fails with 503; on PostgreSQL also the
    /// `statement_timeout` of every connection.
    pub database_query_timeout: Duration,
    /// `AUTH_DATABASE_STARTUP_WAIT_SECS`, default 30: how long the server
    /// waits at start for a database that is not reachable yet, retrying
    /// with backoff, before it exits with an error. 0 exits at once.
    pub database_startup_wait: Duration,
    /// `AUTH_ISSUER`, default `http://` and `AUTH_BIND` (an unspecified host
    /// becomes `127.0.0.1`): the `iss` of every token and the base URL of the
    /// discovery metadata, without a trailing slash.
    pub issuer: String,
    /// `AUTH_AUDIENCE`, default `api`: the `aud` of access tokens.
    pub audience: String,
    /// `AUTH_SIGNING_KEY_FILE`, default unset: a PEM RSA private key to sign
    /// with. Unset, a key is generated on first start and kept in the data dir.
    pub signing_key_file: Option<PathBuf>,
    /// `AUTH_ACCESS_TOKEN_TTL_SECS`, default 900: access token lifetime.
    pub access_token_ttl: Duration,
    /// `AUTH_REFRESH_TOKEN_TTL_SECS`, default 1209600 (14 days): how long a
    /// refresh token stays valid unused; each rotation starts a new period.
    pub refresh_token_ttl: Duration,
    /// `AUTH_REFRESH_FAMILY_TTL_SECS`, default 7776000 (90 days): the absolute
    /// lifetime of a session, which rotation cannot extend.
    pub refresh_family_ttl: Duration,
    /// `AUTH_REFRESH_REUSE_GRACE_SECS`, default 5: how long a rotated refresh
    /// token may be presented again without revoking its session; 0 turns
    /// the window off, so any second use revokes the session.
    pub refresh_reuse_grace: Duration,
    /// `AUTH_BCRYPT_COST`, default 12: bcrypt cost for new password hashes.
    pub bcrypt_cost: u32,
    /// `AUTH_ALLOWED_ORIGINS`, default empty: comma-separated origins that may
    /// use cookie mode and CORS, such as `https://app.example.com`.
    pub allowed_origins: Vec<String>,
    /// `AUTH_KEY_RELOAD_SECS`, default 10: how often the key store is re-read,
    /// so a rotation reaches every running instance.
    pub key_reload_interval: Duration,
    /// `AUTH_PURGE_INTERVAL_SECS`, default 3600: how often expired and
    /// revoked refresh tokens and sessions are deleted from the database.
    pub purge_interval: Duration,
    /// `AUTH_RATE_LIMIT_LOGIN_PER_IP`, default 30: login attempts per minute
    /// from one client IP; 0 switches the limit off.
    pub rate_limit_login_per_ip: u32,
    /// `AUTH_RATE_LIMIT_LOGIN_PER_ACCOUNT`, default 10: login attempts per
    /// minute for one account from one client IP; 0 switches it off.
    pub rate_limit_login_per_account: u32,
    /// `AUTH_RATE_LIMIT_REGISTER_PER_IP`, default 10: registrations per minute
    /// from one client IP; 0 switches it off.
    pub rate_limit_register_per_ip: u32,
    /// `AUTH_RATE_LIMIT_REFRESH_PER_IP`, default 600: refreshes per minute from
    /// one client IP; 0 switches it off.
    pub rate_limit_refresh_per_ip: u32,
    /// `AUTH_TRUST_FORWARDED_FOR`, default false: take the client IP from
    /// `Forwarded` / `X-Forwarded-For`. Set it only behind a proxy that
    /// overwrites those headers, or clients can pick their own IP.
    pub trust_forwarded_for: bool,
    /// `AUTH_LOG_FORMAT`, default `text`: `text` or `json`.
    pub log_format: LogFormat,
}

impl Settings {
    /// Reads the settings from the process environment, and from the file
    /// named by `AUTH_CONFIG_FILE` when it is set. The file contains
    /// `AUTH_NAME=value` lines (dotenv syntax); a variable set in the
    /// environment wins over the file, and a name the server does not know
    /// is an error, so a typo cannot go unnoticed.
    pub fn from_env() -> Result<Settings, ConfigError> {
        let file = match std::env::var("AUTH_CONFIG_FILE")
            .ok()
            .filter(|path| !path.trim().is_empty())
        {
            Some(path) => read_config_file(&path)?,
            None => HashMap::new(),
        };

        let requested = std::cell::RefCell::new(std::collections::HashSet::new());
        let settings = Settings::from_lookup(|name| {
            requested.borrow_mut().insert(name.to_owned());
            std::env::var(name).ok().or_else(|| file.get(name).cloned())
        })?;

        let requested = requested.into_inner();
        if let Some(unknown) = file.keys().find(|name| !requested.contains(name.as_str())) {
            return Err(invalid(
                "AUTH_CONFIG_FILE",
                format!("unknown setting {unknown}; see the README for the list"),
            ));
        }
        Ok(settings)
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

        let data_dir = PathBuf::from(get("AUTH_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = match get("AUTH_DATABASE_URL") {
            Some(text) => parse_database_url(text)?,
            None => data_dir.join("auth.db").to_string_lossy().into_owned(),
        };

        let bind = get("AUTH_BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        let issuer = parse_issuer(get("AUTH_ISSUER"), &bind)?;
        let settings = Settings {
            bind,
            database_url,
            database_max_connections: parse_number(&get, "AUTH_DATABASE_MAX_CONNECTIONS", 10)?,
            database_connect_timeout: parse_seconds(&get, "AUTH_DATABASE_CONNECT_TIMEOUT_SECS", 5)?,
            database_query_timeout: parse_seconds(&get, "AUTH_DATABASE_QUERY_TIMEOUT_SECS", 10)?,
            database_startup_wait: parse_wait(&get, "AUTH_DATABASE_STARTUP_WAIT_SECS", 30)?,
            issuer,
            audience: get("AUTH_AUDIENCE").unwrap_or_else(|| "api".into()),
            signing_key_file: get("AUTH_SIGNING_KEY_FILE").map(PathBuf::from),
            access_token_ttl: parse_seconds(&get, "AUTH_ACCESS_TOKEN_TTL_SECS", 900)?,
            refresh_token_ttl: parse_seconds(&get, "AUTH_REFRESH_TOKEN_TTL_SECS", 14 * 24 * 3600)?,
            refresh_family_ttl: parse_seconds(
                &get,
                "AUTH_REFRESH_FAMILY_TTL_SECS",
                90 * 24 * 3600,
            )?,
            refresh_reuse_grace: parse_grace(&get)?,
            bcrypt_cost: parse_bcrypt_cost(&get)?,
            allowed_origins: parse_origins(get("AUTH_ALLOWED_ORIGINS"))?,
            key_reload_interval: parse_seconds(&get, "AUTH_KEY_RELOAD_SECS", 10)?,
            purge_interval: parse_seconds(&get, "AUTH_PURGE_INTERVAL_SECS", 3600)?,
            rate_limit_login_per_ip: parse_number(&get, "AUTH_RATE_LIMIT_LOGIN_PER_IP", 30)?,
            rate_limit_login_per_account: parse_number(
                &get,
                "AUTH_RATE_LIMIT_LOGIN_PER_ACCOUNT",
                10,
            )?,
            rate_limit_register_per_ip: parse_number(&get, "AUTH_RATE_LIMIT_REGISTER_PER_IP", 10)?,
            rate_limit_refresh_per_ip: parse_number(&get, "AUTH_RATE_LIMIT_REFRESH_PER_IP", 600)?,
            trust_forwarded_for: parse_bool(&get, "AUTH_TRUST_FORWARDED_FOR")?,
            log_format: parse_log_format(get("AUTH_LOG_FORMAT"))?,
            data_dir,
        };

        settings.check_lifetimes()?;
        Ok(settings)
    }

    fn check_lifetimes(&self) -> Result<(), ConfigError> {
        if self.refresh_token_ttl > self.refresh_family_ttl {
            return Err(invalid(
                "AUTH_REFRESH_TOKEN_TTL_SECS",
                "must not exceed AUTH_REFRESH_FAMILY_TTL_SECS",
            ));
        }
        if self.database_max_connections == 0 {
            return Err(invalid(
                "AUTH_DATABASE_MAX_CONNECTIONS",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// Reports whether refresh cookies may omit `Secure`: only when the issuer
    /// is plain HTTP on a loopback host, as in local development.
    pub fn is_local_http(&self) -> bool {
        let Ok(url) = url::Url::parse(&self.issuer) else {
            return false;
        };
        url.scheme() == "http"
            && matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
    }

    /// The database URL with any password replaced, for logs.
    pub fn redacted_database_url(&self) -> String {
        let Ok(mut url) = url::Url::parse(&self.database_url) else {
            return self.database_url.clone();
        };
        if url.password().is_some() {
            let _ = url.set_password(Some("REDACTED"));
        }

        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if name.eq_ignore_ascii_case("password") {
                    "REDACTED".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        if !query.is_empty() {
            url.query_pairs_mut().clear().extend_pairs(query);
        }
        url.to_string()
    }
}

fn read_config_file(path: &str) -> Result<HashMap<String, String>, ConfigError> {
    let entries = dotenvy::from_path_iter(path)
        .map_err(|error| invalid("AUTH_CONFIG_FILE", format!("cannot read {path}: {error}")))?;

    let mut values = HashMap::new();
    for entry in entries {
        let (name, value) =
            entry.map_err(|error| invalid("AUTH_CONFIG_FILE", format!("{path}: {error}")))?;
        values.insert(name, value);
    }
    Ok(values)
}

fn parse_number<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(variable) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| invalid(variable, format!("expected a whole number, found {text:?}"))),
    }
}

fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<bool, ConfigError> {
    match get(variable).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(other) => Err(invalid(
            variable,
            format!("expected true or false, found {other:?}"),
        )),
    }
}

fn parse_seconds(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    let seconds: u64 = parse_number(get, variable, default)?;
    if seconds == 0 {
        return Err(invalid(variable, "a lifetime must be at least 1 second"));
    }
    if seconds > 10 * 365 * 24 * 3600 {
        return Err(invalid(variable, "a lifetime must be at most 10 years"));
    }
    Ok(Duration::from_secs(seconds))
}

/// Checks `AUTH_DATABASE_URL`: a `postgres://` or `postgresql://` URL, with
/// the scheme in any case, or a SQLite file path. A libpq `key=value` string
/// or another scheme would otherwise be taken for a file name.
fn parse_database_url(text: String) -> Result<String, ConfigError> {
    let lower = text.to_ascii_lowercase();
    for scheme in ["postgres://", "postgresql://"] {
        if lower.starts_with(scheme) {
            return Ok(format!("{scheme}{}", &text[scheme.len()..]));
        }
    }

    if lower.contains("://") && !lower.starts_with("sqlite://") {
        return Err(invalid(
            "AUTH_DATABASE_URL",
            "expected a postgres:// URL or a SQLite file path; the scheme is not supported",
        ));
    }
    if text.contains('=') {
        return Err(invalid(
            "AUTH_DATABASE_URL",
            "expected a postgres:// URL or a SQLite file path; key=value connection strings are not supported",
        ));
    }
    Ok(text)
}

/// Parses a wait in seconds that may be zero, capped at one hour.
fn parse_wait(
    get: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    let seconds: u64 = parse_number(get, variable, default)?;
    if seconds > 3600 {
        return Err(invalid(variable, "must be at most 3600 seconds"));
    }
    Ok(Duration::from_secs(seconds))
}

fn parse_grace(get: &impl Fn(&str) -> Option<String>) -> Result<Duration, ConfigError> {
    let seconds: u64 = parse_number(get, "AUTH_REFRESH_REUSE_GRACE_SECS", 5)?;
    if seconds > 300 {
        return Err(invalid(
            "AUTH_REFRESH_REUSE_GRACE_SECS",
            "must be at most 300 seconds; a long window lets a stolen token be replayed",
        ));
    }
    Ok(Duration::from_secs(seconds))
}

fn parse_bcrypt_cost(get: &impl Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    let cost: u32 = parse_number(get, "AUTH_BCRYPT_COST", bcrypt::DEFAULT_COST)?;
    if !(4..=31).contains(&cost) {
        return Err(invalid(
            "AUTH_BCRYPT_COST",
            format!("must be between 4 and 31, found {cost}"),
        ));
    }
    Ok(cost)
}

/// Returns the default issuer for a listen address: `http://` and the
/// address, with an unspecified host (`0.0.0.0`, `[::]`) as `127.0.0.1`.
fn issuer_for_bind(bind: &str) -> String {
    let address = bind
        .strip_prefix("0.0.0.0:")
        .or_else(|| bind.strip_prefix("[::]:"))
        .map_or_else(|| bind.to_owned(), |port| format!("127.0.0.1:{port}"));
    format!("http://{address}")
}

fn parse_issuer(value: Option<String>, bind: &str) -> Result<String, ConfigError> {
    let text = value.unwrap_or_else(|| issuer_for_bind(bind));
    let url = url::Url::parse(&text).map_err(|_| {
        invalid(
            "AUTH_ISSUER",
            format!("expected an absolute http(s) URL, found {text:?}"),
        )
    })?;

    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(invalid(
            "AUTH_ISSUER",
            format!("expected an http(s) URL without query or fragment, found {text:?}"),
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

fn parse_origins(value: Option<String>) -> Result<Vec<String>, ConfigError> {
    let Some(text) = value else {
        return Ok(Vec::new());
    };

    text.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let url = url::Url::parse(origin).map_err(|_| {
                invalid(
                    "AUTH_ALLOWED_ORIGINS",
                    format!("expected origins like https://app.example.com, found {origin:?}"),
                )
            })?;
            Ok(url.origin().ascii_serialization())
        })
        .collect()
}

fn parse_log_format(value: Option<String>) -> Result<LogFormat, ConfigError> {
    value.map_or(Ok(LogFormat::Text), |text| {
        text.parse()
            .map_err(|message| invalid("AUTH_LOG_FORMAT", message))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_map(&map)
    }

    #[test]
    fn defaults_match_documented_values() {
        let settings = settings_with(&[]).map_err(|e| e.to_string());
        let Ok(settings) = settings else {
            panic!("defaults must be valid: {settings:?}");
        };

        assert_eq!(settings.bind, "127.0.0.1:8080");
        assert_eq!(settings.issuer, "http://127.0.0.1:8080");
        assert_eq!(settings.audience, "api");
        assert_eq!(settings.access_token_ttl, Duration::from_secs(900));
        assert_eq!(settings.refresh_token_ttl, Duration::from_secs(1_209_600));
        assert_eq!(settings.bcrypt_cost, 12);
        assert_eq!(settings.database_startup_wait, Duration::from_secs(30));
        assert!(settings.database_url.ends_with("auth.db"));
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let cases = [
            ("AUTH_ISSUER", "not a url", "AUTH_ISSUER"),
            ("AUTH_ISSUER", "ftp://example.com", "AUTH_ISSUER"),
            (
                "AUTH_ACCESS_TOKEN_TTL_SECS",
                "0",
                "AUTH_ACCESS_TOKEN_TTL_SECS",
            ),
            (
                "AUTH_ACCESS_TOKEN_TTL_SECS",
                "ten",
                "AUTH_ACCESS_TOKEN_TTL_SECS",
            ),
            ("AUTH_BCRYPT_COST", "3", "AUTH_BCRYPT_COST"),
            (
                "AUTH_REFRESH_TOKEN_TTL_SECS",
                "999999999",
                "AUTH_REFRESH_TOKEN_TTL_SECS",
            ),
            ("AUTH_LOG_FORMAT", "xml", "AUTH_LOG_FORMAT"),
            (
                "AUTH_DATABASE_STARTUP_WAIT_SECS",
                "3601",
                "AUTH_DATABASE_STARTUP_WAIT_SECS",
            ),
        ];

        for (variable, value, expected) in cases {
            let error = settings_with(&[(variable, value)]).err();
            assert_eq!(
                error.map(|e| e.variable),
                Some(expected),
                "{variable}={value}"
            );
        }
    }

    #[test]
    fn issuer_defaults_to_bind_address() {
        let cases = [
            ("127.0.0.1:18098", "http://127.0.0.1:18098"),
            ("0.0.0.0:9000", "http://127.0.0.1:9000"),
            ("[::]:9000", "http://127.0.0.1:9000"),
            ("localhost:8080", "http://localhost:8080"),
        ];

        for (bind, expected) in cases {
            let settings = settings_with(&[("AUTH_BIND", bind)]);
            assert_eq!(
                settings.map(|s| s.issuer).ok().as_deref(),
                Some(expected),
                "AUTH_BIND={bind}"
            );
        }
    }

    #[test]
    fn database_url_rejects_other_forms() {
        let rejected = [
            "host=127.0.0.1 user=postgres password=secret dbname=auth",
            "mysql://root@127.0.0.1/auth",
        ];

        for url in rejected {
            let error = settings_with(&[("AUTH_DATABASE_URL", url)]).err();
            assert_eq!(
                error.map(|e| e.variable),
                Some("AUTH_DATABASE_URL"),
                "{url}"
            );
        }
    }

    #[test]
    fn database_url_scheme_is_case_insensitive() {
        let settings = settings_with(&[("AUTH_DATABASE_URL", "POSTGRES://u@127.0.0.1/auth")]);

        assert_eq!(
            settings.map(|s| s.database_url).ok().as_deref(),
            Some("postgres://u@127.0.0.1/auth")
        );
    }

    #[test]
    fn redacted_database_url_hides_passwords() {
        let url =
            "postgres://u:userinfo-secret@127.0.0.1/auth?password=query-secret&sslmode=require";
        let settings = settings_with(&[("AUTH_DATABASE_URL", url)]);
        let Ok(settings) = settings else {
            panic!("the URL is valid");
        };

        let redacted = settings.redacted_database_url();

        assert!(!redacted.contains("userinfo-secret"), "{redacted}");
        assert!(!redacted.contains("query-secret"), "{redacted}");
        assert!(redacted.contains("sslmode=require"), "{redacted}");
    }

    #[test]
    fn issuer_loses_trailing_slash() {
        let settings = settings_with(&[("AUTH_ISSUER", "https://auth.example.com/")]);

        assert_eq!(
            settings.map(|s| s.issuer).ok().as_deref(),
            Some("https://auth.example.com")
        );
    }
}
