//! Each layer driven in process with `oneshot` (tower-http's manner): no socket, no server. The
//! loopback tests (`bearer_auth.rs`, `scope_guard.rs`, `prm.rs`, `*_end_to_end.rs`) cover the
//! same layers over real HTTP.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::{
    AccessToken, BearerAuthLayer, PrmRoute, ProtectedResourceMetadata, ScopeGuardLayer, ScopePolicy,
};

const RESOURCE: &str = "https://api.example.com/mcp";

type Answer = std::future::Ready<Result<Response<Full<Bytes>>, Infallible>>;

/// The inner service: answers the subject of the token the layers inserted, or `none`.
fn echo_subject<B>() -> tower::util::ServiceFn<fn(Request<B>) -> Answer> {
    fn answer<B>(request: Request<B>) -> Answer {
        let subject = request
            .extensions()
            .get::<AccessToken>()
            .map_or("none", |t| t.subject())
            .to_owned();
        std::future::ready(Ok(Response::new(Full::new(Bytes::from(subject)))))
    }
    tower::service_fn(answer::<B> as fn(_) -> _)
}

fn get(token: Option<&str>) -> Request<Full<Bytes>> {
    let mut request = Request::get("/mcp");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Full::new(Bytes::new())).unwrap()
}

/// A token the bearer layer would have inserted for `subject` (no scopes, far from expiry).
fn token_of(subject: &str) -> AccessToken {
    AccessToken::from_claims(
        json!({"iss": "i", "sub": subject, "aud": "a", "exp": 4_102_444_800u64}),
    )
    .unwrap()
}

async fn json_of<B: http_body::Body>(response: Response<B>) -> Value
where
    B::Error: std::fmt::Debug,
{
    serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::test]
async fn bearer_layer_passes_a_valid_token_and_refuses_none_in_process() {
    let dev = DevIssuer::generate().unwrap();
    let layer = BearerAuthLayer::new(dev.verifier(RESOURCE).await.unwrap())
        .resource_metadata("https://api.example.com/.well-known/oauth-protected-resource/mcp");
    let token = dev.token(RESOURCE).subject("carol").sign().unwrap();

    let response = layer
        .layer(echo_subject())
        .oneshot(get(Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "carol"
    );

    let response = layer
        .layer(echo_subject())
        .oneshot(get(None))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp""#
    );
    assert_eq!(json_of(response).await["code"], "MISSING_TOKEN");
}

#[tokio::test]
async fn scope_guard_refuses_a_route_without_its_scope_in_process() {
    let policy = ScopePolicy::builder()
        .route(http::Method::GET, "/mcp", ["admin"])
        .build()
        .unwrap();
    let guard = ScopeGuardLayer::new(policy).resource_metadata("https://rs.example/prm");
    let mut request = get(None);
    request.extensions_mut().insert(token_of("dave"));
    let response = guard.layer(echo_subject()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer resource_metadata="https://rs.example/prm", error="insufficient_scope", scope="admin", error_description="GET /mcp requires the scope(s) admin; the token lacks admin""#
    );
    assert_eq!(json_of(response).await["missing_scopes"], json!(["admin"]));
}

#[tokio::test]
async fn prm_route_answers_its_paths_and_hands_on_the_rest_in_process() {
    let policy = ScopePolicy::builder()
        .tool("search", ["search.read"])
        .build()
        .unwrap();
    let metadata =
        ProtectedResourceMetadata::new(RESOURCE).authorization_server("https://i.example/");
    let route = PrmRoute::new(metadata, &policy)
        .unwrap()
        .with_fallback(echo_subject());
    let request = Request::get("/.well-known/oauth-protected-resource/mcp")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = route.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_of(response).await["authorization_servers"],
        json!(["https://i.example/"])
    );
    let response = route.oneshot(get(None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "none"
    );
}

/// A request body that never yields a frame and never wakes its reader: only the guard's own
/// timer can end the wait.
struct Silent;

impl http_body::Body for Silent {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        Poll::Pending
    }
}

#[tokio::test]
async fn a_body_that_never_arrives_nor_wakes_the_guard_is_refused_at_the_read_timeout() {
    // This body never wakes the guard: the timer armed at its first `Pending` must end the
    // wait (a guard that armed it only on a later poll would wait for ever).
    let policy = ScopePolicy::builder()
        .json_rpc_route("/mcp")
        .tool("search", ["read"])
        .build()
        .unwrap();
    let guard = ScopeGuardLayer::new(policy).body_read_timeout(Some(Duration::from_millis(100)));
    let mut request = Request::post("/mcp")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Silent)
        .unwrap();
    request.extensions_mut().insert(token_of("erin"));
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        guard.layer(echo_subject()).oneshot(request),
    )
    .await
    .expect("the guard's read timer must end the wait")
    .unwrap();
    assert_eq!(answer.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(json_of(answer).await["code"], "REQUEST_BODY_TIMEOUT");
}

/// Polls a future to completion, then once more: the second poll must panic with a message
/// (tower-http's behaviour), never answer a second, empty 200.
fn poll_twice<F: Future>(future: F) {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        matches!(future.as_mut().poll(&mut cx), Poll::Ready(_)),
        "ready at once"
    );
    let _ = future.as_mut().poll(&mut cx);
}

#[test]
#[should_panic(expected = "response future polled after completion")]
fn bearer_future_polled_after_completion_panics_with_a_message() {
    struct Never;
    impl tower_mcp_auth::token::TokenVerifier for Never {
        async fn verify(&self, _: &str) -> Result<AccessToken, tower_mcp_auth::AuthError> {
            Err(tower_mcp_auth::AuthError::missing_token())
        }
    }
    let mut service = BearerAuthLayer::new(Never).layer(echo_subject());
    poll_twice(service.call(get(None)));
}

#[test]
#[should_panic(expected = "response future polled after completion")]
fn scope_guard_future_polled_after_completion_panics_with_a_message() {
    let mut service = ScopeGuardLayer::new(ScopePolicy::allow_all()).layer(echo_subject());
    poll_twice(service.call(get(None)));
}

#[test]
#[should_panic(expected = "response future polled after completion")]
fn prm_future_polled_after_completion_panics_with_a_message() {
    let policy = ScopePolicy::allow_all();
    let mut route = PrmRoute::new(ProtectedResourceMetadata::new(RESOURCE), &policy).unwrap();
    let request = Request::get("/.well-known/oauth-protected-resource/mcp")
        .body(Full::new(Bytes::new()))
        .unwrap();
    poll_twice(route.call(request));
}
