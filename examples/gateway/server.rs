//! Serving the gateway with bounds on what one client can hold (security review finding 8):
//!
//! - **header read timeout** (`HEADER_READ_TIMEOUT_MS`, default 10 s): a connection that has not
//!   sent a complete request head by then is closed (hyper's `header_read_timeout`), so a
//!   slow-loris client cannot hold sockets without ever authenticating;
//! - **request timeout** (`REQUEST_TIMEOUT_MS`, default `BACKEND_TIMEOUT_MS` + 30 s): a request not
//!   answered by then (its head: a streamed answer may then last as long as the backend sends)
//!   gets 408 `REQUEST_TIMEOUT`. It bounds how long a body the scope guard reads may trickle in;
//! - **concurrency limit** (`MAX_CONCURRENT_REQUESTS`, default 1024): requests beyond it are
//!   refused at once with 503 `OVERLOADED` and `Retry-After`, never queued.
//!
//! The limits are tower's (`timeout`, `load_shed`, `concurrency_limit`) and hyper-util's server,
//! which also drains in-flight requests on shutdown as `axum::serve` did.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;

use crate::config::Limits;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then lets the requests
/// in flight finish.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let service = ServiceBuilder::new()
        .map_result(answer_limit)
        .timeout(limits.request_timeout)
        .load_shed()
        .concurrency_limit(limits.max_concurrent_requests)
        .service(app);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = builder
            .serve_connection_with_upgrades(
                TokioIo::new(stream),
                TowerToHyperService::new(service.clone()),
            )
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The answer for a request a limit stopped. Always `Ok`: the error type stays `BoxError` only
/// because tower's `MapResult` converts `poll_ready` errors with `From`.
fn answer_limit(result: Result<Response<Body>, BoxError>) -> Result<Response<Body>, BoxError> {
    let error = match result {
        Ok(response) => return Ok(response),
        Err(error) => error,
    };
    if error.is::<tower::load_shed::error::Overloaded>() {
        tracing::warn!("MAX_CONCURRENT_REQUESTS reached: request refused");
        let mut response = crate::proxy::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "OVERLOADED",
            "The gateway is at its limit of concurrent requests; retry shortly",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Ok(response);
    }
    if error.is::<tower::timeout::error::Elapsed>() {
        tracing::info!("request timed out (REQUEST_TIMEOUT_MS)");
        return Ok(crate::proxy::error(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            "The request was not completed in time",
        ));
    }
    // The router itself never fails (its error type is Infallible); nothing else is left.
    tracing::error!(%error, "unexpected service error");
    Ok(crate::proxy::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_ERROR",
        "The gateway failed to answer",
    ))
}
