//! An MCP server on loopback behind the layers, verifying tokens of an [`IssuerServer`], and
//! what an rmcp client needs to talk to it: the transport with or without a token, a client
//! that has initialized, a tool call, progress notifications, and a bound on every wait.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use rmcp::model::{
    CallToolRequestParams, ClientRequest, ContentBlock, ProgressNotificationParam, Request,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RequestHandle, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tower_mcp_auth::token::JwksVerifier;

use super::issuer_server::IssuerServer;

/// Bounds every wait so a broken build fails instead of hanging; never a pass/fail threshold.
pub const HANG_GUARD: Duration = Duration::from_secs(20);

/// The server under test.
pub struct Server {
    /// `http://127.0.0.1:port`
    pub base: String,
    /// `http://127.0.0.1:port/mcp`, the MCP URL and the resource identifier.
    pub mcp_url: String,
    pub issuer: IssuerServer,
}

impl Server {
    /// Starts an issuer and serves `app(verifier, public_url)` on a free loopback port; the
    /// verifier takes the MCP URL as its audience, as an MCP client asks for it (RFC 8707
    /// `resource`).
    pub async fn start(app: impl FnOnce(JwksVerifier, &str) -> Router) -> Server {
        let issuer = IssuerServer::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mcp_url = format!("{base}/mcp");
        let verifier = JwksVerifier::builder()
            .issuer(issuer.issuer.clone())
            .audience(mcp_url.clone())
            .build()
            .await
            .unwrap();
        let app = app(verifier, &base);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server {
            base,
            mcp_url,
            issuer,
        }
    }

    /// A token for the MCP URL with `scope`.
    pub fn token(&self, scope: &str) -> String {
        let mut claims = self.issuer.claims(scope);
        claims["aud"] = json!(self.mcp_url);
        self.issuer.sign(&claims)
    }

    /// The protected resource metadata URL for `/mcp` (RFC 9728 §3.1).
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.base)
    }

    /// rmcp's streamable HTTP transport to the MCP URL, sending `token` if there is one.
    pub fn transport(
        &self,
        token: Option<String>,
    ) -> StreamableHttpClientTransport<reqwest::Client> {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.mcp_url.clone());
        if let Some(token) = token {
            config = config.auth_header(token);
        }
        StreamableHttpClientTransport::from_config(config)
    }

    /// Starts a `countdown` that would run a minute, as a client with a token for `scope`, and
    /// waits for its first progress event: only a response streamed over SSE lets that event
    /// reach the client while the tool still runs, so the answer must not have arrived yet.
    pub async fn start_countdown(&self, scope: &str) -> StreamingCountdown {
        let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
        let client =
            guard(ProgressClient(progress_tx).serve(self.transport(Some(self.token(scope)))))
                .await
                .unwrap();
        let request =
            ClientRequest::CallToolRequest(Request::new(call("countdown", json!({"seconds": 60}))));
        let mut handle =
            guard(client.send_cancellable_request(request, PeerRequestOptions::no_options()))
                .await
                .unwrap();
        let first = guard(progress_rx.recv()).await.expect("a progress event");
        assert_eq!(first.progress_token, handle.progress_token);
        assert_eq!(first.message.as_deref(), Some("60 s left"));
        assert!(
            matches!(
                handle.rx.try_recv(),
                Err(tokio::sync::oneshot::error::TryRecvError::Empty)
            ),
            "the response must not have arrived before the first progress event"
        );
        StreamingCountdown {
            client,
            handle,
            first,
        }
    }

    /// An initialized rmcp client, with a token for `scope` or, for `None`, none.
    pub async fn client(&self, scope: Option<&str>) -> RunningService<RoleClient, ()> {
        let token = scope.map(|scope| self.token(scope));
        guard(().serve(self.transport(token)))
            .await
            .expect("initialize")
    }
}

/// A `countdown` still running whose first progress event has arrived
/// ([`Server::start_countdown`]).
pub struct StreamingCountdown {
    pub client: RunningService<RoleClient, ProgressClient>,
    pub handle: RequestHandle<RoleClient>,
    pub first: ProgressNotificationParam,
}

impl StreamingCountdown {
    /// Cancels the countdown (another POST through the same layers), then closes the client.
    pub async fn cancel(self) {
        guard(self.handle.cancel(Some("seen enough".into())))
            .await
            .unwrap();
        guard(self.client.cancel()).await.unwrap();
    }
}

/// `future`, bounded by [`HANG_GUARD`].
pub async fn guard<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .expect("hang guard")
}

/// A `tools/call` of `tool` with `arguments` (an object).
pub fn call(tool: &str, arguments: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool.to_owned())
        .with_arguments(arguments.as_object().cloned().unwrap_or_default())
}

/// The text of a result's only content block.
pub fn text(content: &[ContentBlock]) -> String {
    match content {
        [block] => block.as_text().expect("text content").text.clone(),
        other => panic!("expected one content block, got {}", other.len()),
    }
}

/// A client that forwards every progress notification it receives.
pub struct ProgressClient(pub mpsc::UnboundedSender<ProgressNotificationParam>);

impl ClientHandler for ProgressClient {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(params);
    }
}
