//! The example gateway's `POST /tools/{tool}`, run as a real process and tried as an attacker
//! would (security review finding 1 and 5): every spelling of a protected tool's name gets that
//! tool's check or is refused as non-canonical, and unnamed tools are denied by default.
#![cfg(feature = "auth0")]

mod support;
use support::{gateway::backends, issuer_server};

use std::io::{Read, Write};

use backends::*;
use issuer_server::IssuerServer;
use proptest::prelude::*;
use serde_json::{Value, json};

/// The demo token the dev-mode banner prints.
fn demo_token(stdout: &str) -> String {
    let start = stdout.find("Bearer ").expect("a token in the banner") + "Bearer ".len();
    let rest = &stdout[start..];
    rest[..rest.find('\'').expect("end of the token")].to_owned()
}

async fn post_tool(base: &str, raw_tool: &str, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/tools/{raw_tool}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Sends a request line exactly as written (an HTTP client would normalise dot segments) and
/// returns the answer's status code and body.
fn raw_request(base: &str, path: &str, token: &str) -> (u16, Value) {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    status_and_body(&answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percent_encoded_admin_tool_is_refused_for_the_demo_token() {
    let gateway = start(vec![]);
    let token = demo_token(&gateway.stdout);
    // The review's reproduction: before the fix each of these was 200 with the admin report.
    for spelling in [
        "admin%5Freport",
        "%61dmin_report",
        "admin_repor%74",
        "admin%5freport",
    ] {
        let (status, body) = post_tool(&gateway.base, spelling, &token).await;
        assert_eq!(status, 400, "{spelling}: {body}");
        assert_eq!(body["code"], "NON_CANONICAL_PATH", "{spelling}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with("The request path is not in canonical form: "),
            "{body}"
        );
    }
    let (status, body) = post_tool(&gateway.base, "admin_report", &token).await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "insufficient_scope");
    // The guard's route rule for the canonical path refuses it first (the handler's check on the
    // decoded name stays behind it).
    assert_eq!(body["operation"], "POST /tools/admin_report");
    assert_eq!(body["missing_scopes"], json!(["demo:admin"]));
    let (status, _) = post_tool(&gateway.base, "whoami", &token).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_and_empty_segments_and_case_variants_are_refused() {
    let gateway = start(vec![]);
    let token = demo_token(&gateway.stdout);
    for (path, code) in [
        ("/tools/%2E%2E", "NON_CANONICAL_PATH"),
        ("/tools/%2e", "NON_CANONICAL_PATH"),
        ("/tools/..", "NON_CANONICAL_PATH"),
        ("/tools/.", "NON_CANONICAL_PATH"),
    ] {
        let (status, body) = raw_request(&gateway.base, path, &token);
        assert_eq!((status, body["code"].as_str()), (400, Some(code)), "{path}");
    }
    // Some backends route without regard to case (Express, ASP.NET Core).
    for spelling in ["ADMIN_REPORT", "Admin_Report"] {
        let (status, body) = post_tool(&gateway.base, spelling, &token).await;
        assert_eq!(status, 400, "{spelling}");
        assert_eq!(body["code"], "NON_CANONICAL_TOOL_NAME");
        assert_eq!(
            body["error_description"],
            format!("Tool names are case-sensitive: `{spelling}` is not the tool `admin_report`")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_the_policy_does_not_name_are_denied_by_default_and_allowed_on_request() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let token = issuer.token("mcp:access search.read docs.read docs.write");
    let gateway = start(scoped_env(&issuer, &up));
    let response = reqwest::Client::new()
        .post(gateway.url("/tools/internal_debug"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body = json_of(response).await;
    assert_eq!(body["code"], "OPERATION_NOT_ALLOWED");
    // The same tool through /mcp: the guard denies it too.
    let response = reqwest::Client::new()
        .post(gateway.url("/mcp"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "internal_debug", "arguments": {}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body = json_of(response).await;
    assert_eq!(body["code"], "OPERATION_NOT_ALLOWED");
    assert_eq!(
        body["error_description"],
        "tools/call internal_debug is not allowed on this server: the scope policy does not name it"
    );
    assert!(up.backend.seen.lock().unwrap().is_empty());

    let mut vars = scoped_env(&issuer, &up);
    vars.push(("UNKNOWN_TOOLS", "allow"));
    let allowing = start(vars);
    let response = reqwest::Client::new()
        .post(allowing.url("/tools/internal_debug"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        up.backend.seen.lock().unwrap()[0].path,
        "/fn/internal_debug"
    );
}

/// Spellings of `name`: each character as is, `%XX` or `%xx`, at least one escaped.
fn spellings(name: &'static str) -> impl Strategy<Value = String> {
    (proptest::collection::vec(0u8..3, name.len()), 0..name.len()).prop_map(
        move |(choices, forced)| {
            let mut out = String::new();
            for (i, (byte, choice)) in name.bytes().zip(choices).enumerate() {
                match (choice, i == forced) {
                    (0, false) => out.push(char::from(byte)),
                    (2, _) => out.push_str(&format!("%{byte:02x}")),
                    _ => out.push_str(&format!("%{byte:02X}")),
                }
            }
            out
        },
    )
}

#[test]
fn no_spelling_of_a_protected_tool_reaches_the_backend_unchecked() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let gateway = start(vec![]);
    let token = demo_token(&gateway.stdout);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(128));
    runner
        .run(&spellings("admin_report"), |spelling| {
            let (status, body) = runtime.block_on(post_tool(&gateway.base, &spelling, &token));
            // Either the tool's own check (403 for demo:read) or refused as non-canonical:
            // never the admin report.
            prop_assert!(
                (status, body["code"].as_str()) == (400, Some("NON_CANONICAL_PATH"))
                    || (status, body["code"].as_str()) == (403, Some("insufficient_scope")),
                "{spelling}: {status} {body}"
            );
            prop_assert_ne!(body.get("report"), Some(&json!("all systems nominal")));
            Ok(())
        })
        .unwrap();
}
