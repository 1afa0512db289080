//! Public operations and the optional bearer layer, in process: what a caller without a token
//! may and may not do, and that everything not public stays closed.

mod support;
use support::scoped_app;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use scoped_app::{MCP_ONLY_TOKEN, SEARCH_TOKEN, verifier};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt};
use tower_mcp_auth::body::LayerBody;
use tower_mcp_auth::{
    AccessToken, Anonymous, BearerAuthLayer, Challenge, ScopeGuardLayer, ScopePolicy,
};

const METADATA: &str = "https://api.test/.well-known/oauth-protected-resource/mcp";

fn policy() -> ScopePolicy {
    ScopePolicy::builder()
        .default_scopes(["mcp"])
        .tool("search", ["search.read"])
        .tool("echo", Vec::<String>::new())
        .public_discovery()
        .public_tool("echo")
        .build()
        .unwrap()
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
}

/// Sends `body` (JSON) or a `GET` through optional bearer + guard to a service that says who
/// it saw.
async fn send(
    guard: ScopeGuardLayer,
    token: Option<&str>,
    method: Method,
    body: Option<Value>,
) -> Answer {
    let challenge = Challenge::new().resource_metadata(METADATA);
    let service = ServiceBuilder::new()
        .layer(
            BearerAuthLayer::new(verifier())
                .optional()
                .challenge(challenge.clone()),
        )
        .layer(guard.challenge(challenge))
        .service_fn(|req: Request<LayerBody<Full<Bytes>>>| async move {
            let who = match req.extensions().get::<AccessToken>() {
                Some(token) => token.subject().to_owned(),
                None if req.extensions().get::<Anonymous>().is_some() => "anonymous".to_owned(),
                None => "nobody".to_owned(),
            };
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                json!({"served": who}).to_string(),
            ))))
        });
    let mut request = Request::builder().method(method).uri("/mcp");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, token);
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    if !body.is_empty() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let response = service
        .oneshot(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        challenge,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn rpc(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn public_calls_pass_without_a_token_and_protected_ones_get_a_401_naming_their_scopes() {
    let guard = || ScopeGuardLayer::new(policy());
    for public in [
        rpc("initialize", json!({})),
        rpc("tools/list", json!({})),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        rpc("tools/call", json!({"name": "echo"})),
    ] {
        let answer = send(guard(), None, Method::POST, Some(public.clone())).await;
        assert_eq!(answer.status, StatusCode::OK, "{public}");
        assert_eq!(answer.body, json!({"served": "anonymous"}));
    }
    let answer = send(
        guard(),
        None,
        Method::POST,
        Some(rpc("tools/call", json!({"name": "search"}))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(format!(r#"Bearer resource_metadata="{METADATA}", scope="mcp search.read""#).as_str())
    );
    assert_eq!(answer.body["code"], "MISSING_TOKEN");
    assert_eq!(answer.body["operation"], "tools/call search");
}

#[tokio::test]
async fn everything_that_is_not_a_public_call_stays_closed_without_a_token() {
    let guard = || ScopeGuardLayer::new(policy());
    // A batch passes only if every call is public.
    let batch = json!([
        rpc("tools/list", json!({})),
        rpc("tools/call", json!({"name": "search"}))
    ]);
    let refused = [
        (Method::POST, Some(batch)),
        // A response to the server, a non-JSON-RPC body, an SSE GET: no public call in them.
        (
            Method::POST,
            Some(json!({"jsonrpc": "2.0", "id": 3, "result": {}})),
        ),
        (Method::POST, Some(json!("hello"))),
        (Method::GET, None),
    ];
    for (method, body) in refused {
        let answer = send(guard(), None, method.clone(), body.clone()).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {body:?}");
        assert_eq!(answer.body["code"], "MISSING_TOKEN", "{method} {body:?}");
    }
    // Another scheme than Bearer is a credential, not an absence of one.
    let answer = send(
        guard(),
        Some("Basic dXNlcjpwYXNz"),
        Method::POST,
        Some(rpc("tools/list", json!({}))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    // A policy with nothing public lets nothing through without a token.
    let closed = ScopeGuardLayer::new(ScopePolicy::allow_all());
    let answer = send(
        closed,
        None,
        Method::POST,
        Some(rpc("tools/list", json!({}))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["operation"], "tools/list");
}

#[tokio::test]
async fn an_invalid_token_is_refused_even_for_a_public_call() {
    let answer = send(
        ScopeGuardLayer::new(policy()),
        Some("Bearer not.a.known-token"),
        Method::POST,
        Some(rpc("tools/list", json!({}))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer
            .challenge
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
}

#[tokio::test]
async fn public_calls_need_no_default_scope_but_every_other_call_still_does() {
    let guard = || ScopeGuardLayer::new(policy());
    // SEARCH_TOKEN has `mcp search.read`; MCP_ONLY_TOKEN `mcp`.
    let answer = send(
        guard(),
        Some(&bearer(SEARCH_TOKEN)),
        Method::POST,
        Some(rpc("tools/call", json!({"name": "search"}))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, json!({"served": "user-1"}));
    let answer = send(
        guard(),
        Some(&bearer(MCP_ONLY_TOKEN)),
        Method::POST,
        Some(rpc("tools/call", json!({"name": "search"}))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["missing_scopes"], json!(["search.read"]));
    // A request that is no JSON-RPC call (an SSE GET) is checked against the route and the
    // default scopes, as without public operations.
    let answer = send(guard(), Some(&bearer(MCP_ONLY_TOKEN)), Method::GET, None).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn challenge_all_policy_scopes_asks_for_every_scope_in_the_401() {
    let guard = ScopeGuardLayer::new(policy()).challenge_all_policy_scopes();
    let answer = send(
        guard,
        None,
        Method::POST,
        Some(rpc("tools/call", json!({"name": "search"}))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(format!(r#"Bearer resource_metadata="{METADATA}", scope="mcp search.read""#).as_str())
    );
    let wider = ScopePolicy::builder()
        .tool("search", ["search.read"])
        .tool("admin", ["admin", "offline_access"])
        .public_discovery()
        .build()
        .unwrap();
    let answer = send(
        ScopeGuardLayer::new(wider).challenge_all_policy_scopes(),
        None,
        Method::POST,
        Some(rpc("tools/call", json!({"name": "search"}))),
    )
    .await;
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            format!(r#"Bearer resource_metadata="{METADATA}", scope="admin search.read""#).as_str()
        )
    );
}
