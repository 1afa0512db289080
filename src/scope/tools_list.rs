//! [`ToolsListFilterLayer`]: a `tools/list` result shows the caller only the tools it may call
//! (FastMCP hides unauthorized components the same way; SEP-1881 "Scope-Filtered Tool
//! Discovery").
//!
//! Place it inside [`ScopeGuardLayer`](crate::ScopeGuardLayer): the guard has read the JSON-RPC
//! body already and marks a `tools/list` request ([`ToolsListRequest`] in its extensions), so
//! this layer reads no request body itself. Only the response to a single `tools/list` request is
//! touched, JSON or SSE ([`ToolsListBody`]); every other response, and every other SSE event of
//! that response, passes through as it arrives. A page it cannot parse is passed unchanged with
//! a warning: a list is not an authorization decision, the call is.
//!
//! ```
//! use tower::ServiceBuilder;
//! use tower_mcp_auth::scope::ToolsListFilterLayer;
//! use tower_mcp_auth::{BearerAuthLayer, ScopeGuardLayer, ScopePolicy};
//! # use tower_mcp_auth::{AccessToken, challenge::AuthError, token::TokenVerifier};
//! # struct MyVerifier;
//! # impl TokenVerifier for MyVerifier {
//! #     async fn verify(&self, _: &str) -> Result<AccessToken, AuthError> { Err(AuthError::missing_token()) }
//! # }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = std::sync::Arc::new(ScopePolicy::builder().tool("search", ["docs:read"]).build()?);
//! let layers = ServiceBuilder::new()
//!     .layer(BearerAuthLayer::new(MyVerifier))
//!     .layer(ScopeGuardLayer::new(policy.clone()))
//!     .layer(ToolsListFilterLayer::new(policy));
//! # let _ = layers; Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response, header};
use pin_project_lite::pin_project;
use serde_json::Value;
use tower_layer::Layer;
use tower_service::Service;

use crate::scope::ScopePolicy;
use crate::scope::jsonrpc::{self, JsonRpcBody};
use crate::scope::tools_list_body::{Framing, ToolsListBody, Visibility};
use crate::token::AccessToken;

/// Applies [`ToolsListFilter`]: trims `tools/list` results to the tools the caller may call
/// under `policy` (all protected ones are hidden from a caller without a token).
#[derive(Debug, Clone)]
pub struct ToolsListFilterLayer {
    policy: Arc<ScopePolicy>,
    trim: bool,
    annotate: bool,
}

impl ToolsListFilterLayer {
    /// A filter for `policy` (the one the guard enforces) that hides what the caller cannot call.
    pub fn new(policy: impl Into<Arc<ScopePolicy>>) -> Self {
        Self {
            policy: policy.into(),
            trim: true,
            annotate: false,
        }
    }

    /// Also sets each listed tool's `securitySchemes`, top-level and in
    /// `_meta["securitySchemes"]` ([`ScopePolicy::annotate_tool`]): for servers whose SDK has no
    /// field for it (rmcp 3.11's `Tool` has only `_meta`).
    pub fn security_schemes(mut self) -> Self {
        self.annotate = true;
        self
    }

    /// Lists every tool (no trimming); with [`security_schemes`](Self::security_schemes), the
    /// layer then only annotates.
    pub fn keep_all_tools(mut self) -> Self {
        self.trim = false;
        self
    }
}

impl<S> Layer<S> for ToolsListFilterLayer {
    type Service = ToolsListFilter<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ToolsListFilter {
            inner,
            layer: self.clone(),
        }
    }
}

/// Middleware that trims `tools/list` results. See [`ToolsListFilterLayer`].
#[derive(Debug, Clone)]
pub struct ToolsListFilter<S> {
    inner: S,
    layer: ToolsListFilterLayer,
}

