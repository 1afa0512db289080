//! Reading the bearer credential from a request (RFC 6750 §2.1, OAuth 2.1: header only).

use http::{HeaderMap, Uri, header};

use crate::challenge::{AuthError, ErrorCode};

/// Finds the one bearer token of a request.
///
/// - `Authorization: Bearer <token>`, scheme case-insensitive; the token must be an RFC 6750
///   `b64token` (`[A-Za-z0-9-._~+/]+=*`);
/// - two `Authorization` headers, or a token both in the header and in the query string, are
///   `invalid_request` (RFC 6750 §2: one method per request);
/// - an `access_token` query parameter is `invalid_request` even alone: OAuth 2.1 removed the URI
///   query method, because URLs end up in logs;
/// - a header longer than `max_len` is refused before any parsing.
///
/// ```
/// use http::{HeaderMap, HeaderValue, Uri};
/// use tower_mcp_auth::token::bearer_token;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("authorization", HeaderValue::from_static("bearer abc.def.ghi"));
/// let uri: Uri = "/mcp".parse().unwrap();
/// assert_eq!(bearer_token(&headers, &uri, 16 * 1024).unwrap(), "abc.def.ghi");
/// ```
pub fn bearer_token<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    max_len: usize,
) -> Result<&'a str, AuthError> {
    bearer_credential(headers, uri, max_len).and_then(checked_token)
}

/// The bytes after `Bearer `, with every request-level check of [`bearer_token`] done but the
/// token's characters not yet checked: the bearer layer looks them up in its cache first (a
/// cached token passed [`checked_token`] when it was verified; the cache key is its SHA-256).
pub(crate) fn bearer_credential<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    max_len: usize,
) -> Result<&'a [u8], AuthError> {
    let in_query = uri.query().is_some_and(query_has_access_token);
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(if in_query {
            token_in_query()
        } else {
            AuthError::missing_token()
        });
    };
    if values.next().is_some() {
        return Err(AuthError::new(
            ErrorCode::MultipleCredentials,
            "The request has more than one Authorization header; send exactly one bearer token",
        ));
    }
    if in_query {
        return Err(AuthError::new(
            ErrorCode::MultipleCredentials,
            "The request carries a token both in the Authorization header and in the query string",
        ));
    }
    // "Bearer " plus the token: bound the whole value before looking inside it.
    if value.len() > max_len.saturating_add(7) {
        return Err(AuthError::new(
            ErrorCode::TokenTooLarge,
            format!("The access token is longer than {max_len} bytes"),
        ));
    }
    // The scheme is everything before the first space: `bearer`, in any case, and nothing more.
    let Some(rest) = value
        .as_bytes()
        .split_first_chunk::<6>()
        // Setting bit 5 lowers a letter, and only the two cases of a letter become that
        // lowercase letter: `B` and `b` give `b`, no other byte does.
        .filter(|(scheme, rest)| {
            let bearer = scheme
                .iter()
                .zip(b"bearer")
                .all(|(b, want)| b | 0x20 == *want);
            bearer && rest.first().is_none_or(|b| *b == b' ')
        })
        .map(|(_, rest)| rest)
    else {
        // Another scheme (Basic, DPoP, …) is not a bearer credential: answer with the plain
        // challenge so the client learns what to send.
        return Err(AuthError::missing_token());
    };
    let token_start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
    Ok(&rest[token_start..])
}

/// The token of [`bearer_credential`] once its characters are checked.
pub(crate) fn checked_token(token: &[u8]) -> Result<&str, AuthError> {
    if !is_b64token(token) {
        return Err(malformed_header());
    }
    // `is_b64token` admits only ASCII, so this never fails.
    std::str::from_utf8(token).map_err(|_| {
        AuthError::new(
            ErrorCode::MalformedAuthorizationHeader,
            "The bearer token is not ASCII",
        )
    })
}

