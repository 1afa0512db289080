//! [`ScopePolicy`]: which scopes each route, MCP tool, resource, prompt and JSON-RPC method needs.

use std::collections::HashMap;

use http::Method;

use crate::challenge::{AuthError, ErrorCode};
use crate::scope::config::{ScopeConfigError, validate_scope};
use crate::token::AccessToken;

/// What the guard does with a `tools/call` for a tool the policy does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownTools {
    /// The call needs only the default scopes (the Node gateway's behaviour).
    #[default]
    DefaultScopes,
    /// The call is refused (403 `OPERATION_NOT_ALLOWED`), whatever the token's scopes.
    Deny,
}

/// A path pattern of a route rule: `/admin` (that path only) or `/admin/*` (`/admin` and
/// everything under it; `/*` is every path). Compared with the raw request path, as routers do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PathPattern {
    Exact(String),
    Prefix(String),
}

impl PathPattern {
    fn parse(pattern: &str) -> Result<Self, ScopeConfigError> {
        if !pattern.starts_with('/') {
            return Err(ScopeConfigError::InvalidPathPattern {
                pattern: pattern.to_owned(),
            });
        }
        Ok(match pattern.strip_suffix("/*") {
            Some(prefix) => Self::Prefix(prefix.to_owned()),
            None => Self::Exact(pattern.to_owned()),
        })
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(exact) => path == exact,
            Self::Prefix(prefix) => path
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        }
    }
}

#[derive(Debug, Clone)]
struct RouteRule {
    method: Option<Method>,
    path: PathPattern,
    scopes: Vec<String>,
}

#[derive(Debug, Clone)]
struct ResourceRule {
    uri: String,
    prefix: bool,
    scopes: Vec<String>,
}

impl ResourceRule {
    fn matches(&self, uri: &str) -> bool {
        if self.prefix {
            uri.starts_with(self.uri.as_str())
        } else {
            uri == self.uri
        }
    }
}

/// The one source of truth for scopes: what the [`ScopeGuardLayer`](crate::ScopeGuardLayer)
/// enforces, what the protected resource metadata advertises (`scopes_supported`), what the 401
/// challenge hints and what a dynamically registered client is granted.
///
/// An operation needs the **default scopes** (every request) plus, cumulatively:
/// - for a request, the scopes of every route rule matching its method and path;
/// - for a JSON-RPC call in the body, the scopes of its method (e.g. `tools/list`) and of the
///   tool (`tools/call` by `params.name`), resource (`resources/read` by `params.uri`, exact or
///   prefix) or prompt (`prompts/get` by `params.name`) it names.
///
/// ```
/// use http::Method;
/// use tower_mcp_auth::ScopePolicy;
///
/// let policy = ScopePolicy::builder()
///     .default_scopes(["mcp:access"])
///     .tool("search", ["search.read"])
///     .tool("docs.create", ["docs.write", "docs.read"])
///     .resource_prefix("file:///private/", ["files.private"])
///     .method("tools/list", ["tools.list"])
///     .route(Method::POST, "/admin/*", ["admin"])
///     .deny_unknown_tools()
///     .build()?;
/// assert_eq!(
///     policy.all_scopes(),
///     ["admin", "docs.read", "docs.write", "files.private", "mcp:access", "search.read", "tools.list"]
/// );
/// assert_eq!(
///     policy.required_scopes_for_tool("search").unwrap(),
///     ["mcp:access", "search.read"]
/// );
/// assert!(policy.required_scopes_for_tool("rm_rf").is_none()); // unknown tools are denied
/// # Ok::<(), tower_mcp_auth::scope::ScopeConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ScopePolicy {
    defaults: Vec<String>,
    routes: Vec<RouteRule>,
    methods: HashMap<String, Vec<String>>,
    tools: HashMap<String, Vec<String>>,
    prompts: HashMap<String, Vec<String>>,
    resources: Vec<ResourceRule>,
    unknown_tools: UnknownTools,
    all: Vec<String>,
}

/// An operation's scope requirement: the union of a few lists of the policy, checked without
/// allocating (the lists are only merged to write a refusal).
#[derive(Debug)]
pub(crate) struct Requirement<'p> {
    parts: Vec<&'p [String]>,
    denied: bool,
}

