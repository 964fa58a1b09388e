//! Closed-loop load: each worker owns one connection and sends its next
//! request when the previous response has been read, until the phase ends.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use serde_json::json;

use crate::BenchError;
use crate::http::{Connection, RequestSpec, Response};

/// The requests of one worker.
#[derive(Debug, Clone)]
pub enum Job {
    /// The same request again and again.
    Repeat(RequestSpec),
    /// `POST /auth/refresh` starting from this unused refresh token; each
    /// response's new token is spent by the next request, so no token is
    /// presented twice.
    RefreshChain(String),
}

/// Counts and latencies of one phase.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latency of every request in microseconds, sorted.
    latencies_us: Vec<u32>,
    /// The first failure, to show what went wrong.
    pub first_error: Option<String>,
}

impl Stats {
    /// Requests per second over the phase.
    pub fn per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.requests as f64 / seconds
        } else {
            0.0
        }
    }

    /// Returns the latency at quantile `q` (0.5 for the median) in
    /// milliseconds by the nearest-rank method, or `None` without requests.
    pub fn percentile_ms(&self, q: f64) -> Option<f64> {
        if self.latencies_us.is_empty() {
            return None;
        }
        let rank = (q * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        Some(f64::from(self.latencies_us[index]) / 1000.0)
    }

    fn merge(&mut self, other: WorkerStats) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.latencies_us.extend(other.latencies_us);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

#[derive(Default)]
struct WorkerStats {
    requests: u64,
    errors: u64,
    latencies_us: Vec<u32>,
    first_error: Option<String>,
}

impl WorkerStats {
    fn record_error(&mut self, error: BenchError) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error.to_string());
        }
    }
}

/// Runs one worker per job against `address` for `duration`.
///
/// Without `pacing`, workers send as fast as responses come. With it, each
/// worker starts at most one request per `pacing`, so it probes latency
/// while adding little load.
pub async fn run(
    address: SocketAddr,
    jobs: Vec<Job>,
    duration: Duration,
    pacing: Option<Duration>,
) -> Stats {
    let started = Instant::now();
    let deadline = started + duration;

    let workers: Vec<_> = jobs
        .into_iter()
        .map(|job| tokio::spawn(run_worker(address, job, deadline, pacing)))
        .collect();

    let mut stats = Stats::default();
    for worker in workers {
        match worker.await {
            Ok(worker_stats) => stats.merge(worker_stats),
            Err(error) => stats.merge(WorkerStats {
                errors: 1,
                first_error: Some(format!("a load worker failed: {error}")),
                ..WorkerStats::default()
            }),
        }
    }
    stats.elapsed = started.elapsed();
    stats.latencies_us.sort_unstable();
    stats
}

async fn run_worker(
    address: SocketAddr,
    mut job: Job,
    deadline: Instant,
    pacing: Option<Duration>,
) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let mut connection = match Connection::open(address).await {
        Ok(connection) => connection,
        Err(error) => {
            stats.record_error(error);
            return stats;
        }
    };

    while Instant::now() < deadline {
        let request_started = Instant::now();
        let spec = match &job {
            Job::Repeat(spec) => spec.clone(),
            Job::RefreshChain(token) => {
                RequestSpec::post_json("/auth/refresh", &json!({ "refresh_token": token }))
            }
        };
        let result = connection.send(&spec).await.and_then(expect_ok);
        let latency = request_started.elapsed();
        stats.requests += 1;
        stats
            .latencies_us
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));

        match (result, &mut job) {
            (Ok(response), Job::RefreshChain(token)) => match next_refresh_token(&response) {
                Ok(next) => *token = next,
                Err(error) => {
                    stats.record_error(error);
                    return stats;
                }
            },
            (Ok(_), Job::Repeat(_)) => {}
            (Err(error), Job::RefreshChain(_)) => {
                // The failed request may have spent the token, and presenting
                // it again would count as reuse, so this chain ends here.
                stats.record_error(error);
                return stats;
            }
            (Err(error), Job::Repeat(_)) => {
                stats.record_error(error);
                match Connection::open(address).await {
                    Ok(reopened) => connection = reopened,
                    Err(error) => {
                        stats.record_error(error);
                        return stats;
                    }
                }
            }
        }

        if let Some(pacing) = pacing {
            tokio::time::sleep_until((request_started + pacing).into()).await;
        }
    }
    stats
}

/// Accepts a 200 response and turns any other status into an error.
pub fn expect_ok(response: Response) -> Result<Response, BenchError> {
    if response.status == StatusCode::OK {
        Ok(response)
    } else {
        Err(BenchError::new(format!(
            "unexpected status {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )))
    }
}

/// Reads `refresh_token` from a login or refresh response.
pub fn next_refresh_token(response: &Response) -> Result<String, BenchError> {
    response
        .json()?
        .get("refresh_token")
        .and_then(|value| value.as_str())
        .map(str::to_owned)
        .ok_or_else(|| BenchError::new("the token response has no refresh_token"))
}
