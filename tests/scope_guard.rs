//! ScopeGuardLayer through a real axum server on loopback, with real HTTP requests.

mod support;
use support::scoped_app;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use scoped_app::*;
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};
use tower_mcp_auth::body::LayerBody;
use tower_mcp_auth::{AccessToken, ScopeGuardLayer, ScopePolicy};

async fn json_body(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

fn www_authenticate(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn allowed_tool_call_reaches_the_server_byte_for_byte() {
    let app = ScopedApp::start(policy()).await;
    // Escapes, odd spacing and key order must all survive: the server gets the exact bytes.
    let body = "{ \"jsonrpc\":\"2.0\", \"id\" : 7,\n \"params\": {\"arguments\": {\"q\": \"caf\\u00e9 \\\"x\\\"\"}, \"n\\u0061me\": \"search\"},\"method\":\"tools/call\"}  ";
    let response = app.post_json(SEARCH_TOKEN, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), body.as_bytes());
    assert_eq!(app.received(), [Bytes::from(body)]);
}

#[tokio::test]
async fn tool_call_without_its_scopes_is_403_naming_tool_and_missing_scopes() {
    let app = ScopedApp::start(policy()).await;
    let response = app.post_json(SEARCH_TOKEN, tool_call("docs.create")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let description = "tools/call docs.create requires the scope(s) docs.read docs.write mcp; the token lacks docs.read docs.write";
    assert_eq!(
        www_authenticate(&response),
        format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", error=\"insufficient_scope\", scope=\"docs.read docs.write mcp\", error_description=\"{description}\"",
            app.base
        )
    );
    assert_eq!(
        json_body(response).await,
        json!({
            "error": "insufficient_scope",
            "code": "insufficient_scope",
            "error_description": description,
            "scope": "docs.read docs.write mcp",
            "missing_scopes": ["docs.read", "docs.write"],
            "operation": "tools/call docs.create"
        })
    );
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn permissions_array_grants_scopes() {
    let app = ScopedApp::start(policy()).await;
    let response = app
        .post_json(PERMISSIONS_TOKEN, tool_call("docs.create"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.received().len(), 1);
    // The permissions token lacks search.read.
    let response = app.post_json(PERMISSIONS_TOKEN, tool_call("search")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        json_body(response).await["missing_scopes"],
        json!(["search.read"])
    );
}

#[tokio::test]
async fn batch_with_one_forbidden_call_is_refused_whole() {
    let app = ScopedApp::start(policy()).await;
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "search"}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "docs.create"}},
        {"jsonrpc": "2.0", "id": 3, "method": "prompts/get", "params": {"name": "secret"}}
    ])
    .to_string();
    let response = app.post_json(SEARCH_TOKEN, batch).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = json_body(response).await;
    assert_eq!(
        body["operation"],
        "tools/call docs.create, prompts/get secret"
    );
    assert_eq!(body["scope"], "docs.read docs.write mcp prompts.secret");
    assert_eq!(
        body["missing_scopes"],
        json!(["docs.read", "docs.write", "prompts.secret"])
    );
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn batch_of_allowed_calls_passes_unchanged() {
    let app = ScopedApp::start(policy()).await;
    let batch = format!("[{},{}]", tool_call("search"), tool_call("docs.create"));
    let response = app.post_json(ALL_TOKEN, batch.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.received(), [Bytes::from(batch)]);
}

#[tokio::test]
async fn route_scopes_are_checked_from_method_and_path() {
    let app = ScopedApp::start(policy()).await;
    let url = format!("{}/admin/stats", app.base);
    let response = app
        .client
        .get(&url)
        .bearer_auth(SEARCH_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge_attribute(&www_authenticate(&response), "scope").unwrap(),
        "admin mcp"
    );
    let body = json_body(response).await;
    assert_eq!(body["operation"], "GET /admin/stats");
    assert_eq!(body["missing_scopes"], json!(["admin"]));

    let response = app
        .client
        .get(&url)
        .bearer_auth(ALL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "stats");
}

