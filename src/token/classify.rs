//! Telling what kind of credential a token is before trying to verify it.

use crate::challenge::{AuthError, ErrorCode};

/// The shape of a bearer credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenShape {
    /// A compact JWS: three base64url parts (`header.payload.signature`).
    Jws,
    /// A compact JWE: five parts. Auth0 issues one when the authorization request named no API
    /// `audience`; the resource server cannot read it.
    Jwe,
    /// Anything else: an opaque reference token, or garbage.
    Opaque,
}

/// Classifies `token` by its compact-serialization shape (RFC 7515 §7.1, RFC 7516 §7.1).
///
/// ```
/// use tower_mcp_auth::token::{classify, TokenShape};
///
/// assert_eq!(classify("eyJh.eyJz.c2ln"), TokenShape::Jws);
/// assert_eq!(classify("eyJh..aXY.Y3Q.dGFn"), TokenShape::Jwe);
/// assert_eq!(classify("mF_9.B5f-4.1JqM.x"), TokenShape::Opaque);
/// ```
pub fn classify(token: &str) -> TokenShape {
    if base64url_or_dots(token.as_bytes()) {
        shape_of_parts(token.as_bytes())
    } else {
        TokenShape::Opaque
    }
}

/// The shape of a token made of base64url characters and dots only, from its dots.
fn shape_of_parts(token: &[u8]) -> TokenShape {
    // Two or four dots make the token a JWS or a JWE; no more than five are ever looked for.
    let mut dots = [0usize; 5];
    let mut found = 0;
    for dot in memchr::memchr_iter(b'.', token) {
        if found == dots.len() {
            return TokenShape::Opaque;
        }
        dots[found] = dot;
        found += 1;
    }
    match found {
        // A JWS signature may be empty only for `alg: none`, which is refused later with a
        // clearer message than "not a JWS"; header and payload never are.
        2 if dots[0] > 0 && dots[1] > dots[0] + 1 => TokenShape::Jws,
        // A JWE's encrypted key is empty for direct encryption (`alg: dir`): don't require it.
        4 => TokenShape::Jwe,
        _ => TokenShape::Opaque,
    }
}

/// True when every byte of `token` is a base64url character or a dot.
fn base64url_or_dots(token: &[u8]) -> bool {
    // One pass with no early exit over the bytes, which the compiler turns into SIMD: tokens are
    // a kilobyte and this runs on every cache miss.
    token
        .iter()
        .fold(true, |ok, b| ok & (is_base64url(*b) | (*b == b'.')))
}

/// The token of a bearer credential, its characters checked as [`checked_token`] does, and its
/// shape as [`classify`] tells it: in one pass over the bytes when the token is base64url and
/// dots (every JWS and JWE is), since those are all `b64token` characters.
///
/// [`checked_token`]: crate::token::credential::checked_token
pub(crate) fn checked_shape(credential: &[u8]) -> Result<(&str, TokenShape), AuthError> {
    if !credential.is_empty() && base64url_or_dots(credential) {
        // Only ASCII passed, so this never fails.
        if let Ok(token) = std::str::from_utf8(credential) {
            return Ok((token, shape_of_parts(credential)));
        }
    }
    crate::token::credential::checked_token(credential).map(|token| (token, TokenShape::Opaque))
}

/// `[A-Za-z0-9_-]`, written as comparisons without branches so a loop over it vectorizes.
const fn is_base64url(b: u8) -> bool {
    (b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 26) | (b == b'-') | (b == b'_')
}

/// Refuses a token that is not a compact JWS, with the hint that fixes the usual cause.
pub fn require_jws(token: &str) -> Result<(), AuthError> {
    match classify(token) {
        TokenShape::Jws => Ok(()),
        shape => Err(shape_refused(shape)),
    }
}

