//! Rate limits on password guessing, registration and refresh.
//!
//! Each limit is a token bucket (GCRA, from `governor`) that refills
//! continuously, so a client that exceeds it waits a few seconds rather than
//! being locked out. The per-account login limit is keyed by account and
//! client IP together: an attacker hammering an account from their own
//! addresses slows only themselves, and the owner can still log in from
//! theirs.
//!
//! The buckets live in each auth-server process. With N instances behind a
//! load balancer a client gets up to N times each limit; keep that in mind
//! when choosing the numbers, or pin clients to instances.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::Settings;
use crate::error::ApiError;

/// The IP address of the client: the TCP peer, or the address a trusted
/// proxy put in `Forwarded` / `X-Forwarded-For` when
/// `AUTH_TRUST_FORWARDED_FOR` is set. Unknown addresses map to 0.0.0.0 and
/// so share one bucket.
pub fn client_ip(request: &actix_web::HttpRequest, settings: &Settings) -> IpAddr {
    let unknown = IpAddr::from([0, 0, 0, 0]);
    if settings.trust_forwarded_for {
        let info = request.connection_info();
        return info
            .realip_remote_addr()
            .and_then(|address| {
                address.parse::<IpAddr>().ok().or_else(|| {
                    address
                        .parse::<std::net::SocketAddr>()
                        .ok()
                        .map(|socket| socket.ip())
                })
            })
            .unwrap_or(unknown);
    }
    request
        .peer_addr()
        .map(|address| address.ip())
        .unwrap_or(unknown)
}

/// A keyed limiter, or none when the limit is switched off with 0.
struct Limit<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> Limit<K> {
    fn per_minute(requests: u32) -> Limit<K> {
        Limit {
            limiter: NonZeroU32::new(requests)
                .map(|rate| RateLimiter::keyed(Quota::per_minute(rate))),
        }
    }

    /// Takes one request from the key's bucket, or returns the whole seconds
    /// to wait before the next request would be allowed.
    fn check(&self, key: &K) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Every rate limit of the auth server.
pub struct RateLimits {
    login_per_ip: Limit<IpAddr>,
    login_per_account: Limit<(String, IpAddr)>,
    password_check_per_user: Limit<i64>,
    register_per_ip: Limit<IpAddr>,
    refresh_per_ip: Limit<IpAddr>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl RateLimits {
    /// Builds the limits from the `AUTH_RATE_LIMIT_*` settings.
    pub fn new(settings: &Settings) -> RateLimits {
        RateLimits {
            login_per_ip: Limit::per_minute(settings.rate_limit_login_per_ip),
            login_per_account: Limit::per_minute(settings.rate_limit_login_per_account),
            password_check_per_user: Limit::per_minute(settings.rate_limit_login_per_account),
            register_per_ip: Limit::per_minute(settings.rate_limit_register_per_ip),
            refresh_per_ip: Limit::per_minute(settings.rate_limit_refresh_per_ip),
        }
    }

    /// Checks a login attempt for `email` (normalized) from `ip`.
    pub fn check_login(&self, ip: IpAddr, email: &str) -> Result<(), ApiError> {
        self.login_per_ip
            .check(&ip)
            .map_err(ApiError::RateLimited)?;
        self.login_per_account
            .check(&(email.to_owned(), ip))
            .map_err(ApiError::RateLimited)
    }

    /// Counts an attempt to verify a signed-in user's current password, so a
    /// stolen access token cannot guess it without limit. The quota is the
    /// per-account login quota, counted per user from any address.
    pub fn check_password_attempt(&self, user_id: i64) -> Result<(), ApiError> {
        self.password_check_per_user
            .check(&user_id)
            .map_err(ApiError::RateLimited)
    }

    /// Checks a registration from `ip`.
    pub fn check_register(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.register_per_ip
            .check(&ip)
            .map_err(ApiError::RateLimited)
    }

    /// Checks a refresh from `ip`.
    pub fn check_refresh(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.refresh_per_ip
            .check(&ip)
            .map_err(ApiError::RateLimited)
    }

    /// Drops the buckets of clients that have been idle long enough to be
    /// full again, so memory does not grow with every address ever seen.
    pub fn forget_idle(&self) {
        self.login_per_ip.forget_idle();
        self.password_check_per_user.forget_idle();
        self.login_per_account.forget_idle();
        self.register_per_ip.forget_idle();
        self.refresh_per_ip.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_allows_burst_then_asks_to_wait() {
        let limit: Limit<u8> = Limit::per_minute(3);

        for _ in 0..3 {
            assert_eq!(limit.check(&1), Ok(()));
        }
        let wait = limit.check(&1);
        assert!(
            matches!(wait, Err(seconds) if (1..=20).contains(&seconds)),
            "{wait:?}"
        );
        assert_eq!(limit.check(&2), Ok(()), "another key has its own bucket");
    }

    #[test]
    fn zero_switches_a_limit_off() {
        let limit: Limit<u8> = Limit::per_minute(0);

        for _ in 0..1000 {
            assert_eq!(limit.check(&1), Ok(()));
        }
    }
}
