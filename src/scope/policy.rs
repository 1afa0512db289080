//! [`ScopePolicy`]: which scopes each route, MCP tool, resource, prompt and JSON-RPC method needs.

use std::collections::HashMap;

use http::Method;

use crate::challenge::{AuthError, ErrorCode};
use crate::scope::ScopePolicyBuilder;
use crate::scope::config::ScopeConfigError;
use crate::scope::implication::ScopeImplications;
use crate::scope::public::PublicOperations;
use crate::token::AccessToken;

/// The policy's tables by name (tools, prompts, methods): looked up on every call with a name
/// the request chose, never grown by one, so a fast seeded hash (foldhash, hashbrown's default)
/// serves where SipHash's flooding resistance buys nothing.
type ByName<V> = HashMap<String, V, foldhash::fast::RandomState>;

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
pub(super) enum PathPattern {
    Exact(String),
    Prefix(String),
}

impl PathPattern {
    pub(super) fn parse(pattern: &str) -> Result<Self, ScopeConfigError> {
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

    #[inline]
    pub(super) fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(exact) => path == exact,
            Self::Prefix(prefix) => path
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct RouteRule {
    pub(super) method: Option<Method>,
    pub(super) path: PathPattern,
    pub(super) scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) struct ResourceRule {
    pub(super) uri: String,
    pub(super) prefix: bool,
    pub(super) scopes: Vec<String>,
}

impl ResourceRule {
    /// `uri` is normalised, as the rule's own URI is (see `resource_uri`).
    pub(super) fn matches(&self, uri: &str) -> bool {
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
    pub(super) defaults: Vec<String>,
    pub(super) routes: Vec<RouteRule>,
    pub(super) methods: ByName<Vec<String>>,
    pub(super) tools: ByName<Vec<String>>,
    pub(super) prompts: ByName<Vec<String>>,
    pub(super) resources: Vec<ResourceRule>,
    pub(super) unknown_tools: UnknownTools,
    pub(super) all: Vec<String>,
    pub(super) json_rpc_routes: Vec<PathPattern>,
    pub(super) implications: ScopeImplications,
    pub(super) public: PublicOperations,
}

/// An operation's scope requirement: the union of a few lists of the policy, checked without
/// allocating (the lists are only merged to write a refusal).
#[derive(Debug)]
pub(crate) struct Requirement<'p> {
    parts: Parts<'p>,
    denied: bool,
    implications: &'p ScopeImplications,
}

/// How many lists a requirement holds without allocating: every operation of a policy names at
/// most the defaults, its method's and its tool's, prompt's or a few route rules' lists.
const INLINE_PARTS: usize = 4;

/// The non-empty lists a [`Requirement`] unites: the first [`INLINE_PARTS`] inline (a request
/// is checked on every call; this keeps the check free of allocation), any more on the heap.
#[derive(Debug)]
struct Parts<'p> {
    inline: [&'p [String]; INLINE_PARTS],
    len: usize,
    more: Vec<&'p [String]>,
}

impl<'p> Parts<'p> {
    fn new() -> Self {
        Self {
            inline: [&[]; INLINE_PARTS],
            len: 0,
            more: Vec::new(),
        }
    }

    fn push(&mut self, part: &'p [String]) {
        // An empty list adds nothing to the union.
        if part.is_empty() {
            return;
        }
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = part;
                self.len += 1;
            }
            None => self.more.push(part),
        }
    }

    #[inline]
    fn iter(&self) -> impl Iterator<Item = &'p [String]> + '_ {
        self.inline[..self.len].iter().chain(&self.more).copied()
    }
}

impl<'p> Extend<&'p [String]> for Parts<'p> {
    fn extend<I: IntoIterator<Item = &'p [String]>>(&mut self, parts: I) {
        for part in parts {
            self.push(part);
        }
    }
}