impl<'p> Requirement<'p> {
    /// `Ok` when the token has every required scope; otherwise the refusal for `operation`.
    pub(crate) fn check(
        &self,
        token: &AccessToken,
        operation: impl FnOnce() -> String,
    ) -> Result<(), AuthError> {
        if self.denied {
            return Err(AuthError::new(
                ErrorCode::OperationNotAllowed,
                format!(
                    "{} is not allowed on this server: the scope policy does not name it",
                    operation()
                ),
            ));
        }
        let satisfied = self
            .parts
            .iter()
            .all(|part| part.iter().all(|scope| token.has_scope(scope)));
        if satisfied {
            return Ok(());
        }
        let required = self.scopes();
        let missing = required
            .iter()
            .filter(|scope| !token.has_scope(scope))
            .cloned()
            .collect();
        Err(AuthError::insufficient_scope(
            operation(),
            required,
            missing,
        ))
    }

    /// Every required scope, sorted, without duplicates.
    pub(crate) fn scopes(&self) -> Vec<String> {
        sorted_union(self.parts.iter().flat_map(|part| part.iter()))
    }
}

impl ScopePolicy {
    /// Starts a policy in code.
    pub fn builder() -> ScopePolicyBuilder {
        ScopePolicyBuilder::default()
    }

    /// A policy with no requirement at all: the guard then only checks that a token is present.
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// The sorted, de-duplicated union of every scope the policy names: the protected resource
    /// metadata's `scopes_supported` and the scopes granted to a dynamically registered client.
    pub fn all_scopes(&self) -> &[String] {
        &self.all
    }

    /// The scopes every request needs.
    pub fn default_scopes(&self) -> &[String] {
        &self.defaults
    }

    /// The scopes a 401 challenge suggests (`scope` attribute, MCP 2025-11-25): the default
    /// scopes when there are some (least privilege: more are asked for by step-up on a 403),
    /// else every scope of the policy. `offline_access` is never suggested (MCP SEP-2207).
    pub fn scope_hint(&self) -> Vec<String> {
        let source = if self.defaults.is_empty() {
            &self.all
        } else {
            &self.defaults
        };
        source
            .iter()
            .filter(|scope| scope.as_str() != "offline_access")
            .cloned()
            .collect()
    }

    /// What the policy does with tools it does not name.
    pub fn unknown_tools(&self) -> UnknownTools {
        self.unknown_tools
    }

    /// Every scope a `tools/call` of `tool` needs (sorted), or `None` when the policy refuses
    /// the tool whatever the token (an unknown tool under [`UnknownTools::Deny`]).
    pub fn required_scopes_for_tool(&self, tool: &str) -> Option<Vec<String>> {
        let requirement = self.tool_requirement(tool);
        (!requirement.denied).then(|| requirement.scopes())
    }

    /// Checks a `tools/call` of `tool` by `token`, as the guard does.
    pub fn check_tool(&self, token: &AccessToken, tool: &str) -> Result<(), AuthError> {
        self.tool_requirement(tool)
            .check(token, || format!("tools/call {tool}"))
    }

    /// The tools the policy names that `token` may call, sorted. Whether it may call tools the
    /// policy does not name is [`unknown_tools_allowed`](Self::unknown_tools_allowed).
    pub fn tools_allowed(&self, token: &AccessToken) -> Vec<String> {
        let mut allowed: Vec<String> = self
            .tools
            .keys()
            .filter(|tool| self.check_tool(token, tool).is_ok())
            .cloned()
            .collect();
        allowed.sort_unstable();
        allowed
    }

    /// True when `token` may call a tool the policy does not name.
    pub fn unknown_tools_allowed(&self, token: &AccessToken) -> bool {
        self.unknown_tools == UnknownTools::DefaultScopes
            && self
                .method_requirement("tools/call")
                .check(token, String::new)
                .is_ok()
    }

