//! Authorizing the JSON-RPC message(s) of a request body against a [`ScopePolicy`].

use http::HeaderMap;

use crate::challenge::{AuthError, ErrorCode};
use crate::scope::jsonrpc::{self, Call, JsonRpcBody, Unreadable};
use crate::scope::methods::authorize_call;
use crate::scope::{ScopePolicy, mcp_headers, public};
use crate::token::AccessToken;

/// Checks every JSON-RPC call in `body` against the policy, for `token` or (`None`) a caller
/// without one; `challenge_scopes` are what a 401 for the latter asks for (`None`: the call's).
/// `json_rpc_route`: the policy marks the route as JSON-RPC, so a body without any JSON value is
/// refused too (elsewhere it runs nothing and passes).
///
/// On success, the message(s) it read, so the caller need not parse the body again.
pub(crate) fn authorize_body<'a>(
    policy: &ScopePolicy,
    headers: &HeaderMap,
    token: Option<&AccessToken>,
    challenge_scopes: Option<&[String]>,
    body: &'a [u8],
    json_rpc_route: bool,
) -> Result<JsonRpcBody<'a>, AuthError> {
    let body = match jsonrpc::inspect(body) {
        Ok(body) => body,
        Err(Unreadable::Empty) if !json_rpc_route => JsonRpcBody::NotJsonRpc,
        Err(Unreadable::Empty | Unreadable::Malformed) => {
            return Err(AuthError::new(
                ErrorCode::JsonRpcParseError,
                "The request body is not JSON (RFC 8259; NaN, Infinity, comments and other \
                 extensions are not JSON)",
            ));
        }
        Err(Unreadable::Trailing) => {
            return Err(AuthError::new(
                ErrorCode::TrailingData,
                "The request body holds more than one JSON value",
            ));
        }
    };
    if body.calls().iter().any(|call| call.ambiguous) {
        return Err(AuthError::new(
            ErrorCode::BodyUnreadable,
            "The JSON-RPC message repeats the method, params, name, uri, ref, notifications or \
             resourceSubscriptions key; servers disagree on which one counts",
        ));
    }
    mcp_headers::check(headers, &body)?;
    if body.calls().is_empty() {
        // No call, so nothing public: the default scopes (checked here rather than per route
        // when the policy has public operations), and a token in any case.
        policy
            .method_requirement("")
            .check_principal(token, challenge_scopes, || "This request".to_owned())?;
    }
    let mut refusals = body
        .calls()
        .iter()
        .filter_map(|call| authorize_principal_call(policy, token, challenge_scopes, call).err());
    let Some(first) = refusals.next() else {
        return Ok(body);
    };
    match refusals.try_fold(first, merge_refusals) {
        Ok(refusal) | Err(refusal) => Err(refusal),
    }
}

/// A public call passes for anyone; any other is checked against the token, or refused for
/// want of one.
fn authorize_principal_call(
    policy: &ScopePolicy,
    token: Option<&AccessToken>,
    challenge_scopes: Option<&[String]>,
    call: &Call<'_>,
) -> Result<(), AuthError> {
    if policy.has_public_operations() && policy.public_operations().is_public(call) {
        return Ok(());
    }
    match token {
        // A response runs nothing, but still needs the default scopes.
        Some(token) if call.method.is_none() => policy
            .method_requirement("")
            .check(token, || "A JSON-RPC response".to_owned()),
        Some(token) => authorize_call(policy, token, call),
        None => public::anonymous_call(policy, challenge_scopes, call),
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
