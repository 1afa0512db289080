//! The gateway's scope policy: `TOOL_SCOPES` / `REQUIRED_SCOPES` read by the library's
//! [`ScopePolicy`], plus one route rule per named tool so `POST /tools/{tool}` needs that tool's
//! scopes exactly as a JSON-RPC `tools/call` of it does. One policy feeds the guard, the
//! metadata's `scopes_supported`, the DCR client grant and `gateway print-action`.

use std::collections::BTreeMap;

use axum::http::Method;
use tower_mcp_auth::ScopePolicy;

use crate::config::ClientAuth;
use crate::dev_mode;

/// The policy and the tools it names.
#[derive(Debug, Clone, Default)]
pub struct GatewayPolicy {
    pub policy: ScopePolicy,
    /// Every tool `TOOL_SCOPES` names, with all the scopes a call of it needs.
    pub tools: BTreeMap<String, Vec<String>>,
}

/// Builds the policy; in dev mode with neither variable set, the demo tools' policy.
#[cfg(test)]
pub fn from_values(
    tool_scopes: Option<&str>,
    required_scopes: Option<&str>,
    dev: bool,
) -> Result<GatewayPolicy, String> {
    from_values_with(
        tool_scopes,
        required_scopes,
        None,
        &ClientAuth::default(),
        dev,
    )
}

/// [`from_values`] with the scope implications (`SCOPE_IMPLIES`) and the public operations of
/// `client_auth`: a public tool is public as a JSON-RPC `tools/call` and as `POST /tools/{tool}`.
pub fn from_values_with(
    tool_scopes: Option<&str>,
    required_scopes: Option<&str>,
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
    let mut builder = ScopePolicy::builder_from_env_values(tool_scopes, required_scopes)
        .map_err(|error| error.to_string())?;
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
    Ok(GatewayPolicy { policy, tools })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_tool_map_names_every_tool_with_its_full_scopes() {
        let gateway = from_values(
            Some("search=search.read; docs.create=docs.write,docs.read"),
            Some("mcp:access"),
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
        let gateway =
            from_values(Some("inner.dreams:read, inner.events:read"), None, false).unwrap();
        assert!(gateway.tools.is_empty());
        assert_eq!(
            gateway.policy.default_scopes(),
            ["inner.dreams:read", "inner.events:read"]
        );
    }

    #[test]
    fn dev_mode_without_scope_variables_uses_the_demo_policy() {
        let gateway = from_values(None, None, true).unwrap();
        assert_eq!(gateway.policy.all_scopes(), ["demo:admin", "demo:read"]);
        assert_eq!(gateway.tools.len(), 2);
    }

    #[test]
    fn a_malformed_entry_is_reported_by_name() {
        assert_eq!(
            from_values(Some("search=search.read;docs"), None, false).unwrap_err(),
            "TOOL_SCOPES: entry `docs` has no `=`; the per-tool form is `tool=scope1,scope2;tool2=scope3`"
        );
    }
}
