//! The example gateway as a real process: `/metrics` on `METRICS_ADDR` only, read with a
//! Prometheus text-format parser; per-user rate limits; `AUDIT_LOG=true`.
#![cfg(all(feature = "auth0", feature = "metrics"))]

mod support;
use support::{gateway::backends, gateway::process, issuer_server};

use backends::*;
use issuer_server::IssuerServer;
use prometheus_parse::{Sample, Scrape, Value as Prom};
use serde_json::{Value, json};

fn metrics_url(gateway: &process::GatewayProcess) -> String {
    gateway
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("metrics listening on "))
        .unwrap_or_else(|| panic!("no metrics line in {}", gateway.stdout))
        .trim()
        .to_owned()
}

async fn scrape(url: &str) -> Scrape {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text format")
}

fn sample<'a>(scrape: &'a Scrape, name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
}

fn counter(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    match sample(scrape, name, labels).map(|s| &s.value) {
        Some(Prom::Counter(n)) => *n,
        other => panic!("{name} {labels:?}: {other:?}"),
    }
}

async fn call_tool(gateway: &process::GatewayProcess, token: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(gateway.url("/tools/search"))
        .header("content-type", "application/json")
        .body(r#"{"query":"rust"}"#);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_answer_on_metrics_addr_only_in_the_prometheus_text_format() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.push(("METRICS_ADDR", "127.0.0.1:0"));
    let gateway = start(vars);
    let url = metrics_url(&gateway);
    assert_ne!(url, gateway.url("/metrics"), "a listener of its own");

    assert_eq!(
        call_tool(&gateway, Some(&issuer.token("search.read")))
            .await
            .status(),
        201
    );
    assert_eq!(call_tool(&gateway, None).await.status(), 401);
    // The public port has no /metrics.
    let public = reqwest::get(gateway.url("/metrics")).await.unwrap();
    assert_eq!(public.status(), 404);
    assert_eq!(json_of(public).await["code"], "NOT_FOUND");
    // The metrics port serves nothing else.
    let other = reqwest::get(url.replace("/metrics", "/health/auth0"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    let scrape = scrape(&url).await;
    let decided = |layer, outcome| {
        counter(
            &scrape,
            "tower_mcp_auth_requests_total",
            &[("layer", layer), ("outcome", outcome)],
        )
    };
    assert_eq!(decided("bearer", "allowed"), 1.0);
    assert_eq!(decided("bearer", "MISSING_TOKEN"), 1.0);
    assert_eq!(decided("scope_guard", "allowed"), 1.0);
    assert_eq!(
        counter(
            &scrape,
            "tower_mcp_auth_token_cache_requests_total",
            &[("result", "miss")]
        ),
        1.0
    );
    let jwks = issuer.jwks_uri();
    assert!(
        counter(
            &scrape,
            "tower_mcp_auth_jwks_fetches_total",
            &[("jwks_uri", &jwks), ("result", "success")]
        ) >= 1.0
    );
    match sample(&scrape, "tower_mcp_auth_jwks_keys", &[("jwks_uri", &jwks)]).map(|s| &s.value) {
        Some(Prom::Gauge(keys)) => assert_eq!(*keys, 1.0),
        other => panic!("jwks keys: {other:?}"),
    }
    match sample(
        &scrape,
        "tower_mcp_auth_token_verification_seconds",
        &[("result", "valid")],
    )
    .map(|s| &s.value)
    {
        Some(Prom::Histogram(buckets)) => {
            assert!(buckets.len() >= 10, "{buckets:?}");
            assert_eq!(
                buckets.last().map(|b| b.count),
                Some(1.0),
                "+Inf holds the one miss"
            );
        }
        other => panic!("verification histogram: {other:?}"),
    }
    assert!(
        scrape.docs["tower_mcp_auth_requests_total"]
            .starts_with("Decisions of the tower-mcp-auth layers"),
        "{:?}",
        scrape.docs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_metrics_addr_nothing_serves_metrics() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let gateway = start(production_env(&issuer, &up.functions_base));
    assert!(
        !gateway.stdout.contains("metrics listening"),
        "{}",
        gateway.stdout
    );
    assert_eq!(
        reqwest::get(gateway.url("/metrics"))
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_the_user_limit_is_429_for_that_user_only() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.extend([
        ("RATE_LIMIT_PER_USER", "3/min"),
        ("METRICS_ADDR", "127.0.0.1:0"),
    ]);
    let gateway = start(vars);
    let alice = issuer.token("search.read");
    let mut claims = issuer.claims("search.read");
    claims["sub"] = json!("auth0|bob");
    let bob = issuer.sign(&claims);

    for _ in 0..3 {
        assert_eq!(call_tool(&gateway, Some(&alice)).await.status(), 201);
    }
    let limited = call_tool(&gateway, Some(&alice)).await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=20).contains(&retry_after),
        "one request per 20 s: {retry_after}"
    );
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["code"], "RATE_LIMITED");
    assert_eq!(body["limit"], "user");
    assert_eq!(body["retry_after_secs"], retry_after);

    assert_eq!(
        call_tool(&gateway, Some(&bob)).await.status(),
        201,
        "bob is unaffected"
    );
    assert_eq!(
        up.backend.seen.lock().unwrap().len(),
        4,
        "the refused call never reached it"
    );
    let scrape = scrape(&metrics_url(&gateway)).await;
    assert_eq!(
        counter(&scrape, "gateway_rate_limited_total", &[("limit", "user")]),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_writes_one_json_event_per_decision() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.extend([("AUDIT_LOG", "true"), ("LOG_FORMAT", "json")]);
    let gateway = start(vars);
    assert_eq!(
        call_tool(&gateway, Some(&issuer.token("search.read")))
            .await
            .status(),
        201
    );
    assert_eq!(call_tool(&gateway, None).await.status(), 401);
    // The process writes its log asynchronously: wait until both lines are there.
    let mut events = Vec::new();
    for _ in 0..100 {
        events = gateway
            .stderr()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["target"] == "tower_mcp_auth::audit")
            .map(|line| line["fields"].clone())
            .collect();
        if events.len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let summary: Vec<(Value, Value, Value, Value)> = events
        .iter()
        .map(|e| {
            (
                e["layer"].clone(),
                e["outcome"].clone(),
                e["code"].clone(),
                e["subject"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                json!("bearer"),
                json!("allowed"),
                json!(""),
                json!("auth0|user-1")
            ),
            (
                json!("scope_guard"),
                json!("allowed"),
                json!(""),
                json!("auth0|user-1")
            ),
            (
                json!("bearer"),
                json!("refused"),
                json!("MISSING_TOKEN"),
                json!("")
            ),
        ]
    );
}