impl<S, B, ResBody> Service<Request<B>> for ToolsListFilter<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ToolsListBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let visibility = req
            .extensions()
            .get::<ToolsListRequest>()
            .filter(|_| self.layer.trim || self.layer.annotate)
            .map(|request| Visibility {
                policy: Arc::clone(&self.layer.policy),
                token: req.extensions().get::<AccessToken>().cloned(),
                id: request.id.clone(),
                trim: self.layer.trim,
                annotate: self.layer.annotate,
            });
        ResponseFuture {
            future: self.inner.call(req),
            visibility,
        }
    }
}

/// The mark [`ScopeGuardLayer`](crate::ScopeGuardLayer) puts on an authorized single
/// `tools/list` request (in its extensions): the request's JSON-RPC `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolsListRequest {
    /// The JSON-RPC `id` (a string or a number).
    pub id: Value,
}

impl ToolsListRequest {
    /// The mark for `body`, when it is a single `tools/list` request with a string or number
    /// `id`.
    pub(crate) fn of(body: &[u8]) -> Option<Self> {
        let Ok(JsonRpcBody::Single(call)) = jsonrpc::inspect(body) else {
            return None;
        };
        if call.method.as_deref() != Some("tools/list") {
            return None;
        }
        #[derive(serde::Deserialize)]
        struct IdOnly {
            id: Value,
        }
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let id = serde_json::Deserializer::from_slice(body)
            .into_iter::<IdOnly>()
            .next()?
            .ok()?
            .id;
        (id.is_string() || id.is_number()).then_some(Self { id })
    }
}

