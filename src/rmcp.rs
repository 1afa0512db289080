//! rmcp integration (feature `rmcp`): an rmcp tool or prompt takes [`AccessToken`] as a
//! parameter, as it takes `Parameters<T>` or `RequestContext<RoleServer>`.
//!
//! rmcp's streamable HTTP service puts the request's `http::request::Parts` in the context's
//! extensions; the token [`BearerAuthLayer`](crate::BearerAuthLayer) verified is in theirs. This
//! implements rmcp's context-part extraction (`FromContextPart`) to take it from there:
//!
//! ```
//! use rmcp::{ServerHandler, tool, tool_handler, tool_router};
//! use tower_mcp_auth::AccessToken;
//!
//! #[derive(Clone)]
//! struct Notes;
//!
//! #[tool_router(server_handler)]
//! impl Notes {
//!     #[tool(description = "Who the access token says you are")]
//!     fn whoami(&self, token: AccessToken) -> String {
//!         format!("{} with [{}]", token.subject(), token.scopes().join(" "))
//!     }
//! }
//! ```
//!
//! A tool that takes `AccessToken` on a server without the bearer layer in front fails the call
//! with JSON-RPC `-32603` (internal error) whose message names the missing layer. (A tool that
//! should also run anonymously takes `Extension<http::request::Parts>` and looks the token up in
//! `parts.extensions`.)

use rmcp::ErrorData;
use rmcp::handler::server::common::{AsRequestContext, FromContextPart};

use crate::token::AccessToken;

/// The message of the tool error when no token reached the tool.
const MISSING: &str = "no AccessToken in this request: the MCP service must be mounted behind \
                       tower_mcp_auth::McpAuth (or BearerAuthLayer)";

fn token_of<C: AsRequestContext>(context: &C) -> Option<AccessToken> {
    context
        .as_request_context()
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<AccessToken>())
        .cloned()
}

impl<C: AsRequestContext> FromContextPart<C> for AccessToken {
    fn from_context_part(context: &mut C) -> Result<Self, ErrorData> {
        token_of(context).ok_or_else(|| {
            // A deployment mistake, not the client's: the server is not protected as the tool
            // expects.
            tracing::error!("{MISSING}");
            ErrorData::internal_error(MISSING, None)
        })
    }
}
