//! The example gateway's operations side, run as a real process: `/health/auth0` following the
//! JWKS, `/debug-token`, CORS, start-up errors, graceful shutdown, JSON logs.
#![cfg(feature = "auth0")]

mod support;
use support::{gateway::backends, gateway::process, issuer_server};

use std::time::Duration;

use axum::Router;
use axum::routing::post;
use backends::*;
use issuer_server::{IssuerServer, JwksMode};
use process::command;
use serde_json::{Value, json};

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
