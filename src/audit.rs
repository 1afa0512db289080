//! The audit event: one structured `tracing` event per decision of a layer, on its own target,
//! [`TARGET`] (`tower_mcp_auth::audit`), at `TRACE` level, so it is off — and costs one atomic
//! load — unless a subscriber enables that target:
//!
//! ```text
//! RUST_LOG=info,tower_mcp_auth::audit=trace
//! ```
//!
//! (The level is `TRACE` so that the usual `info` or `debug` filters leave it off; a build that
//! compiles out trace events with `tracing`'s `max_level_*` features has no audit events.)
//!
//! Every event has the same fields, empty where they do not apply:
//!
//! | field | value |
//! | --- | --- |
//! | `layer` | `bearer` or `scope_guard` |
//! | `outcome` | `allowed` or `refused` |
//! | `code` | the refusal's stable [`ErrorCode`](crate::ErrorCode) (`""` when allowed) |
//! | `status` | the HTTP status of the refusal (`0` when allowed: the inner service answers) |
//! | `subject` | the token's `sub` (`""` when no token was verified) |
//! | `client_id` | the token's `client_id` or `azp` |
//! | `issuer` | the token's `iss` |
//! | `http_method`, `path` | the request's method and path (never the query string) |
//! | `operation` | the MCP operation(s) judged, e.g. `tools/call search` (several: `, `-separated) |
//! | `missing_scopes`, `required_scopes` | space-separated, for `insufficient_scope` |
//!
//! Tokens, secrets and request bodies are never part of it. Each layer makes its own decision,
//! so a request that passes both layers yields two events (`bearer`, then `scope_guard`).
//! Every decision is also counted in [`crate::metrics`].

use http::{HeaderMap, Method, Request};

use crate::challenge::AuthError;
use crate::metrics::{self, Decider};
use crate::token::AccessToken;

/// The `tracing` target of the audit events.
pub const TARGET: &str = "tower_mcp_auth::audit";

/// What a decision reads of a request, from a whole request or its parts.
pub(crate) trait Head {
    fn method(&self) -> &Method;
    fn path(&self) -> &str;
    fn headers(&self) -> &HeaderMap;
    fn token(&self) -> Option<&AccessToken>;
}

impl<B> Head for Request<B> {
    fn method(&self) -> &Method {
        Request::method(self)
    }
    fn path(&self) -> &str {
        self.uri().path()
    }
    fn headers(&self) -> &HeaderMap {
        Request::headers(self)
    }
    fn token(&self) -> Option<&AccessToken> {
        self.extensions().get()
    }
}

impl Head for http::request::Parts {
    fn method(&self) -> &Method {
        &self.method
    }
    fn path(&self) -> &str {
        self.uri.path()
    }
    fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    fn token(&self) -> Option<&AccessToken> {
        self.extensions.get()
    }
}

fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::TRACE)
}

/// Counts an allowed request and emits its audit event (the token is in the extensions).
pub(crate) fn allowed(layer: Decider, request: &impl Head, operation: Option<&str>) {
    metrics::decision(layer, None);
    if enabled() {
        emit(layer, request, operation, None);
    }
}

/// Like [`allowed`], for a request the bearer layer let through on a token from its cache's
/// recent slot: the cache hit is counted with the decision (the repeated-token path).
pub(crate) fn allowed_recent_hit(request: &impl Head) {
    metrics::bearer_cache_hit_allowed();
    if enabled() {
        emit(Decider::Bearer, request, None, None);
    }
}

/// Like [`allowed`], naming the JSON-RPC operations of `body` (read only when the event is on).
pub(crate) fn allowed_body(layer: Decider, request: &impl Head, body: &[u8]) {
    metrics::decision(layer, None);
    if enabled() {
        let operations = describe_operations(body);
        emit(layer, request, Some(&operations), None);
    }
}

/// Counts a refusal and emits its audit event.
pub(crate) fn refused(layer: Decider, request: &impl Head, error: &AuthError) {
    metrics::decision(layer, Some(error.code()));
    if enabled() {
        emit(layer, request, error.operation(), Some(error));
    }
}

fn emit(layer: Decider, request: &impl Head, operation: Option<&str>, error: Option<&AuthError>) {
    let token = request.token();
    let joined = |scopes: Option<&[String]>| scopes.map(|s| s.join(" ")).unwrap_or_default();
    tracing::event!(
        target: TARGET,
        tracing::Level::TRACE,
        layer = layer.as_str(),
        outcome = if error.is_some() { "refused" } else { "allowed" },
        code = error.map_or("", |e| e.code().as_str()),
        status = error.map_or(0, |e| e.code().status().as_u16()),
        subject = token.map_or("", AccessToken::subject),
        client_id = token.and_then(AccessToken::client_id).unwrap_or_default(),
        issuer = token.map_or("", AccessToken::issuer),
        http_method = request.method().as_str(),
        path = request.path(),
        operation = operation.unwrap_or_default(),
        missing_scopes = joined(error.map(AuthError::missing_scopes)),
        required_scopes = joined(error.map(AuthError::required_scopes)),
        "authorization decision"
    );
}

/// The operations of a JSON-RPC body, as the refusals name them: `tools/call search`, …
fn describe_operations(body: &[u8]) -> String {
    // The guard has read this body already; unreadable here means it passed as no JSON-RPC.
    let Ok(body) = crate::scope::jsonrpc::inspect(body) else {
        return String::new();
    };
    let described: Vec<String> = body
        .calls()
        .iter()
        .filter_map(|call| {
            let method = call.method.as_deref()?;
            let target = match method {
                "tools/call" | "prompts/get" => call.name.as_deref(),
                "resources/read" => call.uri.as_deref(),
                _ => None,
            };
            Some(match target {
                Some(target) => format!("{method} {target}"),
                None => method.to_owned(),
            })
        })
        .collect();
    described.join(", ")
}
