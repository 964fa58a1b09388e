//! `/metrics` on both servers is valid Prometheus text, and its counters move
//! as a walk-through runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use integration_tests::{TestAuthServer, TestResourceServer};
use reqwest::StatusCode;

/// Parses the text exposition format strictly enough to catch malformed
/// output: comment lines must be HELP, TYPE, UNIT or EOF, and every sample
/// must be `name{label="value",…} number`. Returns each sample's value.
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines().filter(|line| !line.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let keyword = comment.split(' ').next().unwrap();
            assert!(
                ["HELP", "TYPE", "UNIT", "EOF"].contains(&keyword),
                "bad comment line: {line}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name: {line}"
        );
        if name_end < series.len() {
            let labels = series[name_end..]
                .strip_prefix('{')
                .and_then(|rest| rest.strip_suffix('}'));
            let labels = labels.unwrap_or_else(|| panic!("bad labels: {line}"));
            for pair in labels.split(',').filter(|pair| !pair.is_empty()) {
                let (label, quoted) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("bad label: {line}"));
                assert!(
                    label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "bad label name: {line}"
                );
                assert!(
                    quoted.starts_with('"') && quoted.ends_with('"'),
                    "unquoted label value: {line}"
                );
            }
        }
        samples.insert(series.to_owned(), value);
    }
    samples
}

async fn scrape(client: &reqwest::Client, url: String) -> HashMap<String, f64> {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    parse_exposition(&response.text().await.unwrap())
}

fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_with_the_walkthrough() {
    let auth = TestAuthServer::spawn().await;
    let resource = TestResourceServer::spawn(&auth.base_url).await;
    let auth_metrics = auth.url("/metrics");
    let resource_metrics = format!("{}/metrics", resource.base_url);
    let before = scrape(&auth.client, auth_metrics.clone()).await;
    let resource_before = scrape(&resource.client, resource_metrics.clone()).await;

    let tokens = auth.signed_up("metered@example.com").await;
    assert_eq!(
        auth.login("metered@example.com", "a wrong password!")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let refreshed = auth.refresh_tokens(&tokens.refresh_token).await;
    assert_eq!(
        auth.refresh("unknown-token").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        resource
            .get("/api/me", Some(&refreshed.access_token))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        resource.get("/api/me", Some("not.a.token")).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let after = scrape(&auth.client, auth_metrics).await;
    let resource_after = scrape(&resource.client, resource_metrics).await;
    let moved = |series: &str| value(&after, series) - value(&before, series);

    assert_eq!(moved(r#"auth_registrations_total{outcome="created"}"#), 1.0);
    assert_eq!(moved(r#"auth_logins_total{outcome="success"}"#), 1.0);
    assert_eq!(
        moved(r#"auth_logins_total{outcome="invalid_credentials"}"#),
        1.0
    );
    assert_eq!(moved(r#"auth_refreshes_total{outcome="rotated"}"#), 1.0);
    assert_eq!(moved(r#"auth_refreshes_total{outcome="rejected"}"#), 1.0);
    assert!(
        value(&after, "auth_jwks_requests_total") >= 1.0,
        "the resource server fetched the JWKS"
    );
    assert!(value(&after, "auth_db_pool_connections") >= 1.0);
    assert!(
        after.keys().any(
            |series| series.starts_with("auth_http_request_duration_seconds_bucket")
                && series.contains(r#"route="/auth/login""#)
        ),
        "a latency histogram per route"
    );

    let accepted = r#"resource_token_verifications_total{outcome="accepted",reason="ok"}"#;
    assert_eq!(
        value(&resource_after, accepted) - value(&resource_before, accepted),
        1.0
    );
    assert!(
        resource_after
            .keys()
            .any(|series| series.contains(r#"outcome="rejected""#))
    );
    assert!(value(&resource_after, "resource_jwks_fetches_total") >= 1.0);
}

#[test]
fn exposition_parser_rejects_malformed_text() {
    let cases = [
        "metric",
        "metric abc",
        "# COMMENT x",
        "bad-name 1",
        r#"metric{label=value} 1"#,
    ];
    for case in cases {
        let result = std::panic::catch_unwind(|| parse_exposition(case));
        assert!(result.is_err(), "{case} should be rejected");
    }
    let parsed = parse_exposition("# TYPE a counter\na_total{x=\"1\"} 2\n# EOF\n");
    assert_eq!(parsed[r#"a_total{x="1"}"#], 2.0);
}
