//! The bearer layer's cache is looked up before the token's characters and shape are checked:
//! only byte-identical tokens that were verified are served from it.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{Request, Response};
use tower::{Service, ServiceExt};
use tower_layer::Layer;
use tower_mcp_auth::challenge::{AuthError, ErrorCode};
use tower_mcp_auth::token::TokenVerifier;
use tower_mcp_auth::{AccessToken, BearerAuthLayer};

/// Accepts every token whose last character is `k`, counting calls.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicUsize>);

impl TokenVerifier for Counting {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        if !token.ends_with('k') {
            return Err(AuthError::new(ErrorCode::InvalidSignature, "bad signature"));
        }
        AccessToken::from_claims(serde_json::json!({
            "iss": "i", "sub": token, "aud": "a", "exp": 4_102_444_800u64
        }))
    }
}

async fn status(
    service: &mut (
             impl Service<Request<String>, Response = Response<impl Sized>, Error = Infallible> + Send
         ),
    authorization: &str,
) -> u16 {
    let request = Request::post("/mcp")
        .header("authorization", authorization)
        .body(String::new())
        .unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    response.status().as_u16()
}

#[tokio::test]
async fn only_byte_identical_verified_tokens_are_served_from_the_cache() {
    let verifier = Counting::default();
    let calls = Arc::clone(&verifier.0);
    let inner = tower::service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    let mut service = BearerAuthLayer::new(verifier).layer(inner);

    assert_eq!(status(&mut service, "Bearer h.p.ok").await, 200);
    assert_eq!(status(&mut service, "Bearer h.p.ok").await, 200);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the second request is a hit"
    );

    // One byte more or less is another token: checked and verified, never a hit.
    assert_eq!(status(&mut service, "Bearer h.p.o").await, 401);
    assert_eq!(status(&mut service, "Bearer h.p.okk").await, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Malformed credentials are refused by their shape, before the verifier.
    assert_eq!(status(&mut service, "Bearer h.p.ok,").await, 400);
    assert_eq!(status(&mut service, "Bearer opaque").await, 401);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // Refused tokens are not cached: the bad one is verified again.
    assert_eq!(status(&mut service, "Bearer h.p.o").await, 401);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}
