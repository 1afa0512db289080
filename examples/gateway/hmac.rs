//! The identity headers the gateway adds to every proxied request, and their signature.
//!
//! The backend never sees the client's token (MCP forbids token passthrough). It learns who
//! called from `X-Gateway-Sub`, `X-Gateway-Scopes` and `X-Gateway-Timestamp`, and trusts them
//! because `X-Gateway-Signature` is an HMAC-SHA256, keyed with `GATEWAY_HMAC_SECRET`, over this
//! canonical string (UTF-8, fields joined by `\n`, no trailing newline):
//!
//! ```text
//! v2
//! <HTTP method, upper case>          POST
//! <path the backend receives>        /tools/search
//! <query string the backend receives, without `?`; empty when none>   lang=en
//! <X-Gateway-Sub>                    auth0|123
//! <X-Gateway-Scopes>                 docs.read search.read   (sorted, space separated)
//! <X-Gateway-Timestamp>              1764028800      (Unix seconds)
//! <X-Gateway-Body-SHA256>            lower-case hex SHA-256 of the body, or `-`
//! ```
//!
//! The signature is lower-case hex. Method, path and query are signed so a signature captured
//! for one call cannot be replayed on another (security review finding 9); the timestamp lets
//! the backend refuse old ones (the README suggests ±300 s). The body is signed by its digest
//! whenever its length is known and at most [`MAX_SIGNED_BODY`] (every JSON-RPC body the scope
//! guard has read, every `Content-Length` body up to 1 MiB): the backend must check that the
//! body's SHA-256 equals `X-Gateway-Body-SHA256`. A longer or chunked body is streamed, not
//! buffered, and `-` says it is not signed.

use aws_lc_rs::hmac;

pub const SUB: &str = "x-gateway-sub";
pub const SCOPES: &str = "x-gateway-scopes";
pub const TIMESTAMP: &str = "x-gateway-timestamp";
pub const SIGNATURE: &str = "x-gateway-signature";
pub const BODY_SHA256: &str = "x-gateway-body-sha256";
/// The `X-Gateway-Body-SHA256` of a body that is streamed and not signed.
pub const UNSIGNED_BODY: &str = "-";
/// The longest body the gateway buffers to sign its digest: 1 MiB, the scope guard's bound.
pub const MAX_SIGNED_BODY: u64 = 1024 * 1024;

/// The identity of one proxied request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Without `?`; empty when there is none.
    pub query: &'a str,
    pub sub: &'a str,
    /// Sorted, space separated.
    pub scopes: &'a str,
    pub timestamp: u64,
    /// [`body_sha256`] of the body, or [`UNSIGNED_BODY`].
    pub body_sha256: &'a str,
}

impl Identity<'_> {
    /// The canonical string the signature covers (see the module docs).
    pub fn canonical(&self) -> String {
        format!(
            "v2\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.method,
            self.path,
            self.query,
            self.sub,
            self.scopes,
            self.timestamp,
            self.body_sha256
        )
    }
}

/// Signs identities with `GATEWAY_HMAC_SECRET`.
#[derive(Clone)]
pub struct Signer {
    key: hmac::Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

impl Signer {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The lower-case hex HMAC-SHA256 of the identity's canonical string.
    pub fn sign(&self, identity: &Identity<'_>) -> String {
        hex(hmac::sign(&self.key, identity.canonical().as_bytes()).as_ref())
    }

    /// Checks a hex signature in constant time (the demo backend uses it, as a real backend
    /// would).
    pub fn verify(&self, identity: &Identity<'_>, signature_hex: &str) -> bool {
        match unhex(signature_hex) {
            Some(tag) => hmac::verify(&self.key, identity.canonical().as_bytes(), &tag).is_ok(),
            None => false,
        }
    }
}

/// The lower-case hex SHA-256 of `body`.
pub fn body_sha256(body: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body).as_ref())
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn identity<'a>(path: &'a str, query: &'a str, body_sha256: &'a str) -> Identity<'a> {
        Identity {
            method: "POST",
            path,
            query,
            sub: "auth0|123",
            scopes: "docs.read search.read",
            timestamp: 1_764_028_800,
            body_sha256,
        }
    }

    #[test]
    fn canonical_string_is_exactly_the_documented_one() {
        assert_eq!(
            identity("/tools/search", "lang=en", EMPTY_SHA256).canonical(),
            format!(
                "v2\nPOST\n/tools/search\nlang=en\nauth0|123\ndocs.read search.read\n1764028800\n{EMPTY_SHA256}"
            )
        );
        assert_eq!(body_sha256(b""), EMPTY_SHA256);
    }

    #[test]
    fn signature_matches_an_independent_hmac_sha256() {
        // Computed with: printf 'v2\nPOST\n/tools/search\nlang=en\nauth0|123\ndocs.read search.read\n1764028800\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
        //   | openssl dgst -sha256 -hmac 'test-secret'
        let signer = Signer::new(b"test-secret");
        let signed = identity("/tools/search", "lang=en", EMPTY_SHA256);
        let signature = signer.sign(&signed);
        assert_eq!(signature, OPENSSL_V2);
        assert!(signer.verify(&signed, &signature));
        assert!(!signer.verify(
            &identity("/tools/delete", "lang=en", EMPTY_SHA256),
            &signature
        ));
        assert!(!signer.verify(
            &identity("/tools/search", "lang=fr", EMPTY_SHA256),
            &signature
        ));
        assert!(!signer.verify(
            &identity("/tools/search", "lang=en", UNSIGNED_BODY),
            &signature
        ));
        assert!(!signer.verify(&signed, "zz"));
    }

    const OPENSSL_V2: &str = "22fd4aae6e9c6f629dd4a437285d44a161db2c94fe519d9ad1737202f830d3df";
}
