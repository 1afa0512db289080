//! Mixed ("lazy") auth end to end: `examples/mcp_server.rs`'s `app_with` (optional bearer,
//! public discovery, a public tool, HTTP or tool-result challenges, `tools/list` trimming,
//! `docs:write` implying `docs:read`) on loopback, a real issuer, and the official `rmcp`
//! client or plain HTTP.

mod support;
use mcp::{Server, call, guard, text};
use support::mcp;

#[allow(dead_code)]
#[path = "../examples/mcp_server.rs"]
mod example;

use example::MixedAuth;
use rmcp::RoleClient;
use rmcp::service::RunningService;
use serde_json::{Value, json};
use tower_mcp_auth::scope::ChallengeMode;

/// `None`: the example's plain `app` (every request needs a token).
async fn server(mixed: Option<MixedAuth>) -> Server {
    Server::start(|verifier, base| match mixed {
        Some(mixed) => example::app_with(verifier, base, mixed).unwrap(),
        None => example::app(verifier, base).unwrap(),
    })
    .await
}

fn mixed(mode: ChallengeMode, hide_unauthorized_tools: bool) -> Option<MixedAuth> {
    Some(MixedAuth {
        mode,
        hide_unauthorized_tools,
    })
}

impl Server {
    /// One JSON-RPC POST outside any session (the guard answers before the server would ask
    /// for one).
    async fn post(&self, token: Option<&str>, accept: &str, message: Value) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(&self.mcp_url)
            .header("accept", accept)
            .json(&message);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        guard(request.send()).await.unwrap()
    }
}

async fn tool_names(client: &RunningService<RoleClient, ()>) -> Vec<String> {
    let mut names: Vec<String> = guard(client.list_all_tools())
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect();
    names.sort();
    names
}

/// The TypeScript and Python SDKs' parser: the first match of
/// `{name}=(?:"([^"]+)"|([^\s,]+))` anywhere in the header
/// (typescript-sdk `extractFieldFromWwwAuth`; python-sdk `extract_field_from_www_auth`).
fn sdk_first_match(header: &str, name: &str) -> Option<String> {
    let key = format!("{name}=");
    let mut from = 0;
    while let Some(offset) = header[from..].find(&key) {
        let start = from + offset + key.len();
        let rest = &header[start..];
        if let Some(quoted) = rest.strip_prefix('"')
            && let Some(end) = quoted.find('"')
            && end > 0
        {
            return Some(quoted[..end].to_owned());
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        if end > 0 {
            return Some(rest[..end].to_owned());
        }
        from = start;
    }
    None
}

/// rmcp 3.11's parser: the first `{name}=` of the lower-cased header, quoted value up to the
/// next `"` (`transport/common/http_header.rs` `extract_scope_from_header`).
fn rmcp_first_match(header: &str, name: &str) -> Option<String> {
    let key = format!("{name}=");
    let start = header.to_ascii_lowercase().find(&key)? + key.len();
    let value = &header[start..];
    match value.strip_prefix('"') {
        Some(quoted) => quoted.find('"').map(|end| quoted[..end].to_owned()),
        None => {
            let end = value
                .find(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .unwrap_or(value.len());
            (end > 0).then(|| value[..end].to_owned())
        }
    }
}

/// Asserts what every first-match parser reads from `challenge`.
fn assert_challenge_parses(challenge: &str, server: &Server, error: &str, scope: &str) {
    for parse in [sdk_first_match, rmcp_first_match] {
        assert_eq!(
            parse(challenge, "error").as_deref(),
            Some(error),
            "{challenge}"
        );
        assert_eq!(
            parse(challenge, "scope").as_deref(),
            Some(scope),
            "{challenge}"
        );
        assert_eq!(
            parse(challenge, "resource_metadata"),
            Some(server.metadata_url()),
            "{challenge}"
        );
        assert!(
            parse(challenge, "error_description").is_some(),
            "{challenge}"
        );
    }
}

#[tokio::test]
async fn rmcp_client_without_token_initializes_lists_tools_and_calls_the_public_tool() {
    let server = server(mixed(ChallengeMode::Http, false)).await;
    let client = server.client(None).await;
    assert_eq!(
        client
            .peer_info()
            .unwrap()
            .server_info
            .as_ref()
            .unwrap()
            .name,
        "protected-mcp-example"
    );
    let tools = guard(client.list_all_tools()).await.unwrap();
    let schemes: Vec<(String, Value)> = tools
        .iter()
        .map(|tool| {
            let meta = tool.meta.as_ref().expect("every tool has _meta");
            (tool.name.to_string(), meta.0["securitySchemes"].clone())
        })
        .collect();
    assert_eq!(
        schemes.len(),
        3,
        "nothing is hidden without the option: {schemes:?}"
    );
    for (name, schemes) in schemes {
        let expected = match name.as_str() {
            "whoami" => json!([{"type": "noauth"}]),
            "search_docs" => json!([{"type": "oauth2", "scopes": ["docs:read"]}]),
            "countdown" => json!([{"type": "oauth2", "scopes": ["jobs:run"]}]),
            other => panic!("unexpected tool {other}"),
        };
        assert_eq!(schemes, expected, "{name}");
    }
    let result = guard(client.call_tool(call("whoami", json!({}))))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false));
    assert_eq!(text(&result.content), "anonymous");
    guard(client.cancel()).await.unwrap();
}

