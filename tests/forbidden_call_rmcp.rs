//! A forbidden `tools/call`, dressed up every way (`support/forbidden_call.rs`), through the
//! layers to a real MCP server built with the official Rust SDK (rmcp 3.11, streamable HTTP with
//! sessions) in process: the guard refuses each, and the tool never runs.

mod support;
use support::forbidden_call;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use forbidden_call::*;
use http::{HeaderMap, HeaderValue, StatusCode};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;

/// Two tools that count their runs.
#[derive(Clone, Default)]
struct Counted {
    admin_runs: Arc<AtomicUsize>,
    open_runs: Arc<AtomicUsize>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct Args {
    /// Any number.
    #[serde(default)]
    #[allow(dead_code)]
    n: Option<f64>,
}

#[tool_router]
impl Counted {
    #[tool(description = "Needs tools.write")]
    fn admin_report(&self, Parameters(_): Parameters<Args>) -> String {
        self.admin_runs.fetch_add(1, Ordering::SeqCst);
        "admin report".to_owned()
    }

    #[tool(description = "Needs tools.read")]
    fn open_report(&self, Parameters(_): Parameters<Args>) -> String {
        self.open_runs.fetch_add(1, Ordering::SeqCst);
        "open report".to_owned()
    }
}

#[tool_handler]
impl ServerHandler for Counted {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("counted", "0.1.0"))
    }
}

async fn start(tools: Counted) -> String {
    let mcp = StreamableHttpService::new(
        move || Ok(tools.clone()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    format!("{}/mcp", serve(protect(mcp)).await)
}

/// Initializes an rmcp session with `token`; the headers later requests carry.
async fn session(client: &reqwest::Client, url: &str, token: &str) -> HeaderMap {
    let initialize = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}"#;
    let response = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let id = response.headers()["mcp-session-id"].clone();
    let mut headers = HeaderMap::new();
    headers.insert("mcp-session-id", id);
    headers.insert(
        "mcp-protocol-version",
        HeaderValue::from_static("2025-06-18"),
    );
    response.text().await.unwrap();
    let initialized = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .headers(headers.clone())
        .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(initialized.status(), StatusCode::ACCEPTED);
    headers
}

#[tokio::test]
async fn no_dressing_of_a_forbidden_call_runs_the_rmcp_tool() {
    let tools = Counted::default();
    let url = start(tools.clone()).await;
    let client = reqwest::Client::new();
    let headers = session(&client, &url, READER).await;

    let admin_runs = || tools.admin_runs.load(Ordering::SeqCst);
    assert_no_dressing_runs_the_tool(&client, &url, &headers, admin_runs).await;
    // The allowed call reached rmcp and ran.
    assert_eq!(tools.open_runs.load(Ordering::SeqCst), 1);
    assert_eq!(tools.admin_runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_rmcp_session_belongs_to_the_user_who_started_it() {
    let tools = Counted::default();
    let url = start(tools.clone()).await;
    let client = reqwest::Client::new();
    let alice = session(&client, &url, READER).await;
    let allowed = Dressing {
        name: "allowed",
        headers: vec![(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body: call("open_report", "{}").into(),
        status: StatusCode::OK,
    };

    // Another user's token with Alice's session id: 404, as for an unknown session.
    let (status, body) = send(&client, &url, OTHER_READER, &allowed, &alice).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let refusal: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refusal["code"], "MCP_SESSION_NOT_FOUND");
    assert_eq!(refusal["error"], "session_not_found");
    assert_eq!(tools.open_runs.load(Ordering::SeqCst), 0);
    for method in [http::Method::GET, http::Method::DELETE] {
        let response = client
            .request(method.clone(), &url)
            .bearer_auth(OTHER_READER)
            .header("accept", "text/event-stream")
            .headers(alice.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method}");
    }

    // Alice's own token still works in her session (the DELETE above did not end it).
    let (status, body) = send(&client, &url, READER, &allowed, &alice).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(tools.open_runs.load(Ordering::SeqCst), 1);

    // A session id nobody was issued: 404.
    let mut made_up = alice.clone();
    made_up.insert("mcp-session-id", HeaderValue::from_static("made-up"));
    let (status, _) = send(&client, &url, READER, &allowed, &made_up).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Alice ends her session; its id is then unknown to the guard too.
    let response = client
        .delete(&url)
        .bearer_auth(READER)
        .headers(alice.clone())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let (status, _) = send(&client, &url, READER, &allowed, &alice).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The gzip dressings are only as good as their trailer: the CRC-32 check value of the
/// standard check string.
#[test]
fn crc32_of_the_check_string() {
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
}
