//! The guard fails closed (security review finding 3): a body it must read but cannot read as
//! the server would is refused, never passed unchecked. Real HTTP to a real axum server on
//! loopback, whose `/mcp` the policy marks as JSON-RPC.

mod support;
use support::scoped_app;

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{HeaderValue, StatusCode};
use scoped_app::*;
use serde_json::{Value, json};

/// A `tools/call` of `docs.create` (which `SEARCH_TOKEN` may not call) with `arguments` as raw
/// JSON text.
fn forbidden_call(arguments: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"docs.create","arguments":{arguments}}}}}"#
    )
}

async fn post(
    app: &ScopedApp,
    path: &str,
    headers: &[(&str, &[u8])],
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(SEARCH_TOKEN);
    for (name, value) in headers {
        request = request.header(*name, HeaderValue::from_bytes(value).unwrap());
    }
    request.body(body).send().await.unwrap()
}

/// Asserts the whole refusal: status, `WWW-Authenticate` (RFC 6750 `invalid_request` for 400s,
/// `insufficient_scope` for 403s, none where no token helps), and the JSON body's stable code.
async fn assert_refused(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "{code}");
    let challenge = response.headers().get("www-authenticate").cloned();
    if status == StatusCode::BAD_REQUEST || status == StatusCode::FORBIDDEN {
        let challenge = challenge.expect("400 and 403 carry the RFC 6750 challenge");
        let challenge = challenge.to_str().unwrap();
        let error = if status == StatusCode::FORBIDDEN {
            "insufficient_scope"
        } else {
            "invalid_request"
        };
        assert!(
            challenge.contains(&format!("error=\"{error}\""))
                && challenge.contains("resource_metadata="),
            "{challenge}"
        );
    } else {
        assert!(challenge.is_none(), "{code}: no token can fix a {status}");
    }
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let found = body["code"]
        .as_str()
        .or(body["error"]["data"]["code"].as_str());
    assert_eq!(found, Some(code), "{body}");
    body
}