impl<'p> Requirement<'p> {
    /// Like [`check`](Self::check) for a caller that may have no token: without one, nothing
    /// but a denial or a [`AuthError::token_required`] naming `challenge_scopes` (the scopes
    /// the 401 asks for; `None`: this operation's).
    pub(crate) fn check_principal(
        &self,
        token: Option<&AccessToken>,
        challenge_scopes: Option<&[String]>,
        operation: impl FnOnce() -> String,
    ) -> Result<(), AuthError> {
        match token {
            Some(token) => self.check(token, operation),
            None if self.denied => self.check_denied(operation),
            None => Err(AuthError::token_required(
                operation(),
                challenge_scopes.map_or_else(|| self.scopes(), <[String]>::to_vec),
            )),
        }
    }

    /// True when the requirement names no scope and denies nothing.
    pub(crate) fn is_empty(&self) -> bool {
        !self.denied && self.parts.iter().next().is_none()
    }

    fn check_denied(&self, operation: impl FnOnce() -> String) -> Result<(), AuthError> {
        Err(AuthError::new(
            ErrorCode::OperationNotAllowed,
            format!(
                "{} is not allowed on this server: the scope policy does not name it",
                operation()
            ),
        ))
    }

    /// `Ok` when the token has every required scope; otherwise the refusal for `operation`.
    pub(crate) fn check(
        &self,
        token: &AccessToken,
        operation: impl FnOnce() -> String,
    ) -> Result<(), AuthError> {
        if self.denied {
            return self.check_denied(operation);
        }
        let has = |scope: &str| self.implications.satisfies(token, scope);
        let satisfied = self
            .parts
            .iter()
            .all(|part| part.iter().all(|scope| has(scope)));
        if satisfied {
            return Ok(());
        }
        let required = self.scopes();
        let missing = required
            .iter()
            .filter(|scope| !has(scope))
            .cloned()
            .collect();
        Err(AuthError::insufficient_scope(
            operation(),
            required,
            missing,
        ))
    }

    /// The same requirement with the scopes of more rules that apply to the operation.
    pub(crate) fn and(mut self, extra: impl IntoIterator<Item = &'p [String]>) -> Self {
        self.parts.extend(extra);
        self
    }