#[tokio::test]
async fn default_scopes_apply_to_every_request() {
    let policy = policy_builder()
        .default_scopes(["tenant.member"])
        .build()
        .unwrap();
    let app = ScopedApp::start(policy).await;
    let response = app.post_json(SEARCH_TOKEN, tool_call("search")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = json_body(response).await;
    assert_eq!(body["operation"], "POST /mcp");
    assert_eq!(body["missing_scopes"], json!(["tenant.member"]));
}

#[tokio::test]
async fn unknown_tool_needs_default_scopes_unless_denied() {
    let app = ScopedApp::start(policy()).await;
    let response = app.post_json(MCP_ONLY_TOKEN, tool_call("weather")).await;
    assert_eq!(response.status(), StatusCode::OK);

    let app = ScopedApp::start(policy_builder().deny_unknown_tools().build().unwrap()).await;
    let response = app.post_json(ALL_TOKEN, tool_call("weather")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // No scope can fix it, so there is no step-up challenge.
    assert!(response.headers().get("www-authenticate").is_none());
    assert_eq!(
        json_body(response).await,
        json!({
            "error": "access_denied",
            "code": "OPERATION_NOT_ALLOWED",
            "error_description": "tools/call weather is not allowed on this server: the scope policy does not name it"
        })
    );
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn resources_are_checked_by_uri_prefix_and_prompts_by_name() {
    let app = ScopedApp::start(policy()).await;
    let read = |uri: &str| {
        json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": uri}})
            .to_string()
    };
    let response = app
        .post_json(SEARCH_TOKEN, read("file:///private/salaries.csv"))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = json_body(response).await;
    assert_eq!(
        body["operation"],
        "resources/read file:///private/salaries.csv"
    );
    assert_eq!(body["missing_scopes"], json!(["files.private"]));

    let response = app
        .post_json(SEARCH_TOKEN, read("file:///public/readme.md"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let prompt =
        json!({"jsonrpc": "2.0", "id": 2, "method": "prompts/get", "params": {"name": "secret"}});
    let response = app.post_json(SEARCH_TOKEN, prompt.to_string()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app.post_json(ALL_TOKEN, prompt.to_string()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn method_scopes_apply_to_any_json_rpc_method() {
    let app = ScopedApp::start(
        policy_builder()
            .method("tools/list", ["tools.list"])
            .build()
            .unwrap(),
    )
    .await;
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let response = app.post_json(SEARCH_TOKEN, list).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_body(response).await["operation"], "tools/list");
}

#[tokio::test]
async fn oversized_body_is_413_whether_declared_or_streamed() {
    let app = ScopedApp::start_with(policy(), 1024).await;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"search","arguments":{{"q":"{}"}}}}}}"#,
        "x".repeat(2048)
    );
    let expected = json!({
        "error": "request_too_large",
        "code": "REQUEST_BODY_TOO_LARGE",
        "error_description": "The JSON-RPC request body is larger than 1024 bytes"
    });
    let response = app.post_json(SEARCH_TOKEN, big.clone()).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_body(response).await, expected);

    // Chunked, without Content-Length: the bound holds while reading.
    let chunks: Vec<Result<Bytes, std::io::Error>> = big
        .as_bytes()
        .chunks(300)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = app.post_json(SEARCH_TOKEN, body).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_body(response).await, expected);
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn non_json_bodies_pass_untouched_on_routes_not_marked_json_rpc() {
    let app = ScopedApp::start(policy()).await;
    let upload = |content_type: &'static str, body: &'static [u8]| {
        app.client
            .post(format!("{}/upload", app.base))
            .bearer_auth(MCP_ONLY_TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let response = upload("text/plain", b"plain text, not JSON").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = upload("image/png", b"\x89PNG\r\n\x1a\n").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.received(),
        [
            Bytes::from_static(b"plain text, not JSON"),
            Bytes::from_static(b"\x89PNG\r\n\x1a\n")
        ]
    );
}

#[tokio::test]
async fn duplicated_keys_are_refused_as_ambiguous() {
    let app = ScopedApp::start(policy()).await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","name":"docs.create"}}"#;
    let response = app.post_json(ALL_TOKEN, body).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body(response).await["code"], "REQUEST_BODY_UNREADABLE");
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn mcp_method_and_name_headers_must_agree_with_the_body() {
    let app = ScopedApp::start(policy()).await;
    let send = |method: &'static str, name: &'static str| {
        app.client
            .post(format!("{}/mcp", app.base))
            .bearer_auth(ALL_TOKEN)
            .header("content-type", "application/json")
            .header("mcp-method", method)
            .header("mcp-name", name)
            .body(tool_call("search"))
            .send()
    };
    assert_eq!(
        send("tools/call", "search").await.unwrap().status(),
        StatusCode::OK
    );
    // Base64 sentinel form of the same name.
    assert_eq!(
        send("tools/call", "=?base64?c2VhcmNo?=")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // A header-only gateway would see an allowed tool; the body calls another.
    let response = send("tools/call", "weather").await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        challenge_attribute(&www_authenticate(&response), "error").unwrap(),
        "invalid_request"
    );
    assert_eq!(
        json_body(response).await,
        json!({
            "error": "invalid_request",
            "code": "MCP_HEADER_MISMATCH",
            "error_description": "The Mcp-Name header does not match the JSON-RPC body's params.name (tools, prompts) or params.uri (resources)"
        })
    );
    let response = send("tools/list", "search").await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json_body(response).await["error_description"],
        "The Mcp-Method header does not match the JSON-RPC body's method"
    );
    assert_eq!(app.received().len(), 2);
}

#[tokio::test]
async fn every_401_and_403_points_at_metadata_the_server_serves() {
    let app = ScopedApp::start(policy()).await;
    let mut challenges = Vec::new();
    // 401: no token.
    let response = app
        .client
        .post(format!("{}/mcp", app.base))
        .body(tool_call("search"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        www_authenticate(&response),
        format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"mcp\"",
            app.base
        )
    );
    challenges.push(www_authenticate(&response));
    // 401: unknown token.
    let response = app
        .post_json("not.a.known-token", tool_call("search"))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    challenges.push(www_authenticate(&response));
    // 403: tool and route.
    let response = app.post_json(MCP_ONLY_TOKEN, tool_call("search")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    challenges.push(www_authenticate(&response));
    let response = app
        .client
        .get(format!("{}/admin/stats", app.base))
        .bearer_auth(MCP_ONLY_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    challenges.push(www_authenticate(&response));

    for challenge in challenges {
        let url = challenge_attribute(&challenge, "resource_metadata").unwrap();
        let response = app.client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        assert_eq!(json_body(response).await["resource"], app.resource);
    }
}

type TestBody = LayerBody<Full<Bytes>>;

/// A service the guard wraps in these tests.
trait Inner:
    tower::Service<
        Request<TestBody>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future: Send,
    > + Clone
{
}

impl<S> Inner for S where
    S: tower::Service<
            Request<TestBody>,
            Response = Response<Full<Bytes>>,
            Error = Infallible,
            Future: Send,
        > + Clone
{
}

fn inner_service() -> impl Inner {
    tower::service_fn(|req: Request<TestBody>| async move {
        let body = req
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Ok::<_, Infallible>(Response::new(Full::new(body)))
    })
}

fn token(scope: &str) -> AccessToken {
    AccessToken::from_claims(json!({
        "iss": "i", "sub": "s", "aud": "a", "exp": 4_102_444_800u64, "scope": scope
    }))
    .unwrap()
}

#[tokio::test]
async fn guard_without_bearer_layer_is_a_500_saying_which_layer_goes_inside_which() {
    let guard = ScopeGuardLayer::new(ScopePolicy::allow_all()).layer(inner_service());
    let request = Request::post("/mcp")
        .body(Full::new(Bytes::from(tool_call("search"))))
        .unwrap();
    let response = guard.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(
        body,
        json!({
            "error": "server_error",
            "code": "SERVER_MISCONFIGURED",
            "error_description": "ScopeGuardLayer saw a request without an AccessToken: \
                BearerAuthLayer must run before it. Mount both with McpAuth, which orders them; \
                or, on an axum Router, call .layer(ScopeGuardLayer) first and \
                .layer(BearerAuthLayer) after it; in a tower ServiceBuilder, add \
                .layer(BearerAuthLayer) before .layer(ScopeGuardLayer)"
        })
    );
}

#[tokio::test]
async fn grpc_requests_are_routed_by_path_and_answered_with_grpc_status() {
    let policy = ScopePolicy::builder()
        .route(Method::POST, "/billing.Admin/*", ["billing.admin"])
        .build()
        .unwrap();
    let guard = ScopeGuardLayer::new(policy).layer(inner_service());
    let grpc = |scope: &str| {
        let mut request = Request::post("/billing.Admin/Refund")
            .header("content-type", "application/grpc")
            // A gRPC frame is not JSON: the guard must not read it.
            .body(Full::new(Bytes::from_static(b"\0\0\0\0\x02{}")))
            .unwrap();
        request.extensions_mut().insert(token(scope));
        request
    };
    let response = guard.clone().oneshot(grpc("billing.read")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["grpc-status"], "7");
    assert_eq!(response.headers()["content-type"], "application/grpc");
    assert!(
        response.headers()["grpc-message"]
            .to_str()
            .unwrap()
            .starts_with("insufficient_scope")
    );

    let response = guard.oneshot(grpc("billing.admin")).await.unwrap();
    assert!(response.headers().get("grpc-status").is_none());
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        &b"\0\0\0\0\x02{}"[..]
    );
}

/// A server that gives every answer a new session id: the initialize POST's and, against the
/// transport's rules, a GET's.
fn issuing_sessions() -> impl Inner {
    tower::service_fn(|req: Request<TestBody>| async move {
        let id = format!("issued-by-{}", req.method()).to_lowercase();
        let mut response = Response::new(Full::new(Bytes::new()));
        response
            .headers_mut()
            .insert("mcp-session-id", id.parse().unwrap());
        Ok::<_, Infallible>(response)
    })
}

#[tokio::test]
async fn only_a_post_answer_binds_a_session_an_id_a_get_answer_carries_is_refused_as_unknown() {
    let guard = ScopeGuardLayer::new(ScopePolicy::allow_all()).layer(issuing_sessions());
    let send = |method: Method, session: Option<&str>| {
        let mut request = Request::builder()
            .method(method)
            .uri("/mcp")
            .header("content-type", "application/json");
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        let mut request = request
            .body(Full::new(Bytes::from(
                r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
            )))
            .unwrap();
        request.extensions_mut().insert(token("mcp"));
        guard.clone().oneshot(request)
    };
    // The initialize POST's id is bound to its user, and that user goes on with it.
    let started = send(Method::POST, None).await.unwrap();
    assert_eq!(started.headers()["mcp-session-id"], "issued-by-post");
    let resumed = send(Method::POST, Some("issued-by-post")).await.unwrap();
    assert_eq!(resumed.status(), StatusCode::OK);
    // A GET's answer is not read: the id it carries was never bound, so naming it is refused
    // (fail closed), never waved through.
    let streamed = send(Method::GET, None).await.unwrap();
    assert_eq!(streamed.headers()["mcp-session-id"], "issued-by-get");
    let named = send(Method::POST, Some("issued-by-get")).await.unwrap();
    assert_eq!(named.status(), StatusCode::NOT_FOUND);
}