#[tokio::test]
async fn http_mode_protected_tool_without_token_is_401_naming_that_tools_scopes() {
    let server = server(mixed(ChallengeMode::Http, false)).await;
    let client = server.client(None).await;
    let error = guard(client.call_tool(call("search_docs", json!({"query": "x"}))))
        .await
        .expect_err("search_docs needs a token");
    let expected = format!(
        r#"Bearer resource_metadata="{}", scope="docs:read""#,
        server.metadata_url()
    );
    assert_eq!(error.auth_challenge(), Some(expected.as_str()));
    guard(client.cancel()).await.unwrap();

    let response = server
        .post(
            None,
            "application/json, text/event-stream",
            json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                   "params": {"name": "countdown", "arguments": {"seconds": 1}}}),
        )
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        format!(
            r#"Bearer resource_metadata="{}", scope="jobs:run""#,
            server.metadata_url()
        )
        .as_str()
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "MISSING_TOKEN");
    assert_eq!(body["operation"], "tools/call countdown");
    assert_eq!(body["scope"], "jobs:run");
}

#[tokio::test]
async fn tool_result_mode_answers_a_protected_call_without_token_with_an_is_error_result() {
    let server = server(mixed(ChallengeMode::ToolResult, false)).await;
    let client = server.client(None).await;
    let result = guard(client.call_tool(call("search_docs", json!({"query": "x"}))))
        .await
        .expect("a tool result, not a transport error");
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text(&result.content),
        "tools/call search_docs requires an access token with the scope(s) docs:read"
    );
    let meta = result.meta.expect("_meta");
    let challenges = meta.0["mcp/www_authenticate"].as_array().unwrap();
    assert_eq!(challenges.len(), 1);
    let challenge = challenges[0].as_str().unwrap();
    assert_challenge_parses(challenge, &server, "invalid_token", "docs:read");
    // The session goes on: the public tool still works.
    let result = guard(client.call_tool(call("whoami", json!({}))))
        .await
        .unwrap();
    assert_eq!(text(&result.content), "anonymous");
    guard(client.cancel()).await.unwrap();
}

#[tokio::test]
async fn tool_result_mode_answers_a_call_without_its_scope_with_insufficient_scope() {
    let server = server(mixed(ChallengeMode::ToolResult, false)).await;
    let client = server.client(Some("docs:read")).await;
    let result = guard(client.call_tool(call("countdown", json!({"seconds": 1}))))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    let meta = result.meta.expect("_meta");
    let challenge = meta.0["mcp/www_authenticate"][0].as_str().unwrap();
    assert_challenge_parses(challenge, &server, "insufficient_scope", "jobs:run");
    guard(client.cancel()).await.unwrap();
}