pin_project! {
    /// Response future of [`ToolsListFilter`].
    pub struct ResponseFuture<F> {
        #[pin]
        future: F,
        visibility: Option<Visibility>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ToolsListBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.future.poll(cx))?;
        let Some(visibility) = this.visibility.take() else {
            return Poll::Ready(Ok(response.map(ToolsListBody::pass)));
        };
        let (mut parts, body) = response.into_parts();
        let framing = if parts.headers.contains_key(header::CONTENT_ENCODING) {
            tracing::warn!("tools/list response is content-encoded; passed unfiltered");
            None
        } else {
            let media = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|ct| ct.split(';').next())
                .map(|media| media.trim().to_ascii_lowercase());
            match media.as_deref() {
                Some("application/json") => Some(Framing::Json),
                Some("text/event-stream") => Some(Framing::Sse),
                _ => None,
            }
        };
        let Some(framing) = framing else {
            return Poll::Ready(Ok(Response::from_parts(parts, ToolsListBody::pass(body))));
        };
        // The trimmed body has another length.
        parts.headers.remove(header::CONTENT_LENGTH);
        let body = ToolsListBody::filter(body, framing, visibility);
        Poll::Ready(Ok(Response::from_parts(parts, body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body::Frame;
    use http_body_util::{BodyExt, Empty, StreamBody};
    use serde_json::json;

    /// Runs `request` through the filter over an inner service answering `chunks` as
    /// `content_type`; the answer's headers and body.
    async fn run(
        content_type: &'static str,
        chunks: &[&str],
        token: Option<AccessToken>,
        request_body: Value,
    ) -> (http::HeaderMap, String) {
        run_with(|layer| layer, content_type, chunks, token, request_body).await
    }

    async fn run_with(
        configure: fn(ToolsListFilterLayer) -> ToolsListFilterLayer,
        content_type: &'static str,
        chunks: &[&str],
        token: Option<AccessToken>,
        request_body: Value,
    ) -> (http::HeaderMap, String) {
        let policy = ScopePolicy::builder()
            .tool("search", ["docs:read"])
            .tool("admin", ["admin"])
            .public_tool("echo")
            .build()
            .unwrap();
        let chunks: Vec<Bytes> = chunks.iter().map(|c| Bytes::from(c.to_string())).collect();
        let length = chunks.iter().map(Bytes::len).sum::<usize>();
        let inner = tower::service_fn(move |_req: Request<Empty<Bytes>>| {
            let frames: Vec<Result<Frame<Bytes>, Infallible>> =
                chunks.iter().cloned().map(|c| Ok(Frame::data(c))).collect();
            async move {
                let body = StreamBody::new(futures_util::stream::iter(frames));
                Ok::<_, Infallible>(
                    Response::builder()
                        .header(header::CONTENT_TYPE, content_type)
                        .header(header::CONTENT_LENGTH, length)
                        .body(body)
                        .unwrap(),
                )
            }
        });
        let mut service = configure(ToolsListFilterLayer::new(policy)).layer(inner);
        let mut request = Request::post("/mcp").body(Empty::new()).unwrap();
        // What the guard marks after reading the body.
        if let Some(mark) = ToolsListRequest::of(request_body.to_string().as_bytes()) {
            request.extensions_mut().insert(mark);
        }
        if let Some(token) = token {
            request.extensions_mut().insert(token);
        }
        let response = service.call(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (parts.headers, String::from_utf8(bytes.to_vec()).unwrap())
    }

    fn token(scope: &str) -> AccessToken {
        AccessToken::from_claims(json!({
            "iss": "i", "sub": "s", "aud": "a", "exp": 4_102_444_800u64, "scope": scope
        }))
        .unwrap()
    }

    const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"search"},{"name":"echo"},{"name":"admin"}],"nextCursor":"c2"}}"#;

    fn names(message: &Value) -> Vec<&str> {
        message["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn json_page_is_trimmed_and_keeps_its_other_fields() {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        let (headers, body) = run(
            "application/json",
            &[&LIST[..30], &LIST[30..]],
            Some(token("docs:read")),
            request,
        )
        .await;
        assert!(!headers.contains_key(header::CONTENT_LENGTH));
        let message: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(names(&message), ["search", "echo"]);
        assert_eq!(message["result"]["nextCursor"], "c2");
    }

    #[tokio::test]
    async fn sse_events_split_across_frames_are_trimmed_and_the_rest_passes() {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        let stream = format!("data:\nid: 0\nretry: 3000\n\ndata: {LIST}\nid: 1\n\ndata: after\n\n");
        let (a, b) = stream.split_at(40);
        let (_, body) = run("text/event-stream", &[a, b], None, request).await;
        let events: Vec<&str> = body.split("\n\n").collect();
        assert_eq!(events[0], "data:\nid: 0\nretry: 3000");
        let data = events[1]
            .strip_prefix("data: ")
            .unwrap()
            .strip_suffix("\nid: 1")
            .unwrap();
        assert_eq!(names(&serde_json::from_str(data).unwrap()), ["echo"]);
        assert_eq!(events[2], "data: after");
    }

    #[tokio::test]
    async fn other_requests_and_unparseable_pages_pass_unchanged() {
        let call =
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x"}});
        let (headers, body) = run("application/json", &[LIST], None, call).await;
        assert_eq!(body, LIST);
        assert!(headers.contains_key(header::CONTENT_LENGTH));
        let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        let (_, body) = run("application/json", &["{not json"], None, list).await;
        assert_eq!(body, "{not json");
    }

    #[tokio::test]
    async fn security_schemes_are_set_top_level_and_in_meta_with_or_without_trimming() {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        let (_, body) = run_with(
            |layer| layer.security_schemes().keep_all_tools(),
            "application/json",
            &[LIST],
            None,
            request,
        )
        .await;
        let message: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(names(&message), ["search", "echo", "admin"]);
        let search = &message["result"]["tools"][0];
        let schemes = json!([{"type": "oauth2", "scopes": ["docs:read"]}]);
        assert_eq!(search["securitySchemes"], schemes);
        assert_eq!(search["_meta"]["securitySchemes"], schemes);
        assert_eq!(
            message["result"]["tools"][1]["securitySchemes"],
            json!([{"type": "noauth"}])
        );
    }
}
