//! Per-tool `securitySchemes` from the policy (SEP-1488; OpenAI "Authentication" guide,
//! "Triggering authentication UI"): what a server puts on each tool descriptor, top-level and
//! mirrored in `_meta["securitySchemes"]` ("Back-compat mirror for clients that only read
//! _meta", OpenAI Apps SDK reference), so ChatGPT knows which tools need a login before calling.

use serde_json::{Map, Value, json};

use crate::scope::ScopePolicy;

impl ScopePolicy {
    /// The `securitySchemes` value of `tool`:
    /// - a public tool the policy names no scope for: `[{"type": "noauth"}]`;
    /// - a public tool with scopes (optional auth: it works without a token, a token with those
    ///   scopes unlocks more): `[{"type": "noauth"}, {"type": "oauth2", "scopes": […]}]`;
    /// - any other tool: `[{"type": "oauth2", "scopes": […]}]`, the scopes a call needs;
    /// - `None` for a tool the policy refuses whatever the token (unknown under
    ///   [`UnknownTools::Deny`](crate::scope::UnknownTools::Deny)).
    ///
    /// ```
    /// use serde_json::json;
    /// use tower_mcp_auth::ScopePolicy;
    ///
    /// let policy = ScopePolicy::builder()
    ///     .tool("search", ["docs:read"])
    ///     .public_tool("echo")
    ///     .deny_unknown_tools()
    ///     .build()?;
    /// assert_eq!(
    ///     policy.security_schemes("search"),
    ///     Some(json!([{"type": "oauth2", "scopes": ["docs:read"]}]))
    /// );
    /// assert_eq!(policy.security_schemes("echo"), Some(json!([{"type": "noauth"}])));
    /// assert_eq!(policy.security_schemes("rm_rf"), None);
    /// # Ok::<(), tower_mcp_auth::scope::ScopeConfigError>(())
    /// ```
    pub fn security_schemes(&self, tool: &str) -> Option<Value> {
        let public = self.is_public_tool(tool);
        let requirement = self.tool_requirement(tool);
        if requirement.denied() && !public {
            return None;
        }
        let scopes = requirement.scopes();
        let oauth2 = json!({"type": "oauth2", "scopes": scopes});
        Some(match (public, scopes.is_empty()) {
            (true, true) => json!([{"type": "noauth"}]),
            (true, false) => json!([{"type": "noauth"}, oauth2]),
            (false, _) => json!([oauth2]),
        })
    }

    /// Sets `securitySchemes` and `_meta["securitySchemes"]` on a tool descriptor (a
    /// `tools/list` entry, as a JSON object) from its `name`; other `_meta` keys are kept. A
    /// descriptor without a string `name`, or of a tool the policy refuses, is left alone.
    pub fn annotate_tool(&self, tool: &mut Map<String, Value>) {
        let Some(schemes) = tool
            .get("name")
            .and_then(Value::as_str)
            .and_then(|name| self.security_schemes(name))
        else {
            return;
        };
        let meta = tool
            .entry("_meta")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(meta) = meta {
            meta.insert("securitySchemes".to_owned(), schemes.clone());
        }
        tool.insert("securitySchemes".to_owned(), schemes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_auth_lists_both_schemes_and_protected_tools_their_full_scopes() {
        let policy = ScopePolicy::builder()
            .default_scopes(["mcp"])
            .tool("profile", ["profile:read"])
            .public_tool("profile")
            .tool("search", ["docs:read"])
            .build()
            .unwrap();
        assert_eq!(
            policy.security_schemes("profile"),
            Some(json!([
                {"type": "noauth"},
                {"type": "oauth2", "scopes": ["mcp", "profile:read"]}
            ]))
        );
        assert_eq!(
            policy.security_schemes("search"),
            Some(json!([{"type": "oauth2", "scopes": ["docs:read", "mcp"]}]))
        );
        // Unknown tools need the default scopes (UnknownTools::DefaultScopes).
        assert_eq!(
            policy.security_schemes("other"),
            Some(json!([{"type": "oauth2", "scopes": ["mcp"]}]))
        );
    }

    #[test]
    fn annotate_sets_the_field_and_its_meta_mirror_keeping_other_meta() {
        let policy = ScopePolicy::builder()
            .tool("search", ["docs:read"])
            .build()
            .unwrap();
        let mut tool = json!({"name": "search", "_meta": {"x": 1}});
        policy.annotate_tool(tool.as_object_mut().unwrap());
        let schemes = json!([{"type": "oauth2", "scopes": ["docs:read"]}]);
        assert_eq!(
            tool,
            json!({"name": "search", "securitySchemes": schemes, "_meta": {"x": 1, "securitySchemes": schemes}})
        );
    }
}