    /// The default scopes plus those of every route rule matching `method` and `path`.
    pub(crate) fn route_requirement(&self, method: &Method, path: &str) -> Requirement<'_> {
        let mut parts = vec![self.defaults.as_slice()];
        parts.extend(
            self.routes
                .iter()
                .filter(|rule| {
                    rule.method.as_ref().is_none_or(|m| m == method) && rule.path.matches(path)
                })
                .map(|rule| rule.scopes.as_slice()),
        );
        Requirement {
            parts,
            denied: false,
        }
    }

    /// The default scopes plus those of the JSON-RPC `method`.
    pub(crate) fn method_requirement(&self, method: &str) -> Requirement<'_> {
        let mut parts = vec![self.defaults.as_slice()];
        if let Some(scopes) = self.methods.get(method) {
            parts.push(scopes);
        }
        Requirement {
            parts,
            denied: false,
        }
    }

    pub(crate) fn tool_requirement(&self, tool: &str) -> Requirement<'_> {
        let mut requirement = self.method_requirement("tools/call");
        match self.tools.get(tool) {
            Some(scopes) => requirement.parts.push(scopes),
            None => requirement.denied = self.unknown_tools == UnknownTools::Deny,
        }
        requirement
    }

    pub(crate) fn prompt_requirement(&self, prompt: &str) -> Requirement<'_> {
        let mut requirement = self.method_requirement("prompts/get");
        if let Some(scopes) = self.prompts.get(prompt) {
            requirement.parts.push(scopes);
        }
        requirement
    }

    pub(crate) fn resource_requirement(&self, uri: &str) -> Requirement<'_> {
        let mut requirement = self.method_requirement("resources/read");
        requirement.parts.extend(
            self.resources
                .iter()
                .filter(|rule| rule.matches(uri))
                .map(|rule| rule.scopes.as_slice()),
        );
        requirement
    }
}

/// Builds a [`ScopePolicy`]; [`build`](Self::build) validates every scope token.
#[derive(Debug, Default)]
pub struct ScopePolicyBuilder {
    policy: ScopePolicy,
    errors: Vec<ScopeConfigError>,
}

impl ScopePolicyBuilder {
    /// Adds scopes every request needs.
    pub fn default_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = self.collect("default scopes", scopes);
        self.policy.defaults.extend(scopes);
        self
    }

    /// Adds scopes a `tools/call` of `tool` needs (the tool becomes known to the policy).
    pub fn tool<I, S>(mut self, tool: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let tool = tool.into();
        let scopes = self.collect(&format!("tool `{tool}`"), scopes);
        self.policy.tools.entry(tool).or_default().extend(scopes);
        self
    }

    /// Adds scopes a `prompts/get` of `prompt` needs.
    pub fn prompt<I, S>(mut self, prompt: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let prompt = prompt.into();
        let scopes = self.collect(&format!("prompt `{prompt}`"), scopes);
        self.policy
            .prompts
            .entry(prompt)
            .or_default()
            .extend(scopes);
        self
    }

    /// Adds scopes a `resources/read` of exactly `uri` needs.
    pub fn resource<I, S>(self, uri: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resource_rule(uri.into(), false, scopes)
    }

    /// Adds scopes a `resources/read` of any URI starting with `prefix` needs.
    pub fn resource_prefix<I, S>(self, prefix: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resource_rule(prefix.into(), true, scopes)
    }

    fn resource_rule<I, S>(mut self, uri: String, prefix: bool, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = self.collect(&format!("resource `{uri}`"), scopes);
        self.policy.resources.push(ResourceRule {
            uri,
            prefix,
            scopes,
        });
        self
    }

    /// Adds scopes every JSON-RPC call of `method` needs (e.g. `tools/list`).
    pub fn method<I, S>(mut self, method: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let method = method.into();
        let scopes = self.collect(&format!("method `{method}`"), scopes);
        self.policy
            .methods
            .entry(method)
            .or_default()
            .extend(scopes);
        self
    }

    /// Adds scopes requests with this HTTP `method` and a path matching `pattern` need:
    /// `/admin` (that path) or `/admin/*` (it and everything under it). gRPC requests are
    /// routed by their path, `/package.Service/Method` (or `/package.Service/*`).
    pub fn route<I, S>(self, method: Method, pattern: &str, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.route_rule(Some(method), pattern, scopes)
    }

    /// Like [`route`](Self::route), for every HTTP method.
    pub fn route_any_method<I, S>(self, pattern: &str, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.route_rule(None, pattern, scopes)
    }

    fn route_rule<I, S>(mut self, method: Option<Method>, pattern: &str, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = self.collect(&format!("route `{pattern}`"), scopes);
        match PathPattern::parse(pattern) {
            Ok(path) => self.policy.routes.push(RouteRule {
                method,
                path,
                scopes,
            }),
            Err(error) => self.errors.push(error),
        }
        self
    }

    /// Sets what happens to tools the policy does not name.
    pub fn unknown_tools(mut self, unknown: UnknownTools) -> Self {
        self.policy.unknown_tools = unknown;
        self
    }

    /// Refuses `tools/call` of tools the policy does not name.
    pub fn deny_unknown_tools(self) -> Self {
        self.unknown_tools(UnknownTools::Deny)
    }

    /// The policy, or the first invalid scope token or path pattern.
    pub fn build(self) -> Result<ScopePolicy, ScopeConfigError> {
        if let Some(error) = self.errors.into_iter().next() {
            return Err(error);
        }
        let mut policy = self.policy;
        let normalize = |scopes: &mut Vec<String>| *scopes = sorted_union(scopes.iter());
        normalize(&mut policy.defaults);
        policy
            .routes
            .iter_mut()
            .for_each(|r| normalize(&mut r.scopes));
        policy
            .resources
            .iter_mut()
            .for_each(|r| normalize(&mut r.scopes));
        for map in [&mut policy.methods, &mut policy.tools, &mut policy.prompts] {
            map.values_mut().for_each(&normalize);
        }
        policy.all = sorted_union(
            policy
                .defaults
                .iter()
                .chain(policy.routes.iter().flat_map(|r| &r.scopes))
                .chain(policy.resources.iter().flat_map(|r| &r.scopes))
                .chain(policy.methods.values().flatten())
                .chain(policy.tools.values().flatten())
                .chain(policy.prompts.values().flatten()),
        );
        Ok(policy)
    }

    fn collect<I, S>(&mut self, context: &str, scopes: I) -> Vec<String>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        for scope in &scopes {
            if let Err(error) = validate_scope(context, scope) {
                self.errors.push(error);
            }
        }
        scopes
    }
}

