//! The bearer layer's everyday refusals, rendered once per layer.
//!
//! A request with no token, an opaque token, a JWE or a malformed header is refused with the
//! same words every time: answering it should cost less than serving a request. So these
//! answers are rendered when the layer is built, header map included, and a refusal only clones
//! that map and the body (reference-counted bytes; no header is hashed or inserted again). Any
//! other refusal, and every gRPC one, is rendered by the [`Challenge`] as usual.

use http::{HeaderMap, Response};

use crate::body::LayerBody;
use crate::challenge::{AuthError, Challenge, RenderedRefusal, is_grpc};
use crate::token::classify::{encrypted_jwe, not_jws};
use crate::token::credential::malformed_header;

/// A [`Challenge`] with its common refusals pre-rendered.
#[derive(Debug)]
pub(crate) struct Refusals {
    challenge: Challenge,
    common: Box<[(AuthError, RenderedRefusal)]>,
}

impl Refusals {
    pub(crate) fn new(challenge: Challenge) -> Self {
        let common = [
            AuthError::missing_token(),
            not_jws(),
            encrypted_jwe(),
            malformed_header(),
        ]
        .into_iter()
        .map(|error| {
            let rendered = challenge.render_http(&error);
            (error, rendered)
        })
        .collect();
        Self { challenge, common }
    }

    pub(crate) fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// The answer to `error`; the same as [`Challenge::response`] gives.
    pub(crate) fn response<B>(
        &self,
        error: &AuthError,
        request_headers: &HeaderMap,
    ) -> Response<LayerBody<B>> {
        // Compared whole (code, then text): a description that ever varies is never served stale.
        if let Some((_, rendered)) = self.common.iter().find(|(common, _)| common == error)
            && !is_grpc(request_headers)
        {
            return rendered.response();
        }
        self.challenge.response(error, request_headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::ErrorCode;
    use bytes::Bytes;
    use futures_util::FutureExt;
    use http::HeaderValue;
    use http_body_util::{BodyExt, Empty};

    type Answer = Response<LayerBody<Empty<Bytes>>>;

    fn body(answer: Answer) -> Bytes {
        let collected = answer.into_body().collect().now_or_never();
        collected.expect("ready").expect("full body").to_bytes()
    }

    fn assert_same(a: Answer, b: Answer) {
        assert_eq!(a.status(), b.status());
        assert_eq!(a.headers(), b.headers());
        assert_eq!(body(a), body(b));
    }

    #[test]
    fn prerendered_answers_equal_the_challenges_rendering() {
        let challenge = Challenge::new()
            .realm("mcp")
            .unwrap()
            .resource_metadata("https://api.test/.well-known/oauth-protected-resource")
            .scope_hint(["mcp"]);
        let refusals = Refusals::new(challenge.clone());
        let mut grpc = HeaderMap::new();
        grpc.insert("content-type", HeaderValue::from_static("application/grpc"));
        for error in [
            AuthError::missing_token(),
            not_jws(),
            encrypted_jwe(),
            malformed_header(),
            AuthError::new(ErrorCode::NotJws, "another text"),
            AuthError::new(ErrorCode::InvalidSignature, "bad signature"),
        ] {
            for headers in [HeaderMap::new(), grpc.clone()] {
                assert_same(
                    refusals.response(&error, &headers),
                    challenge.response(&error, &headers),
                );
            }
        }
    }

    #[test]
    fn http_refusals_carry_their_length_and_every_header() {
        let refusals = Refusals::new(Challenge::new().realm("mcp").unwrap());
        for error in [
            AuthError::missing_token(),
            not_jws(),
            AuthError::new(ErrorCode::InvalidSignature, "bad signature"),
        ] {
            let answer: Answer = refusals.response(&error, &HeaderMap::new());
            let headers = answer.headers().clone();
            let body = body(answer);
            assert_eq!(headers["content-length"], body.len().to_string().as_str());
            assert_eq!(headers["content-type"], "application/json");
            assert_eq!(headers["cache-control"], "no-store");
            assert!(
                headers["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer realm=\"mcp\"")
            );
            assert_eq!(headers.len(), 4);
        }
    }
}
