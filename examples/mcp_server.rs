//! An MCP server built with the official Rust SDK (`rmcp`), served over streamable HTTP at `/mcp`
//! on an axum `Router`, protected by one `McpAuth` layer:
//!
//! - no valid token → 401 whose `WWW-Authenticate` points at the metadata;
//! - one scope per tool — `whoami` needs none, `search_docs` `docs:read`, `countdown` (streams
//!   progress over SSE) `jobs:run`; any other tool is refused; a call without its scope → 403
//!   `insufficient_scope` naming it (the client steps up);
//! - the RFC 9728 metadata at `/.well-known/oauth-protected-resource/mcp` (and the root form),
//!   public;
//! - every tool descriptor carries its `securitySchemes` from the policy (in `_meta`, where
//!   rmcp's `Tool` has room for it).
//!
//! [`app_with`] shows the mixed ("lazy") auth ChatGPT and Claude use: an optional bearer layer,
//! public discovery, `whoami` public, the challenge mode of choice, `tools/list` trimmed to the
//! caller, and `docs:write` implying `docs:read`. Those layers are mounted one by one (McpAuth
//! mounts the all-protected form).
//!
//! `whoami` is public in the mixed form, so it reads the token, if any, from the request's
//! `Extension<Parts>`; `search_docs`, protected in both forms, takes `token: AccessToken` directly
//! (feature `rmcp`).
//!
//! ```sh
//! cargo run --example mcp_server --features rmcp   # prints a development token
//! ```
//!
//! Then point an MCP client at `http://localhost:8000/mcp` with `Authorization: Bearer $TOKEN`.
//! Set `OAUTH_ISSUER` (e.g. `https://tenant.us.auth0.com/`), `OAUTH_AUDIENCE` and `PUBLIC_URL`
//! to verify real tokens instead.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    Implementation, ListToolsResult, MetaObject, PaginatedRequestParams, ProgressNotificationParam,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, handler::server::common::Extension};
use rmcp::{schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use tower::ServiceBuilder;
use tower_mcp_auth::scope::{ChallengeMode, ScopePolicyBuilder, ToolsListFilterLayer};
use tower_mcp_auth::token::JwksVerifier;
use tower_mcp_auth::{
    AccessToken, BearerAuthLayer, McpAuth, PrmRoute, ProtectedResourceMetadata, ScopeGuardLayer,
    ScopePolicy,
};

#[path = "support/dev_issuer.rs"]
mod dev_issuer;

/// The MCP server: three tools. It knows nothing of OAuth (the layers in front of it do) but
/// tells clients, per tool, what the policy asks for.
#[derive(Clone)]
pub struct Tools {
    policy: Arc<ScopePolicy>,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct SearchArgs {
    /// What to look for.
    query: String,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct CountdownArgs {
    /// How many seconds to count down.
    seconds: u32,
}

#[tool_router]
impl Tools {
    #[tool(description = "Who the access token says you are")]
    fn whoami(&self, Extension(request): Extension<http::request::Parts>) -> String {
        // Public in the mixed form: the bearer layer put the verified token, if any, in the
        // HTTP request's extensions (`token: AccessToken` would refuse a call without one).
        match request.extensions.get::<AccessToken>() {
            Some(token) => format!(
                "{} with scopes [{}]",
                token.subject(),
                token.scopes().join(" ")
            ),
            None => "anonymous".to_owned(),
        }
    }

    #[tool(description = "Search the documentation")]
    fn search_docs(
        &self,
        // Protected in both forms, so the verified token is always there: the tool takes it as
        // a parameter (feature `rmcp`), and a call without one fails naming the missing layer.
        token: AccessToken,
        Parameters(SearchArgs { query }): Parameters<SearchArgs>,
    ) -> String {
        format!("no documents match `{query}` for {}", token.subject())
    }

    #[tool(description = "Count down, one progress notification a second; cancellable")]
    async fn countdown(
        &self,
        Parameters(CountdownArgs { seconds }): Parameters<CountdownArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<String, ErrorData> {
        for left in (1..=seconds).rev() {
            if let Some(progress_token) = context.meta.get_progress_token() {
                let progress =
                    ProgressNotificationParam::new(progress_token, f64::from(seconds - left))
                        .with_total(f64::from(seconds))
                        .with_message(format!("{left} s left"));
                let _ = context.peer.notify_progress(progress).await;
            }
            tokio::select! {
                _ = context.ct.cancelled() => return Err(ErrorData::internal_error("cancelled", None)),
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        Ok("liftoff".to_owned())
    }
}

#[tool_handler]
impl ServerHandler for Tools {
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut tools = Self::tool_router().list_all();
        for tool in &mut tools {
            // rmcp's `Tool` has no top-level `securitySchemes` field: the `_meta` mirror only.
            if let Some(schemes) = self.policy.security_schemes(&tool.name) {
                tool.meta
                    .get_or_insert_with(MetaObject::new)
                    .0
                    .insert("securitySchemes".to_owned(), schemes);
            }
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("protected-mcp-example", "0.1.0"))
    }
}

/// How [`app_with`] answers callers without a token.
#[derive(Debug, Clone, Copy, Default)]
pub struct MixedAuth {
    /// The challenge mode of the scope guard (HTTP 401/403, or ChatGPT's tool results).
    pub mode: ChallengeMode,
    /// Hide from `tools/list` the tools the caller cannot call.
    pub hide_unauthorized_tools: bool,
}

/// The whole HTTP application for an MCP endpoint at `{public_url}/mcp`: the MCP service behind
/// the layers, and the protected resource metadata (public) that their challenges point to.
/// Every request needs a token.
pub fn app(
    verifier: JwksVerifier,
    public_url: &str,
) -> Result<Router, Box<dyn Error + Send + Sync>> {
    let policy = base_policy().build()?;
    build(verifier, public_url, policy, None)
}

/// The same server with mixed auth: `initialize`, `tools/list` and the other discovery calls and
/// `whoami` need no token; `search_docs` and `countdown` are answered per `mixed.mode` without
/// one; `docs:write` implies `docs:read`.
pub fn app_with(
    verifier: JwksVerifier,
    public_url: &str,
    mixed: MixedAuth,
) -> Result<Router, Box<dyn Error + Send + Sync>> {
    let policy = base_policy()
        .public_discovery()
        .public_tool("whoami")
        .scope_implies("docs:write", ["docs:read"])
        .build()?;
    build(verifier, public_url, policy, Some(mixed))
}

/// One policy: what the guard enforces, what the metadata advertises, what 401s hint.
fn base_policy() -> ScopePolicyBuilder {
    ScopePolicy::builder()
        .tool("whoami", Vec::<String>::new())
        .tool("search_docs", ["docs:read"])
        .tool("countdown", ["jobs:run"])
        .deny_unknown_tools()
        // Every POST body at /mcp must be one JSON-RPC message the guard can judge.
        .json_rpc_route("/mcp")
}

fn build(
    verifier: JwksVerifier,
    public_url: &str,
    policy: ScopePolicy,
    mixed: Option<MixedAuth>,
) -> Result<Router, Box<dyn Error + Send + Sync>> {
    let policy = Arc::new(policy);
    let metadata = ProtectedResourceMetadata::new(format!("{public_url}/mcp"))
        .authorization_server(verifier.issuer());

    let host = url::Url::parse(public_url)?
        .host_str()
        .unwrap_or_default()
        .to_owned();
    let tools = Tools {
        policy: Arc::clone(&policy),
    };
    let mcp = StreamableHttpService::new(
        move || Ok(tools.clone()),
        LocalSessionManager::default().into(),
        // rmcp checks the Host header (DNS rebinding): allow the public host.
        StreamableHttpServerConfig::default().with_allowed_hosts([host]),
    );
    let Some(mixed) = mixed else {
        // Metadata (public, at /.well-known/oauth-protected-resource/mcp and the root form),
        // then the bearer token, then the scopes: one layer, one order, one challenge.
        let auth = McpAuth::new(verifier, Arc::clone(&policy), metadata)?;
        return Ok(Router::new().route_service("/mcp", mcp).layer(auth));
    };
    // Serves /.well-known/oauth-protected-resource/mcp and the root form.
    let prm = PrmRoute::new(metadata, &policy)?;
    let bearer = BearerAuthLayer::new(verifier).challenge(prm.challenge());
    let guard = ScopeGuardLayer::new(Arc::clone(&policy)).challenge(prm.challenge());
    // The top-level `securitySchemes` rmcp's `Tool` has no field for, and (optionally) the
    // tools the caller cannot call hidden from `tools/list`.
    let mut filter = ToolsListFilterLayer::new(Arc::clone(&policy)).security_schemes();
    if !mixed.hide_unauthorized_tools {
        filter = filter.keep_all_tools();
    }
    let protected = ServiceBuilder::new()
        // No token: on to the guard, which lets only the public calls through.
        .layer(bearer.optional())
        .layer(guard.challenge_mode(mixed.mode))
        .layer(filter)
        .service(mcp);
    Ok(Router::new()
        .route_service("/mcp", protected)
        .fallback_service(prm))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let public_url = std::env::var("PUBLIC_URL").unwrap_or("http://localhost:8000".into());
    let verifier =
        dev_issuer::verifier_from_env(&format!("{public_url}/mcp"), "docs:read jobs:run").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    eprintln!("MCP endpoint: {public_url}/mcp");
    axum::serve(listener, app(verifier, &public_url)?).await?;
    Ok(())
}
