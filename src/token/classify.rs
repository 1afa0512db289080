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
    let mut parts = 1usize;
    let mut part_len = 0usize;
    let mut empty_part = false;
    for b in token.bytes() {
        // A table lookup per byte: tokens are a kilobyte and this runs on every cache miss.
        match BASE64URL_OR_DOT[usize::from(b)] {
            Byte::Base64Url => part_len += 1,
            Byte::Dot => {
                empty_part |= part_len == 0;
                parts += 1;
                part_len = 0;
            }
            Byte::Other => return TokenShape::Opaque,
        }
    }
    match parts {
        // A JWS signature may be empty only for `alg: none`, which is refused later with a
        // clearer message than "not a JWS"; header and payload never are.
        3 if !empty_part => TokenShape::Jws,
        // A JWE's encrypted key is empty for direct encryption (`alg: dir`): don't require it.
        5 => TokenShape::Jwe,
        _ => TokenShape::Opaque,
    }
}

#[derive(Clone, Copy)]
enum Byte {
    Base64Url,
    Dot,
    Other,
}

static BASE64URL_OR_DOT: [Byte; 256] = {
    let mut table = [Byte::Other; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
            table[b] = Byte::Base64Url;
        } else if c == b'.' {
            table[b] = Byte::Dot;
        }
        b += 1;
    }
    table
};

/// Refuses a token that is not a compact JWS, with the hint that fixes the usual cause.
pub fn require_jws(token: &str) -> Result<(), AuthError> {
    match classify(token) {
        TokenShape::Jws => Ok(()),
        TokenShape::Jwe => Err(encrypted_jwe()),
        TokenShape::Opaque => Err(not_jws()),
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
