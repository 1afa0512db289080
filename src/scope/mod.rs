//! Scopes: one [`ScopePolicy`] says which scopes each route, MCP tool, resource, prompt and
//! JSON-RPC method needs; [`ScopeGuardLayer`] enforces it per request and per JSON-RPC call.
//!
//! - [`ScopePolicy`] and [`ScopePolicyBuilder`]: the policy, built in code, or read by
//!   [`ScopePolicy::from_env`] from the gateway's `TOOL_SCOPES` / `REQUIRED_SCOPES`;
//! - [`ScopeGuardLayer`] / [`ScopeGuard`] / [`ResponseFuture`]: the middleware;
//! - [`GuardedBody`]: the request body the service behind the guard receives.

mod authorize;
mod body_read;
mod builder;
mod config;
mod guard;
mod implication;
pub(crate) mod jsonrpc;
mod jsonrpc_params;
mod mcp_headers;
mod methods;
mod policy;
mod public;
mod resource_uri;
mod security_schemes;
mod sessions;
mod tool_result;
mod tools_list;
mod tools_list_body;

pub use body_read::DEFAULT_BODY_READ_TIMEOUT;
pub use builder::ScopePolicyBuilder;
pub use config::{REQUIRED_SCOPES, ScopeConfigError, TOOL_SCOPES};
pub use guard::{DEFAULT_MAX_BODY_BYTES, ResponseFuture, ScopeGuard, ScopeGuardLayer};
pub use implication::SCOPE_IMPLIES;
pub use mcp_headers::{MCP_METHOD, MCP_NAME};
pub use policy::{ScopePolicy, UnknownTools};
pub use public::DISCOVERY_METHODS;
pub use sessions::{MCP_SESSION_ID, SessionBinding};
pub use tool_result::ChallengeMode;
pub use tools_list::{
    ResponseFuture as ToolsListResponseFuture, ToolsListFilter, ToolsListFilterLayer,
    ToolsListRequest,
};
pub use tools_list_body::{MAX_PAGE_BYTES, ToolsListBody};
/// The request body behind [`ScopeGuard`]: the original body, untouched, when the guard did not
/// need to read it, or the exact bytes it read (a JSON-RPC `POST`), handed on without a copy.
///
/// It is the crate's [`LayerBody`](crate::body::LayerBody): axum's `Router`, tonic's servers,
/// rmcp's `StreamableHttpService` and hyper services accept any request body with `Bytes` data,
/// so it composes with `Router::layer` and `tower::ServiceBuilder` without a conversion.
pub type GuardedBody<B> = crate::body::LayerBody<B>;
