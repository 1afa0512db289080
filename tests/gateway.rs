//! The example gateway, run as a real process: dev mode's printed commands, the signed proxy,
//! backend failures, health, the debug endpoint, the DCR webhook against the fake Auth0,
//! start-up errors, CORS, shutdown and `gateway doctor`.
#![cfg(feature = "auth0")]

#[path = "support/fake_auth0.rs"]
mod fake_auth0;

#[path = "support/issuer_server.rs"]
mod issuer_server;
#[path = "gateway_support/process.rs"]
mod process;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::hmac;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use fake_auth0::{FakeAuth0, MGMT_CLIENT_ID, MGMT_CLIENT_SECRET, TENANT, dcr_client, dcr_entry};
use issuer_server::{AUDIENCE, IssuerServer, JwksMode, now};
use process::{GatewayProcess, command};
use serde_json::{Value, json};

const HMAC_SECRET: &str = "test-hmac-secret-0123456789abcdefghijklmnop";

/// What the backend saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Backend {
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// The documented check a backend makes (docs/gateway.md): HMAC-SHA256 over
/// `v1\nMETHOD\nPATH\nSUB\nSCOPES\nTIMESTAMP`, hex, with a fresh timestamp.
fn signature_is_valid(method: &str, path: &str, headers: &HeaderMap) -> bool {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let timestamp: u64 = get("x-gateway-timestamp").parse().unwrap_or(0);
    if now().abs_diff(timestamp) > 300 {
        return false;
    }
    let canonical = format!(
        "v1\n{method}\n{path}\n{}\n{}\n{timestamp}",
        get("x-gateway-sub"),
        get("x-gateway-scopes")
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, HMAC_SECRET.as_bytes());
    let expected: String = hmac::sign(&key, canonical.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    get("x-gateway-signature") == expected
}

async fn backend_tool(
    State(backend): State<Backend>,
    Path(tool): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    backend.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers.clone(),
        body: body.clone(),
    });
    if tool == "slow" {
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    let verified = signature_is_valid(parts.method.as_str(), parts.uri.path(), &parts.headers);
    (
        StatusCode::CREATED,
        [("x-backend", "yes")],
        axum::Json(json!({"tool": tool, "signature_verified": verified})),
    )
        .into_response()
}

