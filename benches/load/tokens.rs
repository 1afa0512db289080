//! The tokens of the load run, all made before any clock starts.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tower_mcp_auth::dev::DevIssuer;

use crate::server::AUDIENCE;

/// The small `tools/call` every request carries.
pub const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","arguments":{"query":"tower middleware","limit":10}}}"#;

/// The size of the MCP-call scenario's `tools/call` body.
pub const BODY_1K_LEN: usize = 1024;

/// Ready-to-send request bytes per scenario.
pub struct Requests {
    /// One valid token, always the same.
    pub repeated: Arc<Vec<Vec<u8>>>,
    /// `size` distinct valid tokens.
    pub distinct: Arc<Vec<Vec<u8>>>,
    /// A token that is no JWS at all (an opaque string).
    pub malformed: Arc<Vec<Vec<u8>>>,
    /// Valid tokens with one signature character changed.
    pub bad_signature: Arc<Vec<Vec<u8>>>,
    /// Well-formed tokens whose `kid`s are all different and unknown to the issuer.
    pub random_kid: Arc<Vec<Vec<u8>>>,
    /// `GET /data` with the repeated token.
    pub get_repeated: Arc<Vec<Vec<u8>>>,
    /// `POST /mcp/parse` with a 1 KiB `tools/call` body and the repeated token.
    pub call_1k_repeated: Arc<Vec<Vec<u8>>>,
    /// The repeated token itself (the RSA-rate child verifies its signature).
    pub token: String,
}

/// Signs `size` distinct tokens for `issuer` on every core (minting costs ~1 ms a token) and
/// builds every scenario's requests.
pub fn requests(signer: &DevIssuer, issuer: &str, size: usize) -> Requests {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = size.div_ceil(threads);
    let tokens: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let first = t * per_thread;
                    let last = (first + per_thread).min(size);
                    (first..last)
                        .map(|i| signer.sign(&claims(issuer, i)).expect("sign"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("minting thread"))
            .collect()
    });
    let bad_signature: Vec<String> = tokens.iter().take(512).map(|t| tamper(t)).collect();
    let random_kid: Vec<String> = (0..4096)
        .map(|i| with_unknown_kid(&tokens[i % tokens.len()], i))
        .collect();
    let body_1k = body_1k();
    Requests {
        get_repeated: Arc::new(vec![get_request(&tokens[0])]),
        call_1k_repeated: Arc::new(vec![post_request("/mcp/parse", &tokens[0], &body_1k)]),
        token: tokens[0].clone(),
        repeated: Arc::new(vec![request(&tokens[0])]),
        distinct: Arc::new(tokens.iter().map(|t| request(t)).collect()),
        malformed: Arc::new(vec![request(crate::server::MALFORMED_TOKEN)]),
        bad_signature: Arc::new(bad_signature.iter().map(|t: &String| request(t)).collect()),
        random_kid: Arc::new(random_kid.iter().map(|t: &String| request(t)).collect()),
    }
}

/// An Auth0-like access token of about 1 KB; `i` makes it distinct.
pub fn claims(issuer: &str, i: usize) -> serde_json::Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    json!({
        "https://example.com/uid": format!("u-{i:06}"),
        "https://example.com/roles": ["member"],
        "iss": issuer,
        "sub": format!("google-oauth2|1088765432109876{i:05}"),
        "aud": [AUDIENCE, format!("{issuer}userinfo")],
        "iat": now,
        "exp": now + 3600,
        "scope": "openid profile email offline_access search.read docs.read docs.write calendar.read",
        "azp": "AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        "permissions": ["search.read", "docs.read", "docs.write", "calendar.read", "calendar.write"],
        "jti": format!("2f1c7a9e-5b4d-4e8f-9a0b-{i:012}"),
    })
}

fn tamper(token: &str) -> String {
    let (message, signature) = token.rsplit_once('.').expect("JWS");
    let mut signature = signature.as_bytes().to_vec();
    let middle = signature.len() / 2;
    signature[middle] = if signature[middle] == b'A' {
        b'B'
    } else {
        b'A'
    };
    format!("{message}.{}", String::from_utf8(signature).expect("ASCII"))
}

fn with_unknown_kid(token: &str, i: usize) -> String {
    let (_, rest) = token.split_once('.').expect("JWS");
    let header =
        json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("flood-{i}-{:x}", fastrand_u64(i))});
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

/// A cheap deterministic scramble, so the kids do not look sequential.
fn fastrand_u64(i: usize) -> u64 {
    (i as u64 ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

fn request(token: &str) -> Vec<u8> {
    post_request("/mcp", token, BODY)
}

fn post_request(path: &str, token: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\naccept: application/json, text/event-stream\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn get_request(token: &str) -> Vec<u8> {
    format!(
        "GET /data HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\
         accept: application/json\r\n\r\n"
    )
    .into_bytes()
}

/// A `tools/call search` of exactly [`BODY_1K_LEN`] bytes, its arguments as an MCP client
/// would send them (a query, options, a `_meta` progress token).
pub fn body_1k() -> String {
    let frame = |query: &str| {
        json!({
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {
                "name": "search",
                "arguments": {
                    "query": query,
                    "limit": 10,
                    "filters": {"lang": "en", "tags": ["tower", "mcp", "auth"]},
                },
                "_meta": {"progressToken": "p-7"},
            },
        })
        .to_string()
    };
    let overhead = frame("").len();
    let words = "how do tower layers compose with axum routers and hyper services ";
    let query: String = words.chars().cycle().take(BODY_1K_LEN - overhead).collect();
    let body = frame(&query);
    assert_eq!(body.len(), BODY_1K_LEN);
    body
}
