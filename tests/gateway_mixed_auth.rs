//! The gateway binary with the mixed-auth variables: public tools and discovery, ChatGPT's
//! tool-result challenges and scope implications, over `/tools/{tool}` and `/mcp`.

mod support;
use support::{gateway::backends, issuer_server};

use backends::*;
use issuer_server::IssuerServer;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_tools_discovery_tool_results_and_implications_through_the_gateway() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = scoped_env(&issuer, &up);
    vars.extend([
        ("PUBLIC_TOOLS", "search"),
        ("AUTH_CHALLENGE", "tool-result"),
        ("HIDE_UNAUTHORIZED_TOOLS", "true"),
        ("SCOPE_IMPLIES", "docs.write=docs.read"),
    ]);
    let gateway = start(vars);
    let client = reqwest::Client::new();

    // The public tool, without a token, over REST: the backend answers it.
    let public = client
        .post(gateway.url("/tools/search"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 201);

    // Public discovery (implied by PUBLIC_TOOLS): initialize reaches the MCP upstream, signed.
    let initialize = client
        .post(gateway.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(initialize.status(), 200);
    let mut initialize = initialize;
    let first = initialize.chunk().await.unwrap().expect("a first event");
    assert!(
        String::from_utf8_lossy(&first).contains(r#""signature_verified":true"#),
        "{first:?}"
    );

    // A protected tool without a token: a tool result carrying the challenge (ChatGPT).
    let refused = client
        .post(gateway.url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(
            json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                   "params": {"name": "docs.create", "arguments": {}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 200);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["id"], 5);
    assert_eq!(body["result"]["isError"], true);
    let challenge = body["result"]["_meta"]["mcp/www_authenticate"][0]
        .as_str()
        .unwrap();
    assert!(
        challenge.starts_with(
            r#"Bearer resource_metadata="https://api.test/.well-known/oauth-protected-resource/mcp", error="invalid_token", scope="docs.read docs.write mcp:access", error_description=""#
        ),
        "{challenge}"
    );

    // docs.write implies docs.read (SCOPE_IMPLIES): docs.create is allowed without docs.read.
    let token = issuer.token("mcp:access docs.write");
    let implied = client
        .post(gateway.url("/tools/docs.create"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(implied.status(), 201);

    // The metadata still names exactly the policy's scopes.
    let metadata: Value = client
        .get(gateway.url("/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["scopes_supported"],
        json!(["docs.read", "docs.write", "mcp:access", "search.read"])
    );
}