/// An MCP upstream that answers with an SSE stream: one event now, the next only when the test
/// says so, proving the gateway does not buffer.
async fn mcp_upstream(
    State(release): State<Arc<tokio::sync::Notify>>,
    request: Request,
) -> Response {
    let verified = signature_is_valid(
        request.method().as_str(),
        request.uri().path(),
        request.headers(),
    );
    let stream = async_stream(release, verified);
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

fn async_stream(
    release: Arc<tokio::sync::Notify>,
    verified: bool,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(0u8, move |step| {
        let release = release.clone();
        async move {
            match step {
                0 => Some((
                    Ok(Bytes::from(format!(
                        "event: message\ndata: {{\"first\":true,\"signature_verified\":{verified}}}\n\n"
                    ))),
                    1,
                )),
                1 => {
                    release.notified().await;
                    Some((
                        Ok(Bytes::from_static(
                            b"event: message\ndata: {\"second\":true}\n\n",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    })
}

struct Upstreams {
    backend: Backend,
    functions_base: String,
    mcp_url: String,
    release: Arc<tokio::sync::Notify>,
}

async fn upstreams() -> Upstreams {
    let backend = Backend::default();
    let release = Arc::new(tokio::sync::Notify::new());
    let app = Router::new()
        .route("/fn/{tool}", post(backend_tool))
        .with_state(backend.clone())
        .merge(
            Router::new()
                .route("/upstream/mcp", any(mcp_upstream))
                .with_state(release.clone()),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Upstreams {
        backend,
        functions_base: format!("http://{addr}/fn"),
        mcp_url: format!("http://{addr}/upstream/mcp"),
        release,
    }
}

/// A port nothing listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/fn")
}

fn production_env<'a>(
    issuer: &'a IssuerServer,
    functions_base: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("OAUTH_ISSUER", issuer.issuer.as_str()),
        ("OAUTH_AUDIENCE", AUDIENCE),
        ("FUNCTIONS_BASE", functions_base),
        ("GATEWAY_HMAC_SECRET", HMAC_SECRET),
        ("BIND_ADDR", "127.0.0.1"),
    ]
}

fn start(vars: Vec<(&str, &str)>) -> GatewayProcess {
    GatewayProcess::start(&vars)
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Dev mode

/// Splits a printed command the way a POSIX shell would for the quoting the banner uses (plain
/// words and single-quoted strings).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    current.push(q);
                }
            }
            ' ' if in_word => {
                words.push(std::mem::take(&mut current));
                in_word = false;
            }
            ' ' => {}
            '"' | '\\' | '$' | '`' => {
                panic!("the banner's commands use single quotes only: {line}")
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// Runs a printed `curl` command with reqwest; refuses any option it does not know, so the
/// test breaks if the banner changes shape.
async fn run_curl(line: &str) -> reqwest::Response {
    let words = shell_words(line);
    assert_eq!(words[0], "curl");
    let mut method = "GET".to_owned();
    let mut url = None;
    let mut headers = Vec::new();
    let mut body = None;
    let mut i = 1;
    while i < words.len() {
        match words[i].as_str() {
            "-i" | "-s" | "-sS" => {}
            "-X" => {
                i += 1;
                method = words[i].clone();
            }
            "-H" => {
                i += 1;
                let (name, value) = words[i].split_once(": ").expect("header");
                headers.push((name.to_owned(), value.to_owned()));
            }
            "-d" => {
                i += 1;
                body = Some(words[i].clone());
            }
            word if word.starts_with("http") => url = Some(word.to_owned()),
            other => panic!("unexpected curl argument {other}"),
        }
        i += 1;
    }
    let mut request = reqwest::Client::new().request(method.parse().unwrap(), url.expect("url"));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_printed_curl_commands_work_as_printed() {
    let gateway = start(vec![]);
    assert!(gateway.stdout.contains("DEV MODE"), "{}", gateway.stdout);
    assert!(gateway.base.starts_with("http://127.0.0.1:"));
    let commands: Vec<&str> = gateway
        .stdout
        .lines()
        .filter(|line| line.starts_with("curl "))
        .collect();
    assert_eq!(commands.len(), 2, "{}", gateway.stdout);

    let allowed = run_curl(commands[0]).await;
    assert_eq!(allowed.status(), 200);
    let body = json_of(allowed).await;
    assert_eq!(
        body,
        json!({
            "tool": "whoami",
            "sub": "dev|demo-user",
            "scopes": "demo:read",
            "input": {"hello": "world"},
            "signature": "verified",
        })
    );

    let step_up = run_curl(commands[1]).await;
    assert_eq!(step_up.status(), 403);
    let challenge = step_up.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with(&format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", error=\"insufficient_scope\""
        , gateway.base)),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"demo:admin\""), "{challenge}");
    let body = json_of(step_up).await;
    assert_eq!(body["code"], "insufficient_scope");
    assert_eq!(body["missing_scopes"], json!(["demo:admin"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_health_reports_the_embedded_issuer() {
    let gateway = start(vec![]);
    let response = reqwest::get(gateway.url("/health/auth0")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = json_of(response).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["mode"], "dev");
    assert_eq!(body["issuer"], format!("{}/dev-issuer/", gateway.base));
    assert_eq!(body["jwks"]["key_count"], 1);
    assert_eq!(body["jwks"]["reachable"], true);
}

// ---------------------------------------------------------------------------------------------
// The signed proxy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxied_call_carries_a_verifiable_identity_and_no_client_credentials() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let gateway = start(production_env(&issuer, &up.functions_base));
    let token = issuer.token("search.read docs.write");

    let response = reqwest::Client::new()
        .post(gateway.url("/tools/search?lang=en"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("cookie", "session=browser-secret")
        .header("x-gateway-sub", "auth0|admin")
        .header("X-Gateway-Scopes", "everything")
        .header("x-gateway-signature", "forged")
        .header("x-request-id", "req-1")
        .body(r#"{"query":"rust"}"#)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-backend"], "yes");
    assert_eq!(
        json_of(response).await,
        json!({"tool": "search", "signature_verified": true})
    );
    let seen = up.backend.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/fn/search");
    assert_eq!(&seen.body[..], br#"{"query":"rust"}"#);
    assert_eq!(seen.headers["x-gateway-sub"], "auth0|user-1");
    assert_eq!(seen.headers["x-gateway-scopes"], "docs.write search.read");
    assert_eq!(seen.headers.get_all("x-gateway-sub").iter().count(), 1);
    assert_eq!(seen.headers.get("authorization"), None);
    assert_eq!(seen.headers.get("cookie"), None);
    assert_eq!(seen.headers["x-request-id"], "req-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_is_bound_to_its_tool() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let gateway = start(production_env(&issuer, &up.functions_base));
    let response = reqwest::Client::new()
        .post(gateway.url("/tools/search"))
        .bearer_auth(issuer.token("search.read"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let seen = up.backend.seen.lock().unwrap()[0].clone();
    assert!(signature_is_valid("POST", "/fn/search", &seen.headers));
    assert!(!signature_is_valid("POST", "/fn/delete", &seen.headers));
    assert!(!signature_is_valid("GET", "/fn/search", &seen.headers));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_never_reach_the_backend() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let gateway = start(production_env(&issuer, &up.functions_base));
    let client = reqwest::Client::new();

    let missing = client
        .post(gateway.url("/tools/search"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer resource_metadata=\"https://api.test/.well-known/oauth-protected-resource/mcp\""
    );
    assert_eq!(json_of(missing).await["code"], "MISSING_TOKEN");

    let jwe = client
        .post(gateway.url("/tools/search"))
        .bearer_auth("eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn")
        .send()
        .await
        .unwrap();
    assert_eq!(jwe.status(), 401);
    assert_eq!(json_of(jwe).await["code"], "ACCESS_TOKEN_IS_ENCRYPTED_JWE");

    let mut claims = issuer.claims("search.read");
    claims["aud"] = json!("https://another.api");
    let wrong_audience = client
        .post(gateway.url("/tools/search"))
        .bearer_auth(issuer.sign(&claims))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_audience.status(), 401);
    assert_eq!(json_of(wrong_audience).await["code"], "INVALID_AUDIENCE");

    assert!(up.backend.seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_down_is_502_and_slow_backend_is_504_with_json_bodies() {
    let issuer = IssuerServer::start().await;
    let closed = closed_port_url();
    let down = start(production_env(&issuer, &closed));
    let response = reqwest::Client::new()
        .post(down.url("/tools/search"))
        .bearer_auth(issuer.token("search.read"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(
        json_of(response).await,
        json!({
            "error": "bad_gateway",
            "code": "BACKEND_UNREACHABLE",
            "error_description": "The backend refused or dropped the connection",
        })
    );

    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.push(("BACKEND_TIMEOUT_MS", "300"));
    let slow = start(vars);
    let started = std::time::Instant::now();
    let response = reqwest::Client::new()
        .post(slow.url("/tools/slow"))
        .bearer_auth(issuer.token("search.read"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        json_of(response).await,
        json!({
            "error": "gateway_timeout",
            "code": "BACKEND_TIMEOUT",
            "error_description": "The backend did not answer within 300 ms",
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_passthrough_streams_sse_without_buffering() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.push(("MCP_UPSTREAM", &up.mcp_url));
    let gateway = start(vars);
    let mut response = reqwest::Client::new()
        .post(gateway.url("/mcp"))
        .bearer_auth(issuer.token("search.read"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    // The first event arrives while the upstream still holds the stream open.
    let first = tokio::time::timeout(Duration::from_secs(5), response.chunk())
        .await
        .expect("the first event was buffered")
        .unwrap()
        .unwrap();
    assert_eq!(
        &first[..],
        b"event: message\ndata: {\"first\":true,\"signature_verified\":true}\n\n"
    );
    up.release.notify_one();
    let second = response.chunk().await.unwrap().unwrap();
    assert_eq!(&second[..], b"event: message\ndata: {\"second\":true}\n\n");
}

// ---------------------------------------------------------------------------------------------
// Health, debug endpoint, CORS

async fn health(gateway: &GatewayProcess) -> (u16, Value) {
    let response = reqwest::get(gateway.url("/health/auth0")).await.unwrap();
    let status = response.status().as_u16();
    (status, json_of(response).await)
}

async fn health_becomes(gateway: &GatewayProcess, status: u16) -> Value {
    for _ in 0..100 {
        let (now, body) = health(gateway).await;
        if now == status {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/health/auth0 never answered {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_while_the_jwks_is_down_and_200_when_it_is_up() {
    let issuer = IssuerServer::start().await;
    issuer.set_mode(JwksMode::Fail);
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.push(("JWKS_PROBE_INTERVAL_MS", "200"));
    let gateway = start(vars);

    let (status, body) = health(&gateway).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["jwks"]["key_count"], 0);
    assert_eq!(body["jwks"]["last_error"], "HTTP 500 Internal Server Error");
    assert_eq!(body["jwks"]["uri"], issuer.jwks_uri());

    issuer.set_mode(JwksMode::Serve);
    let body = health_becomes(&gateway, 200).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["jwks"]["key_count"], 1);
    assert_eq!(body["jwks"]["last_error"], Value::Null);

    issuer.set_mode(JwksMode::Fail);
    let body = health_becomes(&gateway, 503).await;
    // Tokens still verify with the last good keys while the endpoint is down.
    assert_eq!(body["jwks"]["verifying_with_cached_keys"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_token_is_off_by_default() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let gateway = start(production_env(&issuer, &up.functions_base));
    let response = reqwest::Client::new()
        .get(gateway.url("/debug-token"))
        .bearer_auth(issuer.token("search.read"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(json_of(response).await["code"], "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_token_shows_the_verified_claims_of_the_callers_token() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.push(("DEBUG_TOKEN_ENDPOINT", "1"));
    let gateway = start(vars);
    let client = reqwest::Client::new();

    assert_eq!(
        client
            .get(gateway.url("/debug-token"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let mut claims = issuer.claims("search.read");
    claims["permissions"] = json!(["docs.write"]);
    let token = issuer.sign(&claims);
    let response = client
        .get(gateway.url("/debug-token"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(&token), "the token itself is never echoed");
    assert!(!text.contains(HMAC_SECRET));
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["sub"], "auth0|user-1");
    assert_eq!(body["iss"], issuer.issuer);
    assert_eq!(body["aud"], claims["aud"]);
    assert_eq!(body["scope"], "search.read");
    assert_eq!(body["permissions"], json!(["docs.write"]));
    assert_eq!(body["exp"], claims["exp"]);
    assert_eq!(body["client_id"], "chatgpt-client");
    assert_eq!(
        body["derived"]["scopes"],
        json!(["docs.write", "search.read"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_the_configured_origin_and_exposes_the_challenge() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.push((
        "APP_ORIGIN",
        "https://chatgpt.com, https://platform.openai.com",
    ));
    let gateway = start(vars);
    let client = reqwest::Client::new();

    let refused = client
        .post(gateway.url("/tools/search"))
        .header("origin", "https://chatgpt.com")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["access-control-allow-origin"],
        "https://chatgpt.com"
    );
    let exposed = refused.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        exposed.split(',').any(|h| h.trim() == "www-authenticate"),
        "{exposed}"
    );

    let other = client
        .post(gateway.url("/tools/search"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(other.headers().get("access-control-allow-origin"), None);
}

// ---------------------------------------------------------------------------------------------
// Start-up and shutdown

#[test]
fn startup_errors_are_listed_together_and_secrets_are_not_printed() {
    let output = command(
        &[
            ("OAUTH_ISSUER", "http://tenant.example.com"),
            ("FUNCTIONS_BASE", "not a url"),
            ("MGMT_CLIENT_SECRET", "very-secret-management-value"),
            ("GATEWAY_HMAC_SECRET", "short-secret"),
            ("DEBUG_TOKEN_ENDPOINT", "yes"),
        ],
        &[],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = "error: the gateway configuration has 6 problem(s):
  - OAUTH_ISSUER `http://tenant.example.com` must be an https:// URL, e.g. https://YOUR_TENANT.us.auth0.com/
  - OAUTH_AUDIENCE is required with OAUTH_ISSUER: the Identifier of your Auth0 API
  - FUNCTIONS_BASE `not a url` is not a valid URL: relative URL without a base
  - GATEWAY_HMAC_SECRET is shorter than 32 characters; generate one with `openssl rand -base64 32`
  - the DCR webhook needs MGMT_DOMAIN, MGMT_CLIENT_ID, MGMT_CLIENT_SECRET, LOG_WEBHOOK_SECRET together: MGMT_CLIENT_SECRET set but MGMT_DOMAIN, MGMT_CLIENT_ID, LOG_WEBHOOK_SECRET missing (set them all, or none to turn the webhook off)
  - DEBUG_TOKEN_ENDPOINT `yes` must be 1 or 0
see .env.sample for every variable and its meaning";
    assert!(stderr.contains(expected), "{stderr}");
    assert!(!stderr.contains("very-secret"));
    assert!(!stderr.contains("short-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_in_flight_request_finish() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let slow_backend = Router::new().route(
        "/fn/{tool}",
        post(|| async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            "done"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fn", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, slow_backend).await.unwrap() });
    drop(up);
    let gateway = start(production_env(&issuer, &base));
    let request = tokio::spawn(
        reqwest::Client::new()
            .post(gateway.url("/tools/anything"))
            .bearer_auth(issuer.token("search.read"))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &gateway.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let response = request.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    let status = tokio::task::spawn_blocking(move || gateway.wait(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}

// ---------------------------------------------------------------------------------------------
// gateway doctor

async fn doctor(vars: Vec<(String, String)>, token: &str) -> (i32, String) {
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let output = command(&vars, &["doctor", "--token", &token])
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn owned(vars: Vec<(&str, &str)>) -> Vec<(String, String)> {
    vars.into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_issuer_and_explains_what_is_wrong_with_a_token() {
    let issuer = IssuerServer::start().await;
    let vars = owned(production_env(&issuer, "https://functions.example.com"));

    let (status, out) = doctor(vars.clone(), &issuer.token("search.read")).await;
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains(&format!(
            "[ok]   issuer metadata: {}.well-known/openid-configuration names issuer \"{}\"",
            issuer.issuer, issuer.issuer
        )),
        "{out}"
    );
    assert!(
        out.contains(
            "[warn] Dynamic Client Registration: the metadata has no registration_endpoint"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "[ok]   JWKS: 1 signing key(s) at {}",
            issuer.jwks_uri()
        )),
        "{out}"
    );
    assert!(
        out.contains(
            "[ok]   token: valid for https://api.test/mcp; sub auth0|user-1; scopes: search.read"
        ),
        "{out}"
    );
    assert!(
        out.contains("[ok]   token scopes: every call the policy names is allowed"),
        "{out}"
    );

    let mut scoped = vars.clone();
    scoped.push(("TOOL_SCOPES".to_owned(), TOOL_SCOPES.to_owned()));
    let (status, out) = doctor(scoped, &issuer.token("search.read")).await;
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("[FAIL] token scopes: insufficient_scope: docs.create (missing docs.read docs.write)\n       fix: grant the scopes"),
        "{out}"
    );

    let (status, out) = doctor(
        vars.clone(),
        "eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn",
    )
    .await;
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("[FAIL] token: ACCESS_TOKEN_IS_ENCRYPTED_JWE: a 5-part encrypted JWE\n       fix: the token was requested without your API's audience"), "{out}");

    let (status, out) = doctor(vars.clone(), "opaque-token-from-userinfo").await;
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("[FAIL] token: ACCESS_TOKEN_NOT_JWS: opaque, not a JWT"),
        "{out}"
    );

    let mut claims = issuer.claims("search.read");
    claims["exp"] = json!(now() - 3600);
    let (status, out) = doctor(vars.clone(), &format!("Bearer {}", issuer.sign(&claims))).await;
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("[FAIL] token: TOKEN_EXPIRED: "), "{out}");
    assert!(out.contains("fix: get a new token"), "{out}");

    let mut claims = issuer.claims("search.read");
    claims["aud"] = json!("https://tenant.example.com/userinfo");
    let (status, out) = doctor(vars, &issuer.sign(&claims)).await;
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("[FAIL] token: INVALID_AUDIENCE: "), "{out}");
    assert!(out.contains("fix: the token is for another API"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_and_never_carry_secrets_or_tokens() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.push(("LOG_FORMAT", "json"));
    vars.push(("RUST_LOG", "debug"));
    let gateway = start(vars);
    let token = issuer.token("search.read");
    let response = reqwest::Client::new()
        .post(gateway.url("/tools/search"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = gateway.stderr();
    let mut listening = false;
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        listening |= entry["fields"]["message"] == "gateway listening";
    }
    assert!(listening, "{logs}");
    assert!(!logs.contains(HMAC_SECRET));
    assert!(!logs.contains(&token));
    let signature = up.backend.seen.lock().unwrap()[0].headers["x-gateway-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!logs.contains(&signature));
}

// ---------------------------------------------------------------------------------------------
// The DCR webhook

const WEBHOOK_SECRET: &str = "log-webhook-secret-0123456789abcdefghij";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_stream_webhook_promotes_a_dcr_client_and_shows_in_health() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let fake = FakeAuth0::start().await;
    fake.add_connection("con_google", "google-oauth2");
    fake.add_client(dcr_client("dcr1", "ChatGPT"));
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.extend([
        ("MGMT_DOMAIN", TENANT),
        ("MGMT_BASE_URL", fake.base_url.as_str()),
        ("MGMT_CLIENT_ID", MGMT_CLIENT_ID),
        ("MGMT_CLIENT_SECRET", MGMT_CLIENT_SECRET),
        ("LOG_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("GOOGLE_CONNECTION_NAME", "google-oauth2"),
        ("TOOL_SCOPES", "search.read,docs.write"),
    ]);
    let gateway = start(vars);
    let client = reqwest::Client::new();
    let batch = serde_json::to_string(&json!([dcr_entry("L1", "dcr1")])).unwrap();

    let (_, before) = health(&gateway).await;
    assert_eq!(
        before["webhook"],
        json!({"enabled": true, "last_event_at": null})
    );

    let wrong = client
        .post(gateway.url("/auth0-log-webhook"))
        .bearer_auth("not-the-secret")
        .body(batch.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    assert_eq!(
        json_of(wrong).await,
        json!({"error": "invalid_webhook_secret"})
    );
    assert!(fake.api_calls().is_empty());

    let delivered = client
        .post(gateway.url("/auth0-log-webhook"))
        .header("x-webhook-secret", WEBHOOK_SECRET)
        .header("content-type", "application/json")
        .body(batch)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 200);
    let summary = json_of(delivered).await;
    assert_eq!(
        summary["promoted"],
        json!({"count": 1, "client_ids": ["dcr1"]})
    );
    assert_eq!(summary["failed"]["count"], 0);

    let promoted = fake.client("dcr1");
    assert_eq!(promoted["is_first_party"], true);
    assert_eq!(promoted["token_endpoint_auth_method"], "none");
    assert!(fake.enabled_clients("con_google").contains("dcr1"));
    let grants = fake.grants_for("dcr1");
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].audience, AUDIENCE);
    let mut granted = grants[0].scope.clone();
    granted.sort();
    assert_eq!(granted, ["docs.write", "search.read"]);

    let (status, after) = health(&gateway).await;
    assert_eq!(status, 200);
    assert!(
        after["webhook"]["last_event_at"].as_u64().is_some(),
        "{after}"
    );
    assert_eq!(after["management_api"]["last_call"]["ok"], true);
    assert!(!after.to_string().contains(MGMT_CLIENT_SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_management_credentials_the_webhook_is_not_mounted() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let gateway = start(production_env(&issuer, &up.functions_base));
    let response = reqwest::Client::new()
        .post(gateway.url("/auth0-log-webhook"))
        .header("x-webhook-secret", WEBHOOK_SECRET)
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(
        gateway
            .stderr()
            .contains("off (MGMT_* and LOG_WEBHOOK_SECRET not set)")
    );
    let (_, body) = health(&gateway).await;
    assert_eq!(
        body["webhook"],
        json!({"enabled": false, "last_event_at": null})
    );
    assert_eq!(body["management_api"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_management_api_credentials_scopes_and_connection() {
    let issuer = IssuerServer::start().await;
    let fake = FakeAuth0::start().await;
    fake.add_connection("con_google", "google-oauth2");
    let mut vars = production_env(&issuer, "https://functions.example.com");
    vars.extend([
        ("MGMT_DOMAIN", TENANT),
        ("MGMT_BASE_URL", fake.base_url.as_str()),
        ("MGMT_CLIENT_ID", MGMT_CLIENT_ID),
        ("MGMT_CLIENT_SECRET", MGMT_CLIENT_SECRET),
        ("LOG_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("GOOGLE_CONNECTION_NAME", "google-oauth2,github"),
    ]);
    let (status, out) = doctor(owned(vars.clone()), &issuer.token("search.read")).await;
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("[ok]   Management API scopes: read:clients update:clients read:connections update:connections read:client_grants create:client_grants update:client_grants"), "{out}");
    assert!(
        out.contains("[ok]   connection: `google-oauth2` exists"),
        "{out}"
    );
    assert!(
        out.contains("[FAIL] connection: no connection named `github`"),
        "{out}"
    );
    // The fake tenant has no resource-servers endpoint: the API cannot be found.
    assert!(
        out.contains("[FAIL] API: no API with identifier `https://api.test/mcp`"),
        "{out}"
    );
    assert!(!out.contains(MGMT_CLIENT_SECRET));

    let mut wrong = vars;
    wrong.retain(|(k, _)| *k != "MGMT_CLIENT_SECRET");
    wrong.push(("MGMT_CLIENT_SECRET", "wrong-secret"));
    let (status, out) = doctor(owned(wrong), &issuer.token("search.read")).await;
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("[FAIL] Management API token: HTTP 401 Unauthorized: Unauthorized\n       fix: check MGMT_CLIENT_ID / MGMT_CLIENT_SECRET"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Scopes and metadata

const TOOL_SCOPES: &str = "search=search.read;docs.create=docs.write,docs.read";

fn scoped_env<'a>(issuer: &'a IssuerServer, up: &'a Upstreams) -> Vec<(&'a str, &'a str)> {
    let mut vars = production_env(issuer, &up.functions_base);
    vars.extend([
        ("TOOL_SCOPES", TOOL_SCOPES),
        ("REQUIRED_SCOPES", "mcp:access"),
        ("MCP_UPSTREAM", up.mcp_url.as_str()),
    ]);
    vars
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_served_at_both_well_known_paths_and_challenges_point_at_it() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = scoped_env(&issuer, &up);
    let resource = format!("{}/mcp", "https://gateway.test");
    vars.push(("RESOURCE_URL", &resource));
    let gateway = start(vars);
    let expected = json!({
        "resource": "https://gateway.test/mcp",
        "authorization_servers": [issuer.issuer],
        "scopes_supported": ["docs.read", "docs.write", "mcp:access", "search.read"],
        "bearer_methods_supported": ["header"],
        "resource_name": "tower-mcp-auth gateway",
        "scopes": {
            "docs.create": ["docs.read", "docs.write", "mcp:access"],
            "search": ["mcp:access", "search.read"],
        },
    });
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = reqwest::get(gateway.url(path)).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(json_of(response).await, expected, "{path}");
    }
    // The 401 names the metadata URL of RESOURCE_URL and suggests the default scopes.
    let refused = reqwest::Client::new()
        .post(gateway.url("/tools/search"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer resource_metadata=\"https://gateway.test/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:access\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tool_needs_its_own_scopes_over_rest_and_over_mcp() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let gateway = start(scoped_env(&issuer, &up));
    let client = reqwest::Client::new();
    let token = issuer.token("mcp:access search.read");

    let allowed = client
        .post(gateway.url("/tools/search"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 201);

    let step_up = client
        .post(gateway.url("/tools/docs.create"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(step_up.status(), 403);
    let challenge = step_up.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.ends_with("scope=\"docs.read docs.write mcp:access\""),
        "{challenge}"
    );
    let body = json_of(step_up).await;
    assert_eq!(body["code"], "insufficient_scope");
    assert_eq!(body["missing_scopes"], json!(["docs.read", "docs.write"]));

    let call = |tool: &str| {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": tool, "arguments": {}}})
        .to_string()
    };
    let mcp_refused = client
        .post(gateway.url("/mcp"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(call("docs.create"))
        .send()
        .await
        .unwrap();
    assert_eq!(mcp_refused.status(), 403);
    let body = json_of(mcp_refused).await;
    assert_eq!(body["operation"], "tools/call docs.create");
    assert_eq!(body["scope"], "docs.read docs.write mcp:access");

    let mcp_allowed = client
        .post(gateway.url("/mcp"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(call("search"))
        .send()
        .await
        .unwrap();
    assert_eq!(mcp_allowed.status(), 200);
    // Only the two allowed calls reached a backend.
    assert_eq!(up.backend.seen.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_token_lists_the_tools_the_token_may_call() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = scoped_env(&issuer, &up);
    vars.push(("DEBUG_TOKEN_ENDPOINT", "1"));
    let gateway = start(vars);
    let body = json_of(
        reqwest::Client::new()
            .get(gateway.url("/debug-token"))
            .bearer_auth(issuer.token("search.read"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // No mcp:access: the token may call nothing, and the endpoint still answers (no guard).
    assert_eq!(body["derived"]["tools_allowed"], json!([]));
    assert_eq!(body["derived"]["unknown_tools_allowed"], false);

    let body = json_of(
        reqwest::Client::new()
            .get(gateway.url("/debug-token"))
            .bearer_auth(issuer.token("mcp:access search.read"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["derived"]["tools_allowed"], json!(["search"]));
}

#[test]
fn print_action_fills_required_scopes_from_the_configured_policy() {
    let output = command(
        &[
            ("TOOL_SCOPES", TOOL_SCOPES),
            ("REQUIRED_SCOPES", "mcp:access"),
        ],
        &["print-action"],
    )
    .output()
    .unwrap();
    assert!(output.status.success());
    let action = String::from_utf8(output.stdout).unwrap();
    assert!(action.starts_with("/**\n * Auth0 Post-Login Action for ChatGPT connectors"));
    assert!(action.contains(
        "  const REQUIRED_SCOPES = [\n    'docs.read',\n    'docs.write',\n    'mcp:access',\n    'search.read',\n  ];\n  // REQUIRED_SCOPES:END\n"
    ), "{action}");
    assert!(action.contains("exports.onExecutePostLogin = async (event, api) => {"));

    let bad = command(
        &[("TOOL_SCOPES", "search=search.read;docs")],
        &["print-action"],
    )
    .output()
    .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains(
        "TOOL_SCOPES: entry `docs` has no `=`; the per-tool form is `tool=scope1,scope2;tool2=scope3`"
    ));
}
