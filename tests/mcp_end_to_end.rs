//! `examples/mcp_server.rs` end to end: the example's own axum app (rmcp streamable HTTP server
//! behind the layers) on loopback, a real issuer with a test JWKS, and the official `rmcp` client
//! over real HTTP.

mod support;
use mcp::{Server, call, guard, text};
use support::mcp;

#[allow(dead_code)]
#[path = "../examples/mcp_server.rs"]
mod example;

use rmcp::ServiceExt;
use rmcp::transport::auth::{AuthorizationManager, AuthorizationMetadataSource};
use rmcp::transport::streamable_http_client::InsufficientScopeError;
use serde_json::{Value, json};

async fn server() -> Server {
    Server::start(|verifier, base| example::app(verifier, base).unwrap()).await
}

#[tokio::test]
async fn rmcp_client_with_valid_token_initializes_lists_tools_and_calls_a_tool() {
    let server = server().await;
    let client = server.client(Some("docs:read")).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().unwrap().name,
        "protected-mcp-example"
    );

    let mut tools: Vec<String> = guard(client.list_all_tools())
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect();
    tools.sort();
    assert_eq!(tools, ["countdown", "search_docs", "whoami"]);

    let result = guard(client.call_tool(call("search_docs", json!({"query": "oauth"}))))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false));
    // `search_docs` takes the verified token as a parameter (`token: AccessToken`, feature
    // `rmcp`): the answer names the token's subject.
    assert_eq!(
        text(&result.content),
        "no documents match `oauth` for auth0|user-1"
    );

    // `whoami` (public in the mixed form) reads the token from the request's `Extension<Parts>`.
    let result = guard(client.call_tool(call("whoami", json!({}))))
        .await
        .unwrap();
    assert_eq!(
        text(&result.content),
        "auth0|user-1 with scopes [docs:read]"
    );
    guard(client.cancel()).await.unwrap();
}

#[tokio::test]
async fn rmcp_client_without_token_fails_to_initialize_with_the_challenge() {
    let server = server().await;
    let error = guard(().serve(server.transport(None)))
        .await
        .expect_err("no token");
    assert!(error.is_authorization_required(), "{error:?}");
    assert_eq!(
        error.auth_challenge(),
        Some(
            format!(
                r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource/mcp", scope="docs:read jobs:run""#,
                server.base
            )
            .as_str()
        )
    );
}

fn metadata_url(server: &Server) -> String {
    server.metadata_url()
}

#[tokio::test]
async fn rmcp_call_of_a_tool_without_its_scope_is_403_step_up() {
    let server = server().await;
    let client = server.client(Some("docs:read")).await;
    let error = guard(client.call_tool(call("countdown", json!({"seconds": 1}))))
        .await
        .expect_err("countdown needs jobs:run");
    assert_eq!(
        error.auth_challenge(),
        Some(
            format!(
                r#"Bearer resource_metadata="{}", error="insufficient_scope", scope="jobs:run", error_description="tools/call countdown requires the scope(s) jobs:run; the token lacks jobs:run""#,
                metadata_url(&server)
            )
            .as_str()
        )
    );
    // rmcp's client reads the scope list to step up (SEP-2350: only this operation's scopes).
    let mut source = std::error::Error::source(&error);
    let mut required = None;
    while let Some(current) = source {
        if let Some(insufficient) = current.downcast_ref::<InsufficientScopeError>() {
            required = insufficient.get_required_scope().map(str::to_owned);
        }
        source = current.source();
    }
    assert_eq!(required.as_deref(), Some("jobs:run"));

    // The session survives the refusal: an allowed call still works.
    let result = guard(client.call_tool(call("search_docs", json!({"query": "x"}))))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false));
    guard(client.cancel()).await.unwrap();
}

