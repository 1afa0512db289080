//! `/metrics` in the Prometheus text format on its own listener (`METRICS_ADDR`, off by
//! default), so the main port never serves it by accident; and `AUDIT_LOG=true`, which turns the
//! library's audit events on in the log.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tower_mcp_auth::metrics::{TOKEN_VERIFICATION_SECONDS, VERIFICATION_SECONDS_BUCKETS};
use tracing_subscriber::EnvFilter;

use crate::rate_limit::{RATE_LIMIT_KEYS, RATE_LIMITED_TOTAL};

/// How often histograms are compacted when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder and serves `GET /metrics` on `addr`; prints where.
pub async fn start(addr: SocketAddr) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(TOKEN_VERIFICATION_SECONDS.to_owned()),
            VERIFICATION_SECONDS_BUCKETS,
        )?
        .build_recorder();
    let handle = recorder.handle();
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on METRICS_ADDR {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    metrics::set_global_recorder(recorder)
        .map_err(|_| "a metrics recorder was already installed")?;
    tower_mcp_auth::metrics::describe();
    metrics::describe_counter!(
        RATE_LIMITED_TOTAL,
        "Requests refused by a gateway rate limit, by limit"
    );
    metrics::describe_gauge!(RATE_LIMIT_KEYS, "Keys held by the gateway's rate limiters");

    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = Router::new()
        .route("/metrics", get(render))
        .with_state(handle)
        .fallback(|| async { StatusCode::NOT_FOUND });
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    });
    tracing::info!(%bound, "metrics listening: GET /metrics");
    println!("metrics listening on http://{bound}/metrics");
    Ok(())
}

async fn render(axum::extract::State(handle): axum::extract::State<PrometheusHandle>) -> Response {
    let mut response = handle.render().into_response();
    // The Prometheus text exposition format, version 0.0.4.
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// `AUDIT_LOG=true` (or `1`) adds `tower_mcp_auth::audit=trace` to the log filter.
pub fn with_audit(filter: EnvFilter) -> EnvFilter {
    let on = matches!(std::env::var("AUDIT_LOG").as_deref(), Ok("true" | "1"));
    let directive = format!("{}=trace", tower_mcp_auth::audit::TARGET);
    match directive.parse() {
        Ok(directive) if on => filter.add_directive(directive),
        _ => filter,
    }
}
