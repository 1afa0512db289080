//! The gateway's scope policy: `TOOL_SCOPES` / `REQUIRED_SCOPES` / `UNKNOWN_TOOLS` read by the
//! library's [`ScopePolicy`]. `POST /tools/{tool}` is checked by the handler with
//! [`ScopePolicy::check_tool`] on the decoded tool name, exactly as a JSON-RPC `tools/call` of it
//! is (see `tool_path.rs`). One policy feeds the guard, the metadata's `scopes_supported`, the
//! DCR client grant and `gateway print-action`.

use std::collections::BTreeMap;

use axum::http::Method;
use tower_mcp_auth::ScopePolicy;
use tower_mcp_auth::scope::UnknownTools;

use crate::config::ClientAuth;
use crate::dev_mode;

/// The policy and the tools it names.
#[derive(Debug, Clone, Default)]
pub struct GatewayPolicy {
    pub policy: ScopePolicy,
    /// Every tool `TOOL_SCOPES` names, with all the scopes a call of it needs.
    pub tools: BTreeMap<String, Vec<String>>,
    /// `ACTION_SCOPES`: the scopes the Post-Login Action adds for every ChatGPT user (sorted).
    /// Default: the policy's default scopes, which every call needs anyway. Any other scope is
    /// for some users only and must come from Auth0 RBAC, never from the Action.
    pub action_scopes: Vec<String>,
}

/// `UNKNOWN_TOOLS`: `deny` or `allow`. Unset: `deny` when `TOOL_SCOPES` names tools (a tool it
/// does not name is then most likely one nobody meant to expose), `allow` when it names none
/// (the flat form: its scopes apply to every tool, as in the Node gateway).
fn unknown_tools(value: Option<&str>, names_tools: bool) -> Result<UnknownTools, String> {
    match value {
        None if names_tools => Ok(UnknownTools::Deny),
        None => Ok(UnknownTools::DefaultScopes),
        Some("deny") if !names_tools => Err(
            "UNKNOWN_TOOLS=deny with a TOOL_SCOPES that names no tool would refuse every tool; name them (`tool=scope1,scope2;tool2=scope3`) or drop UNKNOWN_TOOLS".to_owned(),
        ),
        Some("deny") => Ok(UnknownTools::Deny),
        Some("allow") => Ok(UnknownTools::DefaultScopes),
        Some(other) => Err(format!("UNKNOWN_TOOLS `{other}` must be `deny` or `allow`")),
    }
}

/// Builds the policy; in dev mode with neither scope variable set, the demo tools' policy.
#[cfg(test)]
pub fn from_values(
    tool_scopes: Option<&str>,
    required_scopes: Option<&str>,
    unknown: Option<&str>,
    action_scopes: Option<&str>,
    dev: bool,
) -> Result<GatewayPolicy, String> {
    from_values_with(
        tool_scopes,
        required_scopes,
        unknown,
        action_scopes,
        None,
        &ClientAuth::default(),
        dev,
    )
}

/// [`from_values`] with the scope implications (`SCOPE_IMPLIES`) and the public operations of
/// `client_auth`: a public tool is public as a JSON-RPC `tools/call` and as `POST /tools/{tool}`.
#[allow(clippy::too_many_arguments)]
pub fn from_values_with(
    tool_scopes: Option<&str>,
    required_scopes: Option<&str>,
    unknown: Option<&str>,
    action_scopes: Option<&str>,
    scope_implies: Option<&str>,
    client_auth: &ClientAuth,
    dev: bool,
) -> Result<GatewayPolicy, String> {
    let tool_scopes = match (tool_scopes, required_scopes, dev) {
        (None, None, true) => Some(dev_mode::DEMO_TOOL_SCOPES),
        _ => tool_scopes,
    };
    let base = ScopePolicy::builder_from_env_values(tool_scopes, required_scopes)
        .and_then(|builder| builder.build())
        .map_err(|error| error.to_string())?;
    let mut tools = BTreeMap::new();
    // The map form is `tool=scopes;tool2=scopes`; the policy has validated it already.
    if let Some(map) = tool_scopes.filter(|value| value.contains('=')) {
        for name in map
            .split(';')
            .filter_map(|entry| entry.split_once('='))
            .map(|(name, _)| name.trim())
        {
            if let Some(scopes) = base.required_scopes_for_tool(name) {
                tools.insert(name.to_owned(), scopes);
            }
        }
    }
    // `/mcp` is JSON-RPC: the guard reads every POST body there and refuses what it cannot judge.
    // `/tools/{tool}` has no route rule: its handler checks the decoded tool name.
    let mut builder = ScopePolicy::builder_from_env_values(tool_scopes, required_scopes)
        .map_err(|error| error.to_string())?
        .json_rpc_route("/mcp")
        .unknown_tools(unknown_tools(unknown, !tools.is_empty())?);
    // Paths reach the guard in canonical form only (`tool_path::canonical_paths_only` runs
    // first), so a route rule per named tool matches exactly the calls the handler checks by
    // the decoded name: a second check, and what a 401 without a token asks for.
    for (tool, scopes) in &tools {
        if crate::proxy::is_tool_name(tool) && !client_auth.public_tools.contains(tool) {
            builder = builder.route(Method::POST, &format!("/tools/{tool}"), scopes.clone());
        }
    }
    if let Some(implications) = scope_implies {
        builder = builder
            .scope_implications(implications)
            .map_err(|error| error.to_string())?;
    }
    if client_auth.public_discovery {
        builder = builder.public_discovery();
    }
    for tool in &client_auth.public_tools {
        builder = builder
            .public_tool(tool)
            .public_route(Some(Method::POST), &format!("/tools/{tool}"));
    }
    let policy = builder.build().map_err(|error| error.to_string())?;
    let action_scopes = action_scopes_of(action_scopes, &policy)?;
    Ok(GatewayPolicy {
        policy,
        tools,
        action_scopes,
    })
}