    /// True when the policy refuses the operation whatever the token.
    pub(crate) fn denied(&self) -> bool {
        self.denied
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

    /// True when the policy marks `path` as a JSON-RPC route (an MCP endpoint, see
    /// [`ScopePolicyBuilder::json_rpc_route`]): every `POST` body there is read and must be one
    /// JSON-RPC message or batch, whatever its content type claims.
    pub fn is_json_rpc_route(&self, path: &str) -> bool {
        self.json_rpc_routes.iter().any(|route| route.matches(path))
    }

    /// Every scope of the policy except `offline_access`: the `scope` of 401s for clients whose
    /// step-up on a 403 is unreliable (they get every scope they may need on the first login).
    pub fn all_scopes_hint(&self) -> Vec<String> {
        self.all
            .iter()
            .filter(|scope| scope.as_str() != "offline_access")
            .cloned()
            .collect()
    }

    /// True when some operation is public (callable without a token).
    pub fn has_public_operations(&self) -> bool {
        !self.public.is_empty()
    }

    /// True when the discovery methods are public ([`DISCOVERY_METHODS`](crate::scope::DISCOVERY_METHODS)).
    pub fn public_discovery(&self) -> bool {
        self.public.discovery
    }

    /// True when `tool` is public: callable with no token and no scope.
    pub fn is_public_tool(&self, tool: &str) -> bool {
        self.public.is_public_tool(tool)
    }

    pub(crate) fn public_operations(&self) -> &PublicOperations {
        &self.public
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

    /// Every tool the policy names, sorted by name, each with every scope a `tools/call` of it
    /// needs (its own and the default scopes, sorted): what a gateway mounts per-tool routes
    /// from, or a server lists.
    ///
    /// ```
    /// use tower_mcp_auth::ScopePolicy;
    ///
    /// let policy = ScopePolicy::builder_from_env_values(Some("search=search.read;docs=docs.write"), Some("mcp"))?
    ///     .build()?;
    /// assert_eq!(
    ///     policy.tools(),
    ///     [
    ///         ("docs".to_owned(), vec!["docs.write".to_owned(), "mcp".to_owned()]),
    ///         ("search".to_owned(), vec!["mcp".to_owned(), "search.read".to_owned()]),
    ///     ]
    /// );
    /// # Ok::<(), tower_mcp_auth::scope::ScopeConfigError>(())
    /// ```
    pub fn tools(&self) -> Vec<(String, Vec<String>)> {
        let mut tools: Vec<(String, Vec<String>)> = self
            .tools
            .keys()
            .filter_map(|tool| Some((tool.clone(), self.required_scopes_for_tool(tool)?)))
            .collect();
        tools.sort();
        tools
    }

    /// Checks a `tools/call` of `tool` by `token`, as the guard does (a public tool passes).
    pub fn check_tool(&self, token: &AccessToken, tool: &str) -> Result<(), AuthError> {
        if self.public.is_public_tool(tool) {
            return Ok(());
        }
        self.tool_requirement(tool)
            .check(token, || format!("tools/call {tool}"))
    }

    /// True when `token` holds `scope` or, under the policy's scope implications, a scope that
    /// implies it.
    pub fn token_satisfies(&self, token: &AccessToken, scope: &str) -> bool {
        self.implications.satisfies(token, scope)
    }

    /// True when `broad` implies `narrower` under the policy's scope implications (a scope
    /// implies itself).
    pub fn scope_implies(&self, broad: &str, narrower: &str) -> bool {
        self.implications.implies(broad, narrower)
    }

    /// The tools the policy names that `token` may call, sorted. Whether it may call tools the
    /// policy does not name is [`unknown_tools_allowed`](Self::unknown_tools_allowed).
    pub fn tools_allowed(&self, token: &AccessToken) -> Vec<String> {
        let mut allowed: Vec<String> = self
            .tools
            .keys()
            .chain(self.public.tools.iter())
            .filter(|tool| self.check_tool(token, tool).is_ok())
            .cloned()
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
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

    /// The scopes of every route rule matching `method` and `path`, with the default scopes
    /// when `with_defaults` (a JSON-RPC request of a policy with public operations checks the
    /// default scopes per call instead, since public calls need none).
    #[inline]
    pub(crate) fn route_rules_requirement(
        &self,
        method: &Method,
        path: &str,
        with_defaults: bool,
    ) -> Requirement<'_> {
        let mut parts = Parts::new();
        if with_defaults {
            parts.push(self.defaults.as_slice());
        }
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
            implications: &self.implications,
        }
    }

    /// The default scopes plus those of the JSON-RPC `method`.
    pub(crate) fn method_requirement(&self, method: &str) -> Requirement<'_> {
        let mut parts = Parts::new();
        parts.push(&self.defaults);
        if let Some(scopes) = self.methods.get(method) {
            parts.push(scopes);
        }
        Requirement {
            parts,
            denied: false,
            implications: &self.implications,
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

    /// The scopes of the prompt rule for `prompt`, if any (not the method's).
    pub(crate) fn prompt_scopes(&self, prompt: &str) -> Option<&[String]> {
        self.prompts.get(prompt).map(Vec::as_slice)
    }

    /// The scopes of every resource rule matching `uri` in any of its readings (see
    /// `resource_uri`): its normalised form, and its fully decoded form when it has one.
    pub(crate) fn resource_scopes(&self, uri: &str) -> Vec<&[String]> {
        if self.resources.is_empty() {
            return Vec::new();
        }
        let (normal, decoded) = crate::scope::resource_uri::readings(uri);
        self.resources
            .iter()
            .filter(|rule| {
                rule.matches(&normal) || decoded.as_deref().is_some_and(|d| rule.matches(d))
            })
            .map(|rule| rule.scopes.as_slice())
            .collect()
    }
}

pub(super) fn sorted_union<'a>(scopes: impl Iterator<Item = &'a String>) -> Vec<String> {
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