fn sorted_union<'a>(scopes: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = scopes.cloned().collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(scope: &str) -> AccessToken {
        AccessToken::from_claims(json!({
            "iss": "i", "sub": "s", "aud": "a", "exp": 4_102_444_800u64, "scope": scope
        }))
        .unwrap()
    }

    #[test]
    fn path_patterns_match_exact_and_subtree() {
        let exact = PathPattern::parse("/admin").unwrap();
        assert!(exact.matches("/admin") && !exact.matches("/admin/x"));
        let tree = PathPattern::parse("/admin/*").unwrap();
        assert!(tree.matches("/admin") && tree.matches("/admin/x/y"));
        assert!(!tree.matches("/administrator"));
        assert!(PathPattern::parse("/*").unwrap().matches("/anything"));
        assert!(PathPattern::parse("admin").is_err());
    }

    #[test]
    fn tool_requirement_adds_defaults_and_method_scopes() {
        let policy = ScopePolicy::builder()
            .default_scopes(["mcp"])
            .method("tools/call", ["tools.call"])
            .tool("search", ["search.read"])
            .build()
            .unwrap();
        assert_eq!(
            policy.required_scopes_for_tool("search").unwrap(),
            ["mcp", "search.read", "tools.call"]
        );
        let err = policy
            .check_tool(&token("mcp tools.call"), "search")
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InsufficientScope);
        assert_eq!(err.operation(), Some("tools/call search"));
        assert_eq!(err.missing_scopes(), ["search.read"]);
    }

    #[test]
    fn tools_allowed_lists_named_tools_the_token_satisfies() {
        let policy = ScopePolicy::builder()
            .tool("search", ["search.read"])
            .tool("delete", ["admin"])
            .tool("echo", Vec::<String>::new())
            .build()
            .unwrap();
        let token = token("search.read");
        assert_eq!(policy.tools_allowed(&token), ["echo", "search"]);
        assert!(policy.unknown_tools_allowed(&token));
    }

    #[test]
    fn scope_hint_prefers_defaults_and_never_offline_access() {
        let policy = ScopePolicy::builder()
            .tool("a", ["a.read", "offline_access"])
            .build()
            .unwrap();
        assert_eq!(policy.scope_hint(), ["a.read"]);
        let policy = ScopePolicy::builder()
            .default_scopes(["mcp"])
            .tool("a", ["a.read"])
            .build()
            .unwrap();
        assert_eq!(policy.scope_hint(), ["mcp"]);
    }

    #[test]
    fn invalid_scope_token_fails_the_build_naming_it() {
        let err = ScopePolicy::builder()
            .tool("search", ["search read"])
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "tool `search`: `search read` is not a valid OAuth scope token (RFC 6749 §3.3 allows printable ASCII except space, `\"` and `\\`)"
        );
    }
}
