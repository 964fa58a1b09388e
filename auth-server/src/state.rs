//! What every handler receives as app data, and the clock it reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::config::Settings;
use crate::db::Database;
use crate::keys::KeyRingHandle;
use crate::metrics::Metrics;
use crate::password::PasswordHasher;
use crate::rate_limit::RateLimits;
use crate::service::sessions::RefreshPolicy;

/// The current time, shifted by an offset that tests can move forward to
/// reach expiry without sleeping. Production code never changes the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    /// The current UTC time.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset_secs.load(Ordering::Relaxed))
    }

    /// The current UTC time as stored in the database.
    pub fn now_naive(&self) -> NaiveDateTime {
        self.now().naive_utc()
    }

    /// Moves this clock and every clone of it forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.offset_secs.fetch_add(seconds, Ordering::Relaxed);
    }
}

/// Shared state of the auth server.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Database,
    pub keys: Arc<KeyRingHandle>,
    pub hasher: PasswordHasher,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// Verifies access tokens presented to the auth server's own routes.
    pub verifier: Arc<auth_shared::Verifier>,
    pub rate_limits: Arc<RateLimits>,
}

impl AppState {
    /// The refresh token rules from the settings.
    pub fn refresh_policy(&self) -> RefreshPolicy {
        RefreshPolicy {
            idle_ttl: self.settings.refresh_token_ttl,
            family_ttl: self.settings.refresh_family_ttl,
            reuse_grace: self.settings.refresh_reuse_grace,
        }
    }
}