#[tokio::test]
async fn tool_result_framing_follows_accept_json_or_one_sse_event() {
    let server = server(mixed(ChallengeMode::ToolResult, false)).await;
    let message = json!({"jsonrpc": "2.0", "id": "req-9", "method": "tools/call",
                         "params": {"name": "countdown", "arguments": {"seconds": 1}}});
    let expected_result = |body: Value| {
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["id"], "req-9");
        assert_eq!(body["result"]["isError"], true);
        let challenge = body["result"]["_meta"]["mcp/www_authenticate"][0]
            .as_str()
            .unwrap()
            .to_owned();
        assert_challenge_parses(&challenge, &server, "invalid_token", "jobs:run");
    };

    let json = server
        .post(None, "application/json, text/event-stream", message.clone())
        .await;
    assert_eq!(json.status(), 200);
    assert_eq!(json.headers()["content-type"], "application/json");
    assert!(!json.headers().contains_key("www-authenticate"));
    expected_result(json.json().await.unwrap());

    let sse = server.post(None, "text/event-stream", message).await;
    assert_eq!(sse.status(), 200);
    assert_eq!(sse.headers()["content-type"], "text/event-stream");
    let text = sse.text().await.unwrap();
    let data = text
        .strip_prefix("event: message\ndata: ")
        .and_then(|rest| rest.strip_suffix("\n\n"))
        .unwrap_or_else(|| panic!("one SSE event: {text:?}"));
    expected_result(serde_json::from_str(data).unwrap());

    // Other methods keep their HTTP answers in this mode.
    let response = server
        .post(
            None,
            "application/json, text/event-stream",
            json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read",
                   "params": {"uri": "file:///x"}}),
        )
        .await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_present_but_invalid_token_is_401_in_every_mode() {
    for mixed in [
        None,
        mixed(ChallengeMode::Http, false),
        mixed(ChallengeMode::ToolResult, true),
    ] {
        let server = server(mixed).await;
        let mut claims = server.issuer.claims("docs:read jobs:run");
        claims["aud"] = json!(server.mcp_url);
        claims["exp"] = json!(1_000_000);
        let expired = server.issuer.sign(&claims);
        for message in [
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "search_docs", "arguments": {"query": "x"}}}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        ] {
            let response = server
                .post(
                    Some(&expired),
                    "application/json, text/event-stream",
                    message,
                )
                .await;
            assert_eq!(response.status(), 401, "{mixed:?}");
            let challenge = response.headers()["www-authenticate"].to_str().unwrap();
            assert!(
                challenge.contains(r#"error="invalid_token""#),
                "{challenge}"
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "TOKEN_EXPIRED");
        }
    }
}

#[tokio::test]
async fn trimmed_tools_list_shows_each_caller_exactly_the_tools_it_can_call() {
    let server = server(mixed(ChallengeMode::Http, true)).await;
    for (scope, expected) in [
        (None, vec!["whoami"]),
        (Some("docs:read"), vec!["search_docs", "whoami"]),
        // docs:write implies docs:read in this policy.
        (Some("docs:write"), vec!["search_docs", "whoami"]),
        (
            Some("docs:read jobs:run"),
            vec!["countdown", "search_docs", "whoami"],
        ),
    ] {
        let client = server.client(scope).await;
        assert_eq!(tool_names(&client).await, expected, "{scope:?}");
        guard(client.cancel()).await.unwrap();
    }
}

#[tokio::test]
async fn sse_progress_of_other_requests_streams_through_the_tools_list_filter() {
    let server = server(mixed(ChallengeMode::Http, true)).await;
    let countdown = server.start_countdown("docs:read jobs:run").await;
    // While the countdown streams, a tools/list on the same session is trimmed and answered.
    let tools = guard(countdown.client.list_all_tools()).await.unwrap();
    assert_eq!(tools.len(), 3);
    countdown.cancel().await;
}

#[tokio::test]
async fn scope_implication_lets_docs_write_call_a_docs_read_tool_only_when_configured() {
    // Configured (app_with: docs:write implies docs:read).
    let server_with = server(mixed(ChallengeMode::Http, false)).await;
    let client = server_with.client(Some("docs:write")).await;
    let result = guard(client.call_tool(call("search_docs", json!({"query": "x"}))))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false));
    // The 403 still names the exact scope the tool needs.
    let error = guard(client.call_tool(call("countdown", json!({"seconds": 1}))))
        .await
        .expect_err("countdown needs jobs:run");
    let challenge = error.auth_challenge().expect("a challenge").to_owned();
    assert_eq!(
        sdk_first_match(&challenge, "scope").as_deref(),
        Some("jobs:run")
    );
    guard(client.cancel()).await.unwrap();
    // The metadata names only the scopes the policy names: docs:write is not among them.
    let metadata: Value = reqwest::get(server_with.metadata_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["scopes_supported"],
        json!(["docs:read", "jobs:run"])
    );

    // Not configured (app): docs:write is just another scope.
    let server_without = server(None).await;
    let client = server_without.client(Some("docs:write")).await;
    let error = guard(client.call_tool(call("search_docs", json!({"query": "x"}))))
        .await
        .expect_err("docs:write does not imply docs:read here");
    let challenge = error.auth_challenge().expect("a challenge").to_owned();
    assert_eq!(
        sdk_first_match(&challenge, "error").as_deref(),
        Some("insufficient_scope")
    );
    assert_eq!(
        sdk_first_match(&challenge, "scope").as_deref(),
        Some("docs:read")
    );
    guard(client.cancel()).await.unwrap();
}