/// The answer for a token whose shape the verifier does not accept.
pub(crate) fn shape_refused(shape: TokenShape) -> AuthError {
    match shape {
        TokenShape::Jwe => encrypted_jwe(),
        TokenShape::Opaque => not_jws(),
        TokenShape::Jws => AuthError::new(
            ErrorCode::MalformedToken,
            "This server does not accept JWT access tokens",
        ),
    }
}

/// The answer for an encrypted token (JWE).
pub(crate) fn encrypted_jwe() -> AuthError {
    AuthError::new(
        ErrorCode::EncryptedJwe,
        "The access token is an encrypted JWE, not a signed JWT: the authorization request \
         named no API audience. Request the token with `audience` (or `resource`) set to this \
         API's identifier (in Auth0, force it in a Post-Login Action)",
    )
}

/// The answer for an opaque token, or a dotted one whose first part is no JOSE header.
pub(crate) fn not_jws() -> AuthError {
    AuthError::new(
        ErrorCode::NotJws,
        "The access token is not a signed JWT (an opaque token?): the authorization request \
         most likely named no API audience. Request the token with `audience` (or `resource`) \
         set to this API's identifier",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_bytes_are_exactly_the_alphabet() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            assert_eq!(is_base64url(b), expected, "{b:#x}");
        }
    }

    #[test]
    fn shapes() {
        assert_eq!(classify("a.b.c"), TokenShape::Jws);
        // Unsecured JWTs (`alg: none`) have an empty signature: refused later, by algorithm.
        assert_eq!(classify("a.b."), TokenShape::Jws);
        assert_eq!(classify("a..c"), TokenShape::Opaque);
        assert_eq!(classify(".b.c"), TokenShape::Opaque);
        assert_eq!(classify("a.b.c.d.e"), TokenShape::Jwe);
        assert_eq!(classify("a..c.d.e"), TokenShape::Jwe);
        assert_eq!(classify("a.b.c.d"), TokenShape::Opaque);
        assert_eq!(classify("abc"), TokenShape::Opaque);
        assert_eq!(classify("a+b.c.d"), TokenShape::Opaque);
        assert_eq!(classify(""), TokenShape::Opaque);
        assert_eq!(classify("a.b.c.d.e.f"), TokenShape::Opaque);
        assert_eq!(classify("a.b.c\u{e9}"), TokenShape::Opaque);
        assert_eq!(classify("...."), TokenShape::Jwe);
        assert_eq!(classify("a.b.c.d.e."), TokenShape::Opaque);
    }

    #[test]
    fn checked_shape_agrees_with_its_two_checks() {
        let credentials: &[&[u8]] = &[
            b"a.b.c",
            b"a.b.",
            b"a..c",
            b".b.c",
            b"a.b.c.d.e",
            b"a..c.d.e",
            b"....",
            b"...",
            b"a.b.c.d",
            b"abc",
            b"a+b.c.d",
            b"",
            b"=",
            b"abc==",
            b"a.b.c==",
            b"a.b.c.d.e.f",
            b"a b",
            b"a.b.c\xc3\xa9",
            b"a~b/c",
            b".",
            b"..",
            b"a.b.c.d.e.",
        ];
        for credential in credentials {
            let expected = crate::token::credential::checked_token(credential)
                .map(|token| (token, classify(token)))
                .map_err(|error| error.code());
            let merged = checked_shape(credential).map_err(|error| error.code());
            assert_eq!(
                merged,
                expected,
                "{:?}",
                String::from_utf8_lossy(credential)
            );
        }
    }

    #[test]
    fn errors_carry_the_audience_hint() {
        let jwe = require_jws("a.b.c.d.e").unwrap_err();
        assert_eq!(jwe.code(), ErrorCode::EncryptedJwe);
        assert!(jwe.description().contains("audience"));
        let opaque = require_jws("opaque").unwrap_err();
        assert_eq!(opaque.code(), ErrorCode::NotJws);
        assert!(opaque.description().contains("audience"));
    }
}