#[tokio::test]
async fn tool_call_without_its_scope_is_http_403_with_scope_list_and_json_body() {
    let server = server().await;
    let response = reqwest::Client::new()
        .post(&server.mcp_url)
        .bearer_auth(server.token("docs:read"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "countdown", "arguments": {"seconds": 1}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    // `error` and `scope` before the description: first-match parsers read the right ones.
    assert!(
        challenge.starts_with(&format!(
            r#"Bearer resource_metadata="{}", error="insufficient_scope", scope="jobs:run", error_description=""#,
            metadata_url(&server)
        )),
        "{challenge}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["code"], "insufficient_scope");
    assert_eq!(body["scope"], "jobs:run");
    assert_eq!(body["missing_scopes"], json!(["jobs:run"]));
    assert_eq!(body["operation"], "tools/call countdown");
}

#[tokio::test]
async fn the_401_metadata_url_serves_a_prm_whose_resource_is_the_mcp_url() {
    let server = server().await;
    let http = reqwest::Client::new();
    let response = http
        .post(&server.mcp_url)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let url = challenge
        .strip_prefix(r#"Bearer resource_metadata=""#)
        .and_then(|rest| rest.split('"').next())
        .expect("resource_metadata first");
    assert_eq!(url, metadata_url(&server));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "MISSING_TOKEN");

    let metadata: Value = http.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(metadata["resource"], server.mcp_url);
    assert_eq!(
        metadata["authorization_servers"],
        json!([server.issuer.issuer])
    );
    assert_eq!(
        metadata["scopes_supported"],
        json!(["docs:read", "jobs:run"])
    );
    assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));

    // The root form serves the same document.
    let root: Value = http
        .get(format!(
            "{}/.well-known/oauth-protected-resource",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root, metadata);
}

#[tokio::test]
async fn rmcp_oauth_discovery_finds_the_metadata_and_the_issuer_from_the_401_alone() {
    let server = server().await;
    let error = guard(().serve(server.transport(None)))
        .await
        .expect_err("no token");
    let challenge = error.auth_challenge().expect("a challenge").to_owned();

    let manager = AuthorizationManager::new(server.mcp_url.as_str())
        .await
        .unwrap();
    let resolution = guard(manager.resolve_metadata_from_challenge(Some(&challenge)))
        .await
        .unwrap();
    assert_eq!(
        resolution.source,
        AuthorizationMetadataSource::ProtectedResourceMetadata
    );
    let issuer = &server.issuer.issuer;
    let metadata = resolution.metadata;
    assert_eq!(metadata.issuer.as_deref(), Some(issuer.as_str()));
    assert_eq!(
        metadata.authorization_endpoint,
        format!("{issuer}authorize")
    );
    assert_eq!(metadata.token_endpoint, format!("{issuer}oauth/token"));
    // The client asks for the scopes the challenge hints (the policy's, as the PRM lists them).
    assert_eq!(
        manager.select_initial_scopes(&[]).await,
        ["docs:read", "jobs:run"]
    );
}

#[tokio::test]
async fn sse_progress_streams_through_the_layers_before_the_tool_finishes() {
    let server = server().await;
    // Its first progress event arrives before the answer (`start_countdown` checks that).
    let countdown = server.start_countdown("docs:read jobs:run").await;
    assert_eq!(countdown.first.progress, 0.0);
    assert_eq!(countdown.first.total, Some(60.0));
    // The cancellation is another POST through the same layers.
    countdown.cancel().await;
}

/// A server whose tool takes `AccessToken`, served with no layer in front: a deployment mistake.
#[derive(Clone)]
struct Unprotected;

#[rmcp::tool_router(server_handler)]
impl Unprotected {
    #[rmcp::tool(description = "Who the access token says you are")]
    fn whoami(&self, token: tower_mcp_auth::AccessToken) -> String {
        token.subject().to_owned()
    }
}

#[tokio::test]
async fn a_tool_taking_access_token_without_the_bearer_layer_fails_naming_the_layer() {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };

    // The verifier is left unused: nothing checks the token.
    let server = Server::start(|_verifier, _base| {
        let mcp = StreamableHttpService::new(
            || Ok(Unprotected),
            LocalSessionManager::default().into(),
            StreamableHttpServerConfig::default().with_allowed_hosts(["127.0.0.1"]),
        );
        axum::Router::new().route_service("/mcp", mcp)
    })
    .await;
    let client = server.client(None).await;
    let error = guard(client.call_tool(call("whoami", json!({}))))
        .await
        .expect_err("no token reached the tool");
    let rmcp::ServiceError::McpError(error) = error else {
        panic!("expected a JSON-RPC error, got {error:?}");
    };
    assert_eq!(error.code, rmcp::model::ErrorCode::INTERNAL_ERROR);
    assert_eq!(
        error.message,
        "no AccessToken in this request: the MCP service must be mounted behind \
         tower_mcp_auth::McpAuth (or BearerAuthLayer)"
    );
    assert!(
        !error
            .message
            .contains("tower_mcp_auth::token::access_token")
    );
}
