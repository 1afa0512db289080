//! The example gateway, run as a real process: dev mode's printed commands, the signed proxy
//! (identity headers, stripped credentials, 502/504, SSE streaming), per-tool scopes and the
//! protected resource metadata.
#![cfg(feature = "auth0")]

mod support;
use support::{gateway::backends, issuer_server};

use std::time::Duration;

use backends::*;
use issuer_server::IssuerServer;
use serde_json::json;

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
    assert_eq!(commands.len(), 3, "{}", gateway.stdout);

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

    // Dev mode shows one public tool: its command carries no token.
    assert!(!commands[2].contains("Authorization"), "{}", commands[2]);
    let public = run_curl(commands[2]).await;
    assert_eq!(public.status(), 200);
    assert_eq!(
        json_of(public).await,
        json!({"tool": "status", "status": "ok", "sub": "", "signature": "verified"})
    );
    // Every other tool still needs a token: 401 naming that tool's scope.
    let anonymous = reqwest::Client::new()
        .post(format!("{}/tools/whoami", gateway.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"demo:read\"",
            gateway.base
        )
        .as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_health_reports_the_embedded_issuer() {
    let gateway = start(vec![]);
    let response = reqwest::get(gateway.url("/health/auth0")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = json_of(response).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["mode"], "dev");
    // The embedded issuer has a loopback listener of its own.
    let issuer = body["issuer"].as_str().unwrap();
    assert!(
        issuer.starts_with("http://127.0.0.1:") && issuer.ends_with("/dev-issuer/"),
        "{issuer}"
    );
    assert_ne!(issuer, format!("{}/dev-issuer/", gateway.base));
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
    let valid = |method, path| signature_is_valid(method, path, "", &seen.body, &seen.headers);
    assert!(valid("POST", "/fn/search"));
    assert!(!valid("POST", "/fn/delete"));
    assert!(!valid("GET", "/fn/search"));
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
    let (_port, closed) = closed_port_url();
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
// Scopes and metadata

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
        challenge.contains("error=\"insufficient_scope\", scope=\"docs.read docs.write mcp:access\", error_description="),
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