/// The answer for an `Authorization` header that is not `Bearer <one b64token>`.
pub(crate) fn malformed_header() -> AuthError {
    AuthError::new(
        ErrorCode::MalformedAuthorizationHeader,
        "The Authorization header must be exactly `Bearer <token>` with a single token",
    )
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &[u8]) -> bool {
    let body_end = token.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    // No early exit, so the compiler turns the loop into SIMD: tokens are a kilobyte and this
    // runs on every cache miss.
    body_end > 0
        && token[..body_end]
            .iter()
            .fold(true, |ok, b| ok & is_b64token_char(*b))
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`, as comparisons without branches.
const fn is_b64token_char(b: u8) -> bool {
    (b.wrapping_sub(b'0') < 10)
        | ((b | 0x20).wrapping_sub(b'a') < 26)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

fn query_has_access_token(query: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("access_token"))
}

fn token_in_query() -> AuthError {
    AuthError::new(
        ErrorCode::TokenInQuery,
        "Access tokens in the query string are not accepted (OAuth 2.1); use the Authorization header",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(header::AUTHORIZATION, HeaderValue::from_static(v));
        }
        map
    }

    fn code(values: &[&'static str], uri: &str) -> ErrorCode {
        bearer_token(&headers(values), &uri.parse().unwrap(), 64)
            .unwrap_err()
            .code()
    }

    #[test]
    fn scheme_is_case_insensitive() {
        let uri: Uri = "/".parse().unwrap();
        for v in ["Bearer a.b.c", "bearer a.b.c", "BEARER   a.b.c"] {
            assert_eq!(bearer_token(&headers(&[v]), &uri, 64).unwrap(), "a.b.c");
        }
    }

    #[test]
    fn failures_have_their_codes() {
        assert_eq!(code(&[], "/"), ErrorCode::MissingToken);
        assert_eq!(code(&["Basic dXNlcg=="], "/"), ErrorCode::MissingToken);
        assert_eq!(
            code(&["Bearer"], "/"),
            ErrorCode::MalformedAuthorizationHeader
        );
        assert_eq!(
            code(&["Bearer a b"], "/"),
            ErrorCode::MalformedAuthorizationHeader
        );
        assert_eq!(
            code(&["Bearer a,b"], "/"),
            ErrorCode::MalformedAuthorizationHeader
        );
        assert_eq!(
            code(&["Bearer a", "Bearer b"], "/"),
            ErrorCode::MultipleCredentials
        );
        assert_eq!(code(&[], "/?access_token=x"), ErrorCode::TokenInQuery);
        assert_eq!(
            code(&["Bearer a"], "/?x=1&access_token=x"),
            ErrorCode::MultipleCredentials
        );
        assert_eq!(
            code(
                &["Bearer aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
                "/"
            ),
            ErrorCode::TokenTooLarge
        );
    }

    /// The scheme is the bytes before the first space and must be `bearer` in some case: the
    /// same as `eq_ignore_ascii_case`, for every byte in every position of the scheme.
    #[test]
    fn only_bearer_in_any_case_is_the_scheme() {
        let uri: Uri = "/".parse().unwrap();
        for at in 0..6 {
            for b in 0..=255u8 {
                let mut value = b"Bearer a.b.c".to_vec();
                value[at] = b;
                let Ok(header) = HeaderValue::from_bytes(&value) else {
                    continue;
                };
                let mut map = HeaderMap::new();
                map.insert(header::AUTHORIZATION, header);
                let is_bearer = value[..6].eq_ignore_ascii_case(b"bearer");
                assert_eq!(
                    bearer_credential(&map, &uri, 64).is_ok(),
                    is_bearer,
                    "{:?}",
                    String::from_utf8_lossy(&value)
                );
            }
        }
        for other in [
            "Bearerx a.b.c",
            "Bearer\ta.b.c",
            "Bear",
            " Bearer a.b.c",
            "Bearer_a",
        ] {
            assert_eq!(code(&[other], "/"), ErrorCode::MissingToken, "{other:?}");
        }
    }

    #[test]
    fn b64token_chars_are_exactly_rfc6750s() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_b64token_char(b), expected, "{b:#x}");
        }
    }

    #[test]
    fn padding_is_allowed_only_at_the_end() {
        assert!(is_b64token(b"abc=="));
        assert!(!is_b64token(b"a=bc"));
        assert!(!is_b64token(b"=="));
    }
}
