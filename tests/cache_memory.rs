//! The verified-token cache's memory, measured with a counting global allocator: 10 000
//! Auth0-like tokens fit in 16 MiB, and a flood of distinct tokens beyond the bound does not grow
//! it. Its own test binary, so no other test allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::sync::atomic::{AtomicIsize, Ordering};

use http::{Request, Response};
use tower::{Service, ServiceExt};
use tower_layer::Layer;
use tower_mcp_auth::challenge::{AuthError, ErrorCode};
use tower_mcp_auth::token::TokenVerifier;
use tower_mcp_auth::{AccessToken, BearerAuthLayer};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// `Bearer h.<n>-<padding>.<signature>`, shaped as a real Auth0 RS256 access token: 1 117 bytes,
/// the last 342 of them its signature. The cache keeps each token's signature and its recent
/// slots keep whole tokens, so both lengths count.
fn token(n: u64) -> String {
    let head = format!("h.{n}-");
    let signature = format!("{}{n:016}", "s".repeat(342 - 16));
    format!(
        "Bearer {head}{}.{signature}",
        "p".repeat(1117 - head.len() - 1 - signature.len())
    )
}

/// Accepts `h.<n>-<padding>.<signature>` and returns the claims of an Auth0-like token number `n` (about 700 bytes
/// of JSON, as a real 1.1 KB token carries).
struct NumberedTokens;

impl TokenVerifier for NumberedTokens {
    async fn verify(&self, token: &str) -> Result<AccessToken, AuthError> {
        let n: u64 = token
            .split('.')
            .nth(1)
            .and_then(|payload| payload.split('-').next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| AuthError::new(ErrorCode::MalformedToken, "test token"))?;
        AccessToken::from_claims(serde_json::json!({
            "https://example.com/uid": format!("u-{n:06}"),
            "https://example.com/roles": ["member"],
            "iss": "https://tenant.us.auth0.com/",
            "sub": format!("google-oauth2|1088765432109876{n:05}"),
            "aud": ["https://api.example.com/mcp", "https://tenant.us.auth0.com/userinfo"],
            "iat": 1_700_000_000u64,
            "exp": 4_102_444_800u64,
            "scope": "openid profile email offline_access search.read docs.read docs.write calendar.read",
            "azp": "AbCdEfGhIjKlMnOpQrStUvWxYz012345",
            "permissions": ["search.read", "docs.read", "docs.write", "calendar.read", "calendar.write"],
            "jti": format!("2f1c7a9e-5b4d-4e8f-9a0b-{n:012}"),
        }))
    }
}

#[tokio::test(flavor = "current_thread")]
async fn ten_thousand_cached_tokens_fit_in_16_mib_and_a_flood_does_not_grow_the_cache() {
    let inner = tower::service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    let before = live();
    let mut service = BearerAuthLayer::new(NumberedTokens).layer(inner);
    let mut send = async |n: u64| {
        let request = Request::post("/mcp")
            .header("authorization", token(n))
            .body(String::new())
            .unwrap();
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), 200);
    };
    for n in 0..10_000 {
        send(n).await;
    }
    let full = live() - before;
    for n in 10_000..60_000 {
        send(n).await;
    }
    let flooded = live() - before;
    let mib = |bytes: isize| bytes as f64 / (1024.0 * 1024.0);
    println!(
        "token cache: {:.2} MiB at 10 000 entries ({} bytes each), {:.2} MiB after 50 000 more distinct tokens",
        mib(full),
        full / 10_000,
        mib(flooded)
    );
    assert!(full < 16 * 1024 * 1024, "{:.2} MiB", mib(full));
    assert!(
        flooded < full + full / 10,
        "the cache grew from {:.2} MiB to {:.2} MiB",
        mib(full),
        mib(flooded)
    );
}
