//! The log webhook's shared secret and its constant-time check.
//!
//! Only a SHA-256 digest of the secret is kept; presented values are digested too and compared
//! with `subtle`, so neither the secret's bytes nor its length leak through timing.

use aws_lc_rs::digest;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use subtle::ConstantTimeEq;

/// The configured secret, as a digest.
pub(crate) struct WebhookSecret {
    digest: [u8; 32],
}

impl WebhookSecret {
    /// Digests `secret`; `None` when it is empty (an empty secret would protect nothing).
    pub(crate) fn new(secret: &str) -> Option<Self> {
        (!secret.is_empty()).then(|| Self {
            digest: sha256(secret.as_bytes()),
        })
    }

    /// `Ok` when a presented secret matches; `Err(401)` when none is presented, `Err(403)` when
    /// one is presented but none matches.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), StatusCode> {
        let bearer = headers.get_all(header::AUTHORIZATION).iter().map(|v| {
            let v = v.as_bytes();
            // The scheme is case-insensitive (RFC 7235); anything else is a wrong credential.
            match v.get(..7) {
                Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => {
                    v.get(7..).unwrap_or_default()
                }
                _ => b"\0not-bearer".as_slice(),
            }
        });
        let custom = headers
            .get_all("x-webhook-secret")
            .iter()
            .map(HeaderValue::as_bytes);
        let mut presented = false;
        let mut matched = subtle::Choice::from(0u8);
        for candidate in bearer.chain(custom) {
            presented = true;
            matched |= sha256(candidate.trim_ascii()).ct_eq(&self.digest);
        }
        match (presented, bool::from(matched)) {
            (_, true) => Ok(()),
            (false, false) => Err(StatusCode::UNAUTHORIZED),
            (true, false) => Err(StatusCode::FORBIDDEN),
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    #[test]
    fn either_header_passes_and_none_is_401_and_wrong_is_403() {
        let secret = WebhookSecret::new("s3cret").expect("non-empty");
        assert_eq!(
            secret.check(&headers(&[("authorization", "Bearer s3cret")])),
            Ok(())
        );
        assert_eq!(
            secret.check(&headers(&[("authorization", "bearer s3cret")])),
            Ok(())
        );
        assert_eq!(
            secret.check(&headers(&[("x-webhook-secret", "s3cret")])),
            Ok(())
        );
        assert_eq!(secret.check(&headers(&[])), Err(StatusCode::UNAUTHORIZED));
        assert_eq!(
            secret.check(&headers(&[("authorization", "Bearer s3cre")])),
            Err(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            secret.check(&headers(&[("authorization", "s3cret")])),
            Err(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            secret.check(&headers(&[
                ("authorization", "Bearer wrong"),
                ("x-webhook-secret", "s3cret")
            ])),
            Ok(())
        );
        assert!(WebhookSecret::new("").is_none());
    }
}
