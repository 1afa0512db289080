//! Scopes: one [`ScopePolicy`] says which scopes each route, MCP tool, resource, prompt and
//! JSON-RPC method needs; [`ScopeGuardLayer`] enforces it per request and per JSON-RPC call.
//!
//! - [`ScopePolicy`] and [`ScopePolicyBuilder`]: the policy, built in code, or read by
//!   [`ScopePolicy::from_env`] from the gateway's `TOOL_SCOPES` / `REQUIRED_SCOPES`;
//! - [`ScopeGuardLayer`] / [`ScopeGuard`] / [`ResponseFuture`]: the middleware;
//! - the service behind the guard receives its request body as a
//!   [`LayerBody`](crate::body::LayerBody).

mod authorize;
mod body_read;
mod builder;
mod config;
mod guard;
mod header_scan;
mod implication;
mod json_read;
pub(crate) mod jsonrpc;
#[cfg(test)]
mod jsonrpc_oracle;
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
