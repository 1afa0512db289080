//! [`HashedToken`]: a token handed to its verifier with the SHA-256 of its signing input, which
//! the bearer layer computes anyway on its way to the cache key.

use aws_lc_rs::digest::{self, Digest};

use crate::token::cache::{TokenKey, key_end};

/// A bearer token and the SHA-256 of its signing input (`header.payload`: the bytes before its
/// last dot), given to [`TokenVerifier::verify_hashed`](crate::token::TokenVerifier::verify_hashed).
///
/// The bearer layer hashes every token it has not seen recently, for its cache key. A JWS
/// verifier whose algorithm hashes the signing input with SHA-256 (RS256, PS256, ES256) can
/// check the signature against this digest instead of hashing those bytes again; every other
/// verifier reads the token with [`as_str`](Self::as_str). Only this crate makes one, from the
/// token itself, so the digest is always that of this token's bytes.
#[derive(Clone)]
pub struct HashedToken<'a> {
    token: &'a str,
    signing_input: SigningInput,
}

/// The SHA-256 of a token's bytes before its last dot, and how many bytes that is.
#[derive(Clone)]
pub(crate) struct SigningInput {
    len: usize,
    sha256: Digest,
}

impl std::fmt::Debug for HashedToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token: it is a credential.
        f.debug_struct("HashedToken")
            .field("len", &self.token.len())
            .finish_non_exhaustive()
    }
}

impl<'a> HashedToken<'a> {
    /// `token` with `signing_input`, which [`hash`] computed from these very bytes.
    pub(crate) fn new(token: &'a str, signing_input: SigningInput) -> Self {
        Self {
            token,
            signing_input,
        }
    }

    /// The token.
    pub fn as_str(&self) -> &'a str {
        self.token
    }

    /// The SHA-256 of `signed`, when `signed` is this token's signing input: the very bytes
    /// of [`as_str`](Self::as_str) before its last dot (the same memory and length, so no
    /// comparison is needed). Any other string gets `None`, and its verifier hashes it.
    pub(crate) fn sha256_of(&self, signed: &str) -> Option<&Digest> {
        let same_bytes = std::ptr::eq(signed.as_ptr(), self.token.as_ptr())
            && signed.len() == self.signing_input.len;
        same_bytes.then_some(&self.signing_input.sha256)
    }
}

/// The main cache's key of `token`: the SHA-256 of its bytes before its last dot, or of all of
/// it when it has none or a tail too long to keep ([`key_end`]). For a JWS that is the signing
/// input, and its digest is also given back for the signature check: one hash serves both.
pub(crate) fn hash(token: &[u8]) -> (TokenKey, Option<SigningInput>) {
    let (hashed, signing_input_len) = match key_end(token) {
        Some(dot) => (&token[..dot], Some(dot)),
        None => (token, None),
    };
    let sha256 = digest::digest(&digest::SHA256, hashed);
    let mut key = [0u8; 32];
    key.copy_from_slice(sha256.as_ref());
    let signing_input = signing_input_len.map(|len| SigningInput { len, sha256 });
    (key, signing_input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_the_digest_are_those_of_the_bytes_before_the_last_dot() {
        let token = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
        let dot = token.iter().rposition(|b| *b == b'.').unwrap();
        let (key, signing_input) = hash(token);
        assert_eq!(
            key.as_slice(),
            digest::digest(&digest::SHA256, &token[..dot]).as_ref()
        );
        let token_text = std::str::from_utf8(token).unwrap();
        let hashed = HashedToken::new(token_text, signing_input.unwrap());
        assert_eq!(hashed.signing_input.len, dot);
        assert_eq!(hashed.signing_input.sha256.as_ref(), key.as_slice());
        // No dot: the whole token is hashed, and there is no signing input.
        let (key, none) = hash(b"opaque");
        assert!(none.is_none());
        assert_eq!(
            key.as_slice(),
            digest::digest(&digest::SHA256, b"opaque").as_ref()
        );
    }

    #[test]
    fn the_digest_serves_only_the_token_own_signing_input() {
        let token = "aaa.bbb.ccc";
        let (_, signing_input) = hash(token.as_bytes());
        let hashed = HashedToken::new(token, signing_input.unwrap());
        assert!(hashed.sha256_of(&token[..7]).is_some());
        // Another split of the token, or the same bytes elsewhere: hashed afresh.
        assert!(hashed.sha256_of(&token[..3]).is_none());
        let elsewhere = String::from("aaa.bbb");
        assert!(hashed.sha256_of(&elsewhere).is_none());
        assert_eq!(hashed.as_str(), token);
    }
}
