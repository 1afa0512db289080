//! Authorizing the JSON-RPC message(s) of a request body against a [`ScopePolicy`].

use http::HeaderMap;

use crate::challenge::{AuthError, ErrorCode};
use crate::scope::jsonrpc::{self, Call};
use crate::scope::{ScopePolicy, mcp_headers};
use crate::token::AccessToken;

/// Checks every JSON-RPC call in `body` against the policy.
pub(crate) fn authorize_body(
    policy: &ScopePolicy,
    headers: &HeaderMap,
    token: &AccessToken,
    body: &[u8],
) -> Result<(), AuthError> {
    let body = jsonrpc::inspect(body);
    if body.calls().iter().any(|call| call.ambiguous) {
        return Err(AuthError::new(
            ErrorCode::BodyUnreadable,
            "The JSON-RPC message repeats the method, params, name or uri key; servers disagree \
             on which one counts",
        ));
    }
    mcp_headers::check(headers, &body)?;
    let mut refusals = body
        .calls()
        .iter()
        .filter_map(|call| authorize_call(policy, token, call).err());
    let Some(first) = refusals.next() else {
        return Ok(());
    };
    match refusals.try_fold(first, merge_refusals) {
        Ok(refusal) | Err(refusal) => Err(refusal),
    }
}

fn authorize_call(
    policy: &ScopePolicy,
    token: &AccessToken,
    call: &Call<'_>,
) -> Result<(), AuthError> {
    let Some(method) = call.method.as_deref() else {
        // A response or a malformed message: it runs nothing.
        return Ok(());
    };
    match method {
        "tools/call" => {
            let tool = call.name.as_deref().unwrap_or_default();
            policy
                .tool_requirement(tool)
                .check(token, || format!("tools/call {tool}"))
        }
        "prompts/get" => {
            let prompt = call.name.as_deref().unwrap_or_default();
            policy
                .prompt_requirement(prompt)
                .check(token, || format!("prompts/get {prompt}"))
        }
        "resources/read" => {
            let uri = call.uri.as_deref().unwrap_or_default();
            policy
                .resource_requirement(uri)
                .check(token, || format!("resources/read {uri}"))
        }
        other => policy
            .method_requirement(other)
            .check(token, || other.to_owned()),
    }
}

/// One refusal for a batch: a call the policy forbids outright wins; otherwise the scope
/// refusals are merged (the operation names every refused call).
fn merge_refusals(a: AuthError, b: AuthError) -> Result<AuthError, AuthError> {
    if a.code() != ErrorCode::InsufficientScope {
        return Err(a);
    }
    if b.code() != ErrorCode::InsufficientScope {
        return Err(b);
    }
    let union = |x: &[String], y: &[String]| {
        let mut all: Vec<String> = x.iter().chain(y).cloned().collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    let operation = format!(
        "{}, {}",
        a.operation().unwrap_or_default(),
        b.operation().unwrap_or_default()
    );
    Ok(AuthError::insufficient_scope(
        operation,
        union(a.required_scopes(), b.required_scopes()),
        union(a.missing_scopes(), b.missing_scopes()),
    ))
}
