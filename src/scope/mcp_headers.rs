//! MCP 2026-07-28 (SEP-2243) `Mcp-Method` / `Mcp-Name` headers: when a client sends them they must
//! mirror the JSON-RPC body, or a gateway routing by headers could be shown one operation while
//! the server runs another.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::{GetAll, HeaderValue};

use crate::challenge::{AuthError, ErrorCode};
use crate::scope::header_scan::has_either;
use crate::scope::jsonrpc::{Call, JsonRpcBody};

/// The header mirroring the JSON-RPC `method`.
pub const MCP_METHOD: &str = "mcp-method";
/// The header mirroring the tool or prompt `params.name`, or the resource `params.uri`.
pub const MCP_NAME: &str = "mcp-name";

// Looked up on every body the guard reads: as `HeaderName`s, not strings parsed on each lookup.
const MCP_METHOD_HEADER: http::HeaderName = http::HeaderName::from_static(MCP_METHOD);
const MCP_NAME_HEADER: http::HeaderName = http::HeaderName::from_static(MCP_NAME);

/// Checks the SEP-2243 headers against the body. Absent headers are fine (MCP 2025 clients
/// send none; the MCP server enforces their presence where its revision requires it).
pub(crate) fn check(headers: &HeaderMap, body: &JsonRpcBody<'_>) -> Result<(), AuthError> {
    // Most requests carry neither (MCP 2025 clients): the lookups run only when one is there.
    if !has_either(headers, &MCP_METHOD_HEADER, &MCP_NAME_HEADER) {
        return Ok(());
    }
    let method = single_value(headers.get_all(&MCP_METHOD_HEADER), "Mcp-Method")?;
    let name = single_value(headers.get_all(&MCP_NAME_HEADER), "Mcp-Name")?;
    let call = match body {
        // Not JSON-RPC: the server runs nothing, so there is nothing to disagree with.
        JsonRpcBody::NotJsonRpc => return Ok(()),
        JsonRpcBody::Single(call) => call,
        JsonRpcBody::Batch(_) => {
            return Err(mismatch(
                "Mcp-Method / Mcp-Name headers describe one message, but the body is a JSON-RPC batch",
            ));
        }
    };
    if let Some(header) = method {
        let header = header
            .to_str()
            .map_err(|_| not_visible_ascii("Mcp-Method"))?;
        if call.method.as_deref() != Some(header) {
            return Err(mismatch(
                "The Mcp-Method header does not match the JSON-RPC body's method",
            ));
        }
    }
    if let Some(header) = name {
        let header = decode_value(header).ok_or_else(|| not_visible_ascii("Mcp-Name"))?;
        if name_target(call) != Some(header.as_str()) {
            return Err(mismatch(
                "The Mcp-Name header does not match the JSON-RPC body's params.name (tools, prompts) or params.uri (resources)",
            ));
        }
    }
    Ok(())
}

/// What `Mcp-Name` mirrors for `call` (SEP-2243): `params.uri` for the resource methods,
/// `params.name` for the others.
fn name_target<'c>(call: &'c Call<'_>) -> Option<&'c str> {
    match call.method.as_deref() {
        Some(
            "resources/read"
            | "resources/subscribe"
            | "resources/unsubscribe"
            | "resources/directory/read"
            | "skills/get",
        ) => call.uri.as_deref(),
        Some("tools/call" | "prompts/get") => call.name.as_deref(),
        _ => call.name.as_deref().or(call.uri.as_deref()),
    }
}

/// A header value: plain visible ASCII, or `=?base64?<standard base64 of UTF-8>?=` for values
/// that are not (SEP-2243; the markers are case-sensitive).
fn decode_value(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    match text
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(encoded) => String::from_utf8(STANDARD.decode(encoded).ok()?).ok(),
        None => Some(text.to_owned()),
    }
}

fn single_value<'h>(
    values: GetAll<'h, HeaderValue>,
    header: &str,
) -> Result<Option<&'h HeaderValue>, AuthError> {
    let mut iter = values.iter();
    let first = iter.next();
    if iter.next().is_some() {
        return Err(mismatch(format!(
            "The {header} header appears more than once"
        )));
    }
    Ok(first)
}

fn not_visible_ascii(header: &str) -> AuthError {
    mismatch(format!(
        "The {header} header is neither visible ASCII nor a valid =?base64?…?= value"
    ))
}

fn mismatch(description: impl Into<std::borrow::Cow<'static, str>>) -> AuthError {
    AuthError::new(ErrorCode::McpHeaderMismatch, description)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::jsonrpc::inspect as read;

    fn inspect(body: &[u8]) -> JsonRpcBody<'_> {
        read(body).expect("valid JSON")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const CALL: &[u8] =
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}"#;
    const READ: &[u8] =
        br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a b"}}"#;

    #[test]
    fn matching_or_absent_headers_pass() {
        let body = inspect(CALL);
        assert!(check(&HeaderMap::new(), &body).is_ok());
        let h = headers(&[("mcp-method", "tools/call"), ("mcp-name", "search")]);
        assert!(check(&h, &body).is_ok());
        let h = headers(&[
            ("mcp-method", "resources/read"),
            ("mcp-name", "file:///a b"),
        ]);
        assert!(check(&h, &inspect(READ)).is_ok());
    }

    #[test]
    fn base64_sentinel_name_is_decoded() {
        let body = inspect(r#"{"method":"tools/call","params":{"name":"tööl"}}"#.as_bytes());
        let encoded = format!("=?base64?{}?=", STANDARD.encode("tööl"));
        assert!(check(&headers(&[("mcp-name", &encoded)]), &body).is_ok());
        // Markers are case-sensitive: an upper-case sentinel is a literal value.
        let upper = format!("=?BASE64?{}?=", STANDARD.encode("tööl"));
        assert!(check(&headers(&[("mcp-name", &upper)]), &body).is_err());
    }

    #[test]
    fn disagreeing_headers_are_refused() {
        let body = inspect(CALL);
        for h in [
            headers(&[("mcp-method", "tools/list")]),
            headers(&[("mcp-name", "other")]),
            headers(&[("mcp-method", "tools/call"), ("mcp-method", "tools/call")]),
            headers(&[("mcp-name", "=?base64?%%%?=")]),
        ] {
            let err = check(&h, &body).unwrap_err();
            assert_eq!(err.code(), ErrorCode::McpHeaderMismatch);
        }
        let read = inspect(READ);
        let err = check(&headers(&[("mcp-name", "search")]), &read).unwrap_err();
        assert_eq!(err.code(), ErrorCode::McpHeaderMismatch);
        let batch = inspect(br#"[{"method":"tools/call","params":{"name":"search"}}]"#);
        assert!(check(&headers(&[("mcp-method", "tools/call")]), &batch).is_err());
    }
}
