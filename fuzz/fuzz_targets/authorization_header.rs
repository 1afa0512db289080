//! The `Authorization` header and the query string of a request, as any client can send them.
//!
//! Input: `query \n header \n header …` (up to three `Authorization` values); the first byte picks
//! the length bound. Checks: no panic; an accepted token is exactly what follows `Bearer ` in
//! the only header, is RFC 6750 `b64token`, and fits the bound; every refusal has a code from the
//! credential family.
#![no_main]

use http::{HeaderMap, HeaderValue, Uri, header};
use libfuzzer_sys::fuzz_target;
use tower_mcp_auth::ErrorCode;
use tower_mcp_auth::token::bearer_token;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let max_len = [8, 64, 1024, 16 * 1024][usize::from(selector & 3)];
    let mut parts = rest.split(|b| *b == b'\n');
    let query = parts.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for value in parts.take(3) {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(header::AUTHORIZATION, value);
        }
    }
    let uri = std::str::from_utf8(query)
        .ok()
        .and_then(|q| format!("/mcp?{q}").parse::<Uri>().ok())
        .unwrap_or_else(|| Uri::from_static("/mcp"));

    match bearer_token(&headers, &uri, max_len) {
        Ok(token) => {
            let all: Vec<&HeaderValue> = headers.get_all(header::AUTHORIZATION).iter().collect();
            assert_eq!(all.len(), 1, "a token from several headers");
            let value = all[0].as_bytes();
            assert!(value.ends_with(token.as_bytes()));
            assert!(value[..6].eq_ignore_ascii_case(b"bearer"));
            assert!(
                value[6..value.len() - token.len()]
                    .iter()
                    .all(|b| *b == b' ')
            );
            assert!(
                !token.is_empty() && token.len() <= max_len,
                "{} > {max_len}",
                token.len()
            );
            let body = token.trim_end_matches('=');
            assert!(!body.is_empty());
            assert!(
                body.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
            );
        }
        Err(error) => assert!(
            matches!(
                error.code(),
                ErrorCode::MissingToken
                    | ErrorCode::MalformedAuthorizationHeader
                    | ErrorCode::MultipleCredentials
                    | ErrorCode::TokenInQuery
                    | ErrorCode::TokenTooLarge
            ),
            "{error:?}"
        ),
    }
});
