//! The identity headers the gateway adds to every proxied request, and their signature.
//!
//! The backend never sees the client's token (MCP forbids token passthrough). It learns who
//! called from `X-Gateway-Sub`, `X-Gateway-Scopes` and `X-Gateway-Timestamp`, and trusts them
//! because `X-Gateway-Signature` is an HMAC-SHA256, keyed with `GATEWAY_HMAC_SECRET`, over this
//! canonical string (UTF-8, fields joined by `\n`, no trailing newline):
//!
//! ```text
//! v1
//! <HTTP method, upper case>          POST
//! <path the backend receives>        /tools/search   (no query string)
//! <X-Gateway-Sub>                    auth0|123
//! <X-Gateway-Scopes>                 docs.read search.read   (sorted, space separated)
//! <X-Gateway-Timestamp>              1764028800      (Unix seconds)
//! ```
//!
//! The signature is lower-case hex. Method and path are signed so a signature captured for one
//! tool cannot be replayed on another; the timestamp lets the backend refuse old ones (the README
//! suggests ±300 s). The body is not signed: it is streamed, and TLS protects it in transit.

use aws_lc_rs::hmac;

pub const SUB: &str = "x-gateway-sub";
pub const SCOPES: &str = "x-gateway-scopes";
pub const TIMESTAMP: &str = "x-gateway-timestamp";
pub const SIGNATURE: &str = "x-gateway-signature";
/// Every header under this prefix is the gateway's: the client's are removed.
pub const PREFIX: &str = "x-gateway-";

/// The identity of one proxied request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub sub: &'a str,
    /// Sorted, space separated.
    pub scopes: &'a str,
    pub timestamp: u64,
}

impl Identity<'_> {
    /// The canonical string the signature covers (see the module docs).
    pub fn canonical(&self) -> String {
        format!(
            "v1\n{}\n{}\n{}\n{}\n{}",
            self.method, self.path, self.sub, self.scopes, self.timestamp
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

    fn identity(path: &str) -> Identity<'_> {
        Identity {
            method: "POST",
            path,
            sub: "auth0|123",
            scopes: "docs.read search.read",
            timestamp: 1_764_028_800,
        }
    }

    #[test]
    fn canonical_string_is_exactly_the_documented_one() {
        assert_eq!(
            identity("/tools/search").canonical(),
            "v1\nPOST\n/tools/search\nauth0|123\ndocs.read search.read\n1764028800"
        );
    }

    #[test]
    fn signature_matches_an_independent_hmac_sha256() {
        // Computed with: printf 'v1\nPOST\n/tools/search\nauth0|123\ndocs.read search.read\n1764028800'
        //   | openssl dgst -sha256 -hmac 'test-secret'
        let signer = Signer::new(b"test-secret");
        let signature = signer.sign(&identity("/tools/search"));
        assert_eq!(
            signature,
            "7e2fd964d315de05d57d6b8b3946ee1c8ac06c70d830325ccaba65220405fd83"
        );
        assert!(signer.verify(&identity("/tools/search"), &signature));
        assert!(!signer.verify(&identity("/tools/delete"), &signature));
        assert!(!signer.verify(&identity("/tools/search"), "zz"));
    }
}