#[tokio::test]
async fn malformed_json_is_400_with_a_json_rpc_parse_error_body() {
    let app = ScopedApp::start(policy()).await;
    let response = post(
        &app,
        "/mcp",
        &[("content-type", b"application/json")],
        "{\"method\": tools/call",
    )
    .await;
    let body = assert_refused(response, StatusCode::BAD_REQUEST, "JSON_RPC_PARSE_ERROR").await;
    assert_eq!(
        body,
        json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": -32700,
                "message": "Parse error",
                "data": {
                    "error": "invalid_request",
                    "code": "JSON_RPC_PARSE_ERROR",
                    "error_description": "The request body is not JSON (RFC 8259; NaN, Infinity, comments and other extensions are not JSON)"
                }
            }
        })
    );
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn nan_infinity_and_other_json_extensions_are_refused_not_passed() {
    let app = ScopedApp::start(policy()).await;
    for arguments in [
        r#"{"n":NaN}"#,
        r#"{"n":Infinity}"#,
        r#"{"n":-Infinity}"#,
        r#"{"n":1,}"#,
        r#"{'n':1}"#,
        "{/* comment */}",
        r#"{"n":0x1F}"#,
    ] {
        let response = post(
            &app,
            "/mcp",
            &[("content-type", b"application/json")],
            forbidden_call(arguments),
        )
        .await;
        assert_refused(response, StatusCode::BAD_REQUEST, "JSON_RPC_PARSE_ERROR").await;
        // Declared JSON on a route not marked JSON-RPC: read, and refused the same way.
        let response = post(
            &app,
            "/upload",
            &[("content-type", b"application/json")],
            forbidden_call(arguments),
        )
        .await;
        assert_refused(response, StatusCode::BAD_REQUEST, "JSON_RPC_PARSE_ERROR").await;
    }
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn out_of_range_numbers_are_valid_json_and_the_call_is_judged() {
    let app = ScopedApp::start(policy()).await;
    let response = post(
        &app,
        "/mcp",
        &[("content-type", b"application/json")],
        forbidden_call(r#"{"n":1e400}"#),
    )
    .await;
    assert_refused(response, StatusCode::FORBIDDEN, "insufficient_scope").await;
    let allowed = r#"{"jsonrpc":"2.0","id":1e400,"method":"tools/call","params":{"name":"search","arguments":{"n":-1e999}}}"#;
    let response = post(
        &app,
        "/mcp",
        &[("content-type", b"application/json")],
        allowed,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.received(), [Bytes::from(allowed)]);
}

#[tokio::test]
async fn trailing_data_after_the_first_value_is_400() {
    let app = ScopedApp::start(policy()).await;
    let allowed = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}"#;
    for trailing in [
        format!("{allowed}\n{}", forbidden_call("{}")),
        format!("{allowed}x"),
        format!("{allowed}]"),
    ] {
        let response = post(
            &app,
            "/mcp",
            &[("content-type", b"application/json")],
            trailing,
        )
        .await;
        assert_refused(response, StatusCode::BAD_REQUEST, "JSON_RPC_TRAILING_DATA").await;
    }
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn encoded_bodies_are_415() {
    let app = ScopedApp::start(policy()).await;
    for (path, coding) in [
        ("/mcp", &b"gzip"[..]),
        ("/mcp", b"deflate"),
        ("/mcp", b"br"),
        ("/mcp", b"identity, gzip"),
        ("/upload", b"gzip"),
    ] {
        let headers: &[(&str, &[u8])] = &[
            ("content-type", b"application/json"),
            ("content-encoding", coding),
        ];
        let response = post(&app, path, headers, forbidden_call("{}")).await;
        assert_refused(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_CONTENT_ENCODING",
        )
        .await;
    }
    // `identity` is no encoding.
    let headers: &[(&str, &[u8])] = &[
        ("content-type", b"application/json"),
        ("content-encoding", b"identity"),
    ];
    let response = post(&app, "/mcp", headers, forbidden_call("{}")).await;
    assert_refused(response, StatusCode::FORBIDDEN, "insufficient_scope").await;
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn non_json_content_types_on_the_json_rpc_route_are_415() {
    let app = ScopedApp::start(policy()).await;
    for content_type in [
        &b"text/plain"[..],
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=x",
        b"application/octet-stream",
        b"application/json; charset=utf-16le",
        b"application/json; charset=iso-8859-1",
    ] {
        let response = post(
            &app,
            "/mcp",
            &[("content-type", content_type)],
            forbidden_call("{}"),
        )
        .await;
        assert_refused(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_CONTENT_TYPE",
        )
        .await;
    }
    // UTF-16 without a charset is simply not JSON.
    let utf16: Vec<u8> = forbidden_call("{}")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let response = post(
        &app,
        "/mcp",
        &[("content-type", b"application/json")],
        utf16,
    )
    .await;
    assert_refused(response, StatusCode::BAD_REQUEST, "JSON_RPC_PARSE_ERROR").await;
    // An empty body is no JSON-RPC message either.
    let response = post(&app, "/mcp", &[("content-type", b"application/json")], "").await;
    assert_refused(response, StatusCode::BAD_REQUEST, "JSON_RPC_PARSE_ERROR").await;
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn content_type_that_is_not_ascii_repeated_or_a_list_is_400() {
    let app = ScopedApp::start(policy()).await;
    for headers in [
        &[("content-type", &b"application/json\xe9"[..])][..],
        &[("content-type", b"text/plain\xff")],
        &[("content-type", b"text/plain, application/json")],
        &[
            ("content-type", b"application/json"),
            ("content-type", b"text/plain"),
        ],
    ] {
        for path in ["/mcp", "/upload"] {
            let response = post(&app, path, headers, forbidden_call("{}")).await;
            assert_refused(response, StatusCode::BAD_REQUEST, "MALFORMED_CONTENT_TYPE").await;
        }
    }
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn connection_header_naming_a_checked_header_is_400() {
    let app = ScopedApp::start(policy()).await;
    for named in [
        &b"content-type"[..],
        b"keep-alive, Content-Encoding",
        b"mcp-method",
        b"Mcp-Name",
    ] {
        let headers: &[(&str, &[u8])] = &[("content-type", b"text/plain"), ("connection", named)];
        let response = post(&app, "/upload", headers, forbidden_call("{}")).await;
        assert_refused(
            response,
            StatusCode::BAD_REQUEST,
            "CONNECTION_NAMES_CHECKED_HEADER",
        )
        .await;
    }
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn a_body_still_arriving_after_the_read_timeout_is_408() {
    let app = ScopedApp::start_configured(policy(), |guard| {
        guard.body_read_timeout(Some(Duration::from_millis(200)))
    })
    .await;
    // The first bytes of a call, then nothing: the client never finishes the body.
    let first: Result<Bytes, std::io::Error> = Ok(Bytes::from_static(b"{\"jsonrpc\":\"2.0\","));
    let stalled = futures_util::stream::iter([first]).chain(futures_util::stream::pending());
    let response = post(
        &app,
        "/mcp",
        &[("content-type", b"application/json")],
        reqwest::Body::wrap_stream(stalled),
    )
    .await;
    let body = assert_refused(
        response,
        StatusCode::REQUEST_TIMEOUT,
        "REQUEST_BODY_TIMEOUT",
    )
    .await;
    assert_eq!(body["error"], "request_timeout");
    assert!(app.received().is_empty());
}

#[tokio::test]
async fn the_default_read_timeout_is_ten_seconds() {
    assert_eq!(
        tower_mcp_auth::scope::DEFAULT_BODY_READ_TIMEOUT,
        Duration::from_secs(10)
    );
}