/// `ACTION_SCOPES` (comma or space separated, `none` for no scope), each one a scope of the
/// policy; unset: the policy's default scopes.
fn action_scopes_of(value: Option<&str>, policy: &ScopePolicy) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Ok(policy.default_scopes().to_vec());
    };
    if value == "none" {
        return Ok(Vec::new());
    }
    let mut scopes: Vec<String> = value
        .split([',', ' '])
        .map(str::trim)
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    if let Some(unknown) = scopes
        .iter()
        .find(|scope| !policy.all_scopes().contains(scope))
    {
        return Err(format!(
            "ACTION_SCOPES names `{unknown}`, which is not a scope of TOOL_SCOPES / REQUIRED_SCOPES ({})",
            policy.all_scopes().join(", ")
        ));
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_tool_map_names_every_tool_with_its_full_scopes() {
        let gateway = from_values(
            Some("search=search.read; docs.create=docs.write,docs.read"),
            Some("mcp:access"),
            None,
            None,
            false,
        )
        .unwrap();
        assert_eq!(
            gateway.tools,
            BTreeMap::from([
                (
                    "docs.create".to_owned(),
                    vec![
                        "docs.read".to_owned(),
                        "docs.write".to_owned(),
                        "mcp:access".to_owned()
                    ]
                ),
                (
                    "search".to_owned(),
                    vec!["mcp:access".to_owned(), "search.read".to_owned()]
                ),
            ])
        );
        assert_eq!(
            gateway.policy.all_scopes(),
            ["docs.read", "docs.write", "mcp:access", "search.read"]
        );
    }

    #[test]
    fn the_flat_list_of_the_node_gateway_applies_to_every_call() {
        let gateway = from_values(
            Some("inner.dreams:read, inner.events:read"),
            None,
            None,
            None,
            false,
        )
        .unwrap();
        assert!(gateway.tools.is_empty());
        assert_eq!(
            gateway.policy.default_scopes(),
            ["inner.dreams:read", "inner.events:read"]
        );
    }

    #[test]
    fn dev_mode_without_scope_variables_uses_the_demo_policy() {
        let gateway = from_values(None, None, None, None, true).unwrap();
        assert_eq!(gateway.policy.all_scopes(), ["demo:admin", "demo:read"]);
        assert_eq!(gateway.tools.len(), 2);
    }

    #[test]
    fn a_malformed_entry_is_reported_by_name() {
        assert_eq!(
            from_values(Some("search=search.read;docs"), None, None, None, false).unwrap_err(),
            "TOOL_SCOPES: entry `docs` has no `=`; the per-tool form is `tool=scope1,scope2;tool2=scope3`"
        );
    }

    #[test]
    fn unknown_tools_are_denied_by_default_when_tools_are_named() {
        let named = from_values(Some("search=search.read"), None, None, None, false).unwrap();
        assert_eq!(named.policy.unknown_tools(), UnknownTools::Deny);
        let allowed =
            from_values(Some("search=search.read"), None, Some("allow"), None, false).unwrap();
        assert_eq!(allowed.policy.unknown_tools(), UnknownTools::DefaultScopes);
        let flat = from_values(Some("mcp:access"), None, None, None, false).unwrap();
        assert_eq!(flat.policy.unknown_tools(), UnknownTools::DefaultScopes);
        assert_eq!(
            from_values(Some("mcp:access"), None, Some("deny"), None, false).unwrap_err(),
            "UNKNOWN_TOOLS=deny with a TOOL_SCOPES that names no tool would refuse every tool; name them (`tool=scope1,scope2;tool2=scope3`) or drop UNKNOWN_TOOLS"
        );
        assert_eq!(
            from_values(None, None, Some("maybe"), None, true).unwrap_err(),
            "UNKNOWN_TOOLS `maybe` must be `deny` or `allow`"
        );
    }

    #[test]
    fn the_action_adds_only_the_default_scopes_unless_told_otherwise() {
        let map = "search=search.read;admin_report=admin";
        let default = from_values(Some(map), Some("mcp:access"), None, None, false).unwrap();
        assert_eq!(default.action_scopes, ["mcp:access"]);
        assert!(default.policy.all_scopes().contains(&"admin".to_owned()));
        let chosen = from_values(
            Some(map),
            Some("mcp:access"),
            None,
            Some("search.read, mcp:access"),
            false,
        )
        .unwrap();
        assert_eq!(chosen.action_scopes, ["mcp:access", "search.read"]);
        let none = from_values(Some(map), None, None, Some("none"), false).unwrap();
        assert!(none.action_scopes.is_empty());
        assert_eq!(
            from_values(Some(map), None, None, Some("admin, typo"), false).unwrap_err(),
            "ACTION_SCOPES names `typo`, which is not a scope of TOOL_SCOPES / REQUIRED_SCOPES (admin, search.read)"
        );
    }
}
