//! The printed result: the machine, the run's settings and one Markdown
//! table with each figure, its ratio to its limit, the target and the
//! Django + Simple JWT figure measured on the same machine.

use std::fmt::Write;

use crate::RunConfig;
use crate::limits::Limit;
use crate::load::Stats;
use crate::scenario::Results;
use crate::servers::Memory;

/// Largest p99 allowed for `/healthz`, the JWKS and refresh while logins
/// saturate the machine, in milliseconds.
const PROBE_P99_TARGET_MS: f64 = 50.0;
const AUTH_RSS_TARGET_MB: f64 = 40.0;
const RESOURCE_RSS_TARGET_MB: f64 = 20.0;

/// One line of the table. Empty strings print as a dash.
#[derive(Default)]
struct Row {
    name: String,
    rate: String,
    p50: String,
    p99: String,
    errors: String,
    versus: String,
    target: String,
    verdict: String,
    seed: String,
}

/// Renders the machine description, the settings and the table.
pub fn render(config: &RunConfig, results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nmachine: {}", machine_description());
    let _ = writeln!(
        out,
        "settings: {} s per phase, {} connections for GETs, {} refresh chains, {} login connections, bcrypt cost {}, {} threads for the limits\n",
        config.phase.as_secs(),
        config.connections,
        config.refresh_chains,
        config.login_connections,
        config.bcrypt_cost,
        config.threads,
    );

    let _ = writeln!(
        out,
        "| measurement | requests/s | p50 ms | p99 ms | errors | against its limit | target | result | Django + Simple JWT |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |"
    );
    for row in rows(config, results) {
        let cells = [
            &row.name,
            &row.rate,
            &row.p50,
            &row.p99,
            &row.errors,
            &row.versus,
            &row.target,
            &row.verdict,
            &row.seed,
        ];
        let cells: Vec<&str> = cells
            .iter()
            .map(|cell| {
                if cell.is_empty() {
                    "–"
                } else {
                    cell.as_str()
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

fn rows(config: &RunConfig, results: &Results) -> Vec<Row> {
    let threads = config.threads;
    let sign = results.sign.per_second;
    let bcrypt = results.bcrypt.per_second;
    let unprotected = results.unprotected.per_second();

    vec![
        limit_row(
            &format!("limit: RS256 sign, aws-lc-rs, {threads} threads"),
            &results.sign,
        ),
        limit_row(
            &format!("limit: RS256 verify, shared Verifier, {threads} threads"),
            &results.verify,
        ),
        limit_row(
            &format!(
                "limit: bcrypt cost {}, {threads} threads",
                config.bcrypt_cost
            ),
            &results.bcrypt,
        ),
        Row {
            seed: "4,000".into(),
            ..stats_row("resource: GET /healthz (unprotected)", &results.unprotected)
        },
        ratio_row(
            "resource: GET /api/me (protected)",
            &results.protected,
            unprotected,
            "of unprotected",
            0.80,
            "3,000",
        ),
        ratio_row(
            "auth: POST /auth/refresh, SQLite",
            &results.refresh_sqlite,
            sign,
            "of sign",
            0.30,
            "400",
        ),
        ratio_row(
            "auth: POST /auth/refresh, PostgreSQL",
            &results.refresh_postgres,
            sign,
            "of sign",
            0.30,
            "250",
        ),
        ratio_row(
            &format!("auth: POST /auth/login, bcrypt cost {}", config.bcrypt_cost),
            &results.login,
            bcrypt,
            "of bcrypt",
            0.90,
            "8",
        ),
        probe_row(
            "auth: GET /healthz during logins",
            &results.healthz_during_login,
        ),
        probe_row("auth: GET JWKS during logins", &results.jwks_during_login),
        probe_row(
            "auth: POST /auth/refresh during logins",
            &results.refresh_during_login,
        ),
        memory_row(
            "auth-server (SQLite) RSS at end",
            results.auth_sqlite_memory,
            AUTH_RSS_TARGET_MB,
        ),
        memory_row(
            "auth-server (PostgreSQL) RSS at end",
            results.auth_postgres_memory,
            AUTH_RSS_TARGET_MB,
        ),
        memory_row(
            "resource-server RSS at end",
            results.resource_memory,
            RESOURCE_RSS_TARGET_MB,
        ),
    ]
}

fn limit_row(name: &str, limit: &Limit) -> Row {
    let per_thread_ms = limit.threads as f64 * 1000.0 / limit.per_second.max(f64::MIN_POSITIVE);
    Row {
        name: name.into(),
        rate: format_rate(limit.per_second),
        versus: format!("{per_thread_ms:.3} ms per operation per thread"),
        ..Row::default()
    }
}

fn stats_row(name: &str, stats: &Stats) -> Row {
    let millis = |q| stats.percentile_ms(q).map(format_ms).unwrap_or_default();
    Row {
        name: name.into(),
        rate: format_rate(stats.per_second()),
        p50: millis(0.50),
        p99: millis(0.99),
        errors: stats.errors.to_string(),
        ..Row::default()
    }
}

fn ratio_row(
    name: &str,
    stats: &Stats,
    limit: f64,
    limit_name: &str,
    target: f64,
    seed: &str,
) -> Row {
    let ratio = stats.per_second() / limit.max(f64::MIN_POSITIVE);
    Row {
        versus: format!("{ratio:.2} {limit_name}"),
        target: format!("≥ {target:.2}"),
        verdict: verdict(ratio >= target),
        seed: seed.into(),
        ..stats_row(name, stats)
    }
}

fn probe_row(name: &str, stats: &Stats) -> Row {
    let p99 = stats.percentile_ms(0.99);
    Row {
        target: format!("p99 < {PROBE_P99_TARGET_MS:.0} ms"),
        verdict: verdict(p99.is_some_and(|p99| p99 < PROBE_P99_TARGET_MS)),
        ..stats_row(name, stats)
    }
}

/// Builds a memory row. Its verdict uses the peak (VmHWM), the stricter of
/// the two figures.
fn memory_row(name: &str, memory: Memory, target_mb: f64) -> Row {
    let megabytes = |kib: u64| kib as f64 * 1024.0 / 1_000_000.0;
    let peak = megabytes(memory.peak_kib);
    Row {
        name: name.into(),
        versus: format!("{:.1} MB, peak {peak:.1} MB", megabytes(memory.rss_kib)),
        target: format!("< {target_mb:.0} MB"),
        verdict: verdict(peak < target_mb),
        seed: "about 170 MB".into(),
        ..Row::default()
    }
}

fn verdict(holds: bool) -> String {
    if holds { "holds" } else { "misses" }.into()
}

fn format_ms(millis: f64) -> String {
    if millis < 10.0 {
        format!("{millis:.2}")
    } else {
        format!("{millis:.1}")
    }
}

/// Formats a rate with thousands separators, or one decimal below 100.
fn format_rate(per_second: f64) -> String {
    if per_second < 100.0 {
        return format!("{per_second:.1}");
    }
    let digits = format!("{:.0}", per_second);
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// CPU model, core count, memory and kernel, read from /proc.
fn machine_description() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gb = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map(|kib| kib * 1024.0 / 1e9)
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    // Other processes on the machine take CPU from the servers; the load
    // average at the end of the run shows whether any did.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{model}, {cores} cores available, {memory_gb:.0} GB RAM, Linux {}, load average {}",
        kernel.trim(),
        load.join(" ")
    )
}
