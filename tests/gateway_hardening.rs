//! The example gateway's answers to the security review's findings 8, 9, 10, 12 and 13, run as a
//! real process: connection and request limits, what the signature binds, which client headers
//! cross, what the logs show of backend URLs, and what `/health/auth0` tells strangers.
#![cfg(feature = "auth0")]

mod support;
use support::{gateway::backends, issuer_server};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use backends::*;
use issuer_server::IssuerServer;
use serde_json::json;

/// Longest any test waits on a socket: far beyond every limit the tests set, so reaching it
/// means the gateway never acted (a hang guard, not a timing assertion).
const HANG_GUARD: Duration = Duration::from_secs(20);

fn connect(base: &str) -> TcpStream {
    let stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    stream
}

/// Reads until the gateway closes the connection; `Err` when it kept it open past the guard.
fn read_until_closed(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Finding 8: limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_never_ends_is_closed_at_the_header_read_timeout() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.push(("HEADER_READ_TIMEOUT_MS", "300"));
    let gateway = start(vars);
    let mut stream = connect(&gateway.base);
    stream
        .write_all(b"POST /tools/search HTTP/1.1\r\nHost: gateway\r\nX-Slow: 1\r\n")
        .unwrap();
    let closed = tokio::task::spawn_blocking(move || read_until_closed(&mut stream))
        .await
        .unwrap();
    assert!(
        closed.is_ok(),
        "the connection was still open after {HANG_GUARD:?}: {closed:?}"
    );
    assert!(up.backend.seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_ends_is_answered_408_at_the_request_timeout() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.extend([("BACKEND_TIMEOUT_MS", "100"), ("REQUEST_TIMEOUT_MS", "400")]);
    let gateway = start(vars);
    let token = issuer.token("search.read");
    let mut stream = connect(&gateway.base);
    // Ten of the hundred bytes announced: the scope guard waits for the rest.
    write!(
        stream,
        "POST /tools/search HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"query\":"
    )
    .unwrap();
    let answer = tokio::task::spawn_blocking(move || {
        let mut buffer = [0u8; 4096];
        let read = stream.read(&mut buffer)?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buffer[..read]).into_owned())
    })
    .await
    .unwrap()
    .expect("no answer: the gateway waited for the body forever");
    let (status, body) = status_and_body(&answer);
    assert_eq!(status, 408, "{answer}");
    assert_eq!(
        body,
        json!({
            "error": "request_timeout",
            "code": "REQUEST_TIMEOUT",
            "error_description": "The request was not completed in time",
        })
    );
    assert!(up.backend.seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_concurrency_limit_are_refused_with_503() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.push(("MAX_CONCURRENT_REQUESTS", "1"));
    let gateway = start(vars);
    let token = issuer.token("search.read");
    // `slow` holds its answer for 10 s: once the backend has seen it, it holds the one slot.
    let held = tokio::spawn(
        reqwest::Client::new()
            .post(gateway.url("/tools/slow"))
            .bearer_auth(&token)
            .send(),
    );
    for _ in 0..200 {
        if !up.backend.seen.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(up.backend.seen.lock().unwrap().len(), 1);
    let refused = reqwest::Client::new()
        .post(gateway.url("/tools/search"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(
        json_of(refused).await,
        json!({
            "error": "service_unavailable",
            "code": "OVERLOADED",
            "error_description": "The gateway is at its limit of concurrent requests; retry shortly",
        })
    );
    assert_eq!(up.backend.seen.lock().unwrap().len(), 1);
    held.abort();
}

// ---------------------------------------------------------------------------------------------
// Finding 9: what the signature binds

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_is_bound_to_the_query_and_the_body() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let gateway = start(production_env(&issuer, &up.functions_base));
    let response = reqwest::Client::new()
        .post(gateway.url("/tools/search?lang=en"))
        .bearer_auth(issuer.token("search.read"))
        .header("content-type", "application/json")
        .body(r#"{"query":"rust"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(json_of(response).await["signature_verified"], true);
    let seen = up.backend.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.query, "lang=en");
    assert_eq!(
        seen.headers["x-gateway-body-sha256"],
        sha256_hex(br#"{"query":"rust"}"#)
    );
    let valid = |query: &str, body: &[u8]| {
        signature_is_valid("POST", "/fn/search", query, body, &seen.headers)
    };
    assert!(valid("lang=en", br#"{"query":"rust"}"#));
    // Replayed with another query or another body: the backend refuses it.
    assert!(!valid("lang=en&admin=1", br#"{"query":"rust"}"#));
    assert!(!valid("lang=en", br#"{"query":"drop table"}"#));
}

// ---------------------------------------------------------------------------------------------
// Finding 10: which client headers cross

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_headers_cross_and_connection_cannot_remove_them() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let gateway = start(production_env(&issuer, &up.functions_base));
    let token = issuer.token("search.read");
    let mut stream = connect(&gateway.base);
    // Sent by hand: HTTP clients manage `Connection` themselves.
    write!(
        stream,
        "POST /tools/search HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: text/plain\r\nConnection: close, x-request-id\r\n\
         X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: admin.internal\r\nForwarded: for=10.0.0.1\r\n\
         X-Original-URL: /fn/admin\r\nX-HTTP-Method-Override: DELETE\r\nX_Gateway_Sub: auth0|admin\r\n\
         X-Request-Id: req-7\r\nContent-Length: 5\r\n\r\nhello"
    )
    .unwrap();
    let answer = tokio::task::spawn_blocking(move || read_until_closed(&mut stream))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status_and_body(&answer).0, 201, "{answer}");
    let seen = up.backend.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.headers["content-type"], "text/plain");
    // Named in `Connection`, an allowed header still crosses.
    assert_eq!(seen.headers["x-request-id"], "req-7");
    assert_eq!(&seen.body[..], b"hello");
    for dropped in [
        "x-forwarded-for",
        "x-forwarded-host",
        "forwarded",
        "x-original-url",
        "x-http-method-override",
        "x_gateway_sub",
        "authorization",
    ] {
        assert_eq!(seen.headers.get(dropped), None, "{dropped} crossed");
    }

    // `Connection: content-type` would strip the header the scope guard judged the body by
    // after it had decided: the guard refuses such a request and the backend sees nothing.
    let mut stream = connect(&gateway.base);
    write!(
        stream,
        "POST /tools/search HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: text/plain\r\nConnection: close, content-type\r\n\
         Content-Length: 5\r\n\r\nhello"
    )
    .unwrap();
    let answer = tokio::task::spawn_blocking(move || read_until_closed(&mut stream))
        .await
        .unwrap()
        .unwrap();
    let (status, body) = status_and_body(&answer);
    assert_eq!(status, 400, "{answer}");
    assert_eq!(body["code"], "CONNECTION_NAMES_CHECKED_HEADER", "{answer}");
    assert_eq!(
        up.backend.seen.lock().unwrap().len(),
        1,
        "the backend saw it"
    );
}

// ---------------------------------------------------------------------------------------------
// Finding 12: backend URLs in logs

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_show_backend_credentials_or_the_clients_query() {
    let issuer = IssuerServer::start().await;
    let (_port, closed) = closed_port_url();
    let closed = closed.replace("http://", "http://fn-user:pa55word-in-url@");
    let gateway = start(production_env(&issuer, &closed));
    let response = reqwest::Client::new()
        .post(gateway.url("/tools/search?api_key=query-secret-42"))
        .bearer_auth(issuer.token("search.read"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(json_of(response).await["code"], "BACKEND_UNREACHABLE");
    let mut logs = String::new();
    for _ in 0..100 {
        logs = gateway.stderr();
        if logs.contains("backend unreachable") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(logs.contains("backend unreachable"), "{logs}");
    assert!(logs.contains("gateway listening"), "{logs}");
    for secret in ["pa55word-in-url", "fn-user", "query-secret-42"] {
        assert!(!logs.contains(secret), "`{secret}` in the logs:\n{logs}");
    }
}

// ---------------------------------------------------------------------------------------------
// Finding 13: what /health/auth0 tells strangers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_shows_only_its_status_word_unless_details_are_made_public() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.retain(|(name, _)| *name != "HEALTH_DETAILS");
    let gateway = start(vars.clone());
    let (status, body) = health(&gateway).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));

    vars.push(("HEALTH_DETAILS", "public"));
    let public = start(vars);
    let (status, body) = health(&public).await;
    assert_eq!(status, 200);
    assert_eq!(body["jwks"]["uri"], issuer.jwks_uri());
    assert_eq!(body["mode"], "production");
}
