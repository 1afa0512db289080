//! [`ChallengeMode`]: how the scope guard answers a protected call it refuses, and the
//! `tool-result` answer ChatGPT needs.
//!
//! ChatGPT shows its account-linking UI for a `tools/call` only when the answer is a tool
//! *result* with `isError: true` and `_meta["mcp/www_authenticate"]` holding a challenge with
//! both `error` and `error_description` (OpenAI, "Authentication" guide, "Triggering
//! authentication UI"; mcp-use PR #2611 reports that a bare 401 on a tool call does not open
//! it). Claude does the opposite: it needs the HTTP 401 and ignores a challenge inside a 200
//! (claude.com/docs/connectors/building/lazy-authentication). So the mode is configuration.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, header};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::body::ResponseBody;
use crate::challenge::{AuthError, Challenge, ErrorCode};
use crate::scope::jsonrpc::{self, JsonRpcBody};

/// How the scope guard answers a refused protected operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ChallengeMode {
    /// HTTP answers (the MCP spec, Claude, the SDK clients): 401 with the challenge for a
    /// caller without a token, 403 `insufficient_scope` for a token without the scopes.
    #[default]
    Http,
    /// ChatGPT: a `tools/call` refused for no token or too few scopes is answered HTTP 200 with
    /// a JSON-RPC *result* for the request's `id`: `isError: true`, a short text, and
    /// `_meta["mcp/www_authenticate"]` = `[challenge]`, the challenge carrying `error`
    /// (`invalid_token` without a token, else `insufficient_scope`), `scope` and
    /// `error_description`. JSON, or a one-event SSE stream when the request's `Accept` allows
    /// only `text/event-stream`. Every other refusal (other methods, batches, invalid tokens
    /// at the bearer layer) keeps its HTTP answer.
    ToolResult,
}

/// The JSON-RPC `id` of a single message; ids are strings or numbers (JSON-RPC 2.0 §4).
#[derive(Deserialize)]
struct IdOnly {
    id: Value,
}

/// The tool-result answer for `error`, when the mode and the request call for one: a single
/// `tools/call` (with a string or number `id`) refused for no token or too few scopes.
pub(crate) fn tool_result_refusal(
    challenge: &Challenge,
    error: &AuthError,
    request_headers: &HeaderMap,
    body: &[u8],
) -> Option<Response<ResponseBody<std::convert::Infallible>>> {
    let rfc_error = match error.code() {
        // RFC 6750 gives a missing token no `error`, but ChatGPT needs one to act on.
        ErrorCode::MissingToken => "invalid_token",
        ErrorCode::InsufficientScope => "insufficient_scope",
        _ => return None,
    };
    let Ok(JsonRpcBody::Single(call)) = jsonrpc::inspect(body) else {
        return None;
    };
    if call.method.as_deref() != Some("tools/call") {
        return None;
    }
    // A duplicated `id` fails this parse: such a request is answered over HTTP instead.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let id = serde_json::Deserializer::from_slice(body)
        .into_iter::<IdOnly>()
        .next()?
        .ok()?
        .id;
    if !(id.is_string() || id.is_number()) {
        return None;
    }
    let header = challenge.www_authenticate_with_error(error, Some(rfc_error));
    let message = json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": {
            "content": [{"type": "text", "text": error.description()}],
            "isError": true,
            "_meta": {"mcp/www_authenticate": [header.to_str().unwrap_or("Bearer")]},
        },
    });
    let json = serde_json::to_vec(&message).ok()?;
    let (content_type, bytes) = if wants_sse_only(request_headers) {
        let mut event = b"event: message\ndata: ".to_vec();
        event.extend_from_slice(&json);
        event.extend_from_slice(b"\n\n");
        ("text/event-stream", event)
    } else {
        ("application/json", json)
    };
    let mut response = Response::new(ResponseBody::full(Bytes::from(bytes)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(response)
}

/// True when `Accept` allows `text/event-stream` but no JSON (`application/json`,
/// `application/*`, `*/*`); without an `Accept`, JSON.
fn wants_sse_only(headers: &HeaderMap) -> bool {
    let mut json = false;
    let mut sse = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let refused = parts.any(|param| {
                let param = param.trim();
                param
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            match media.as_str() {
                "application/json" | "application/*" | "*/*" => json = true,
                "text/event-stream" => sse = true,
                _ => {}
            }
        }
    }
    sse && !json
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn json_is_chosen_unless_only_sse_is_acceptable() {
        assert!(!wants_sse_only(&HeaderMap::new()));
        assert!(!wants_sse_only(&accept(
            "application/json, text/event-stream"
        )));
        assert!(wants_sse_only(&accept("text/event-stream")));
        assert!(wants_sse_only(&accept(
            "application/json;q=0, text/event-stream"
        )));
        assert!(!wants_sse_only(&accept("*/*")));
    }

    #[test]
    fn only_a_single_tools_call_with_an_id_gets_a_tool_result() {
        let challenge = Challenge::new().resource_metadata("https://rs/.well-known/prm");
        let error = AuthError::token_required("tools/call x", vec!["a".into()]);
        let headers = HeaderMap::new();
        let call = br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x"}}"#;
        assert!(tool_result_refusal(&challenge, &error, &headers, call).is_some());
        let list = br#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#;
        assert!(tool_result_refusal(&challenge, &error, &headers, list).is_none());
        let notification = br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}"#;
        assert!(tool_result_refusal(&challenge, &error, &headers, notification).is_none());
        let twice =
            br#"{"jsonrpc":"2.0","id":3,"id":4,"method":"tools/call","params":{"name":"x"}}"#;
        assert!(tool_result_refusal(&challenge, &error, &headers, twice).is_none());
        let batch = br#"[{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x"}}]"#;
        assert!(tool_result_refusal(&challenge, &error, &headers, batch).is_none());
        let denied = AuthError::new(ErrorCode::OperationNotAllowed, "no");
        assert!(tool_result_refusal(&challenge, &denied, &headers, call).is_none());
    }
}
