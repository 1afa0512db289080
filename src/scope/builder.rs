//! [`ScopePolicyBuilder`]: a [`ScopePolicy`] built in code.

use http::Method;

use crate::scope::ScopePolicy;
use crate::scope::config::{ScopeConfigError, validate_scope};
use crate::scope::implication::{self, SCOPE_IMPLIES};
use crate::scope::policy::{PathPattern, ResourceRule, RouteRule, UnknownTools, sorted_union};

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

    /// Adds scopes a `resources/read` (or any other method naming a resource: `resources/subscribe`,
    /// `subscriptions/listen`, `completion/complete`, …) of exactly `uri` needs. URIs are
    /// compared after RFC 3986 normalisation (scheme and host case, escapes of unreserved
    /// characters, `.` and `..` segments).
    pub fn resource<I, S>(self, uri: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resource_rule(uri.into(), false, scopes)
    }

    /// Adds scopes any method reading a resource whose URI starts with `prefix` needs
    /// (compared after normalisation, as [`resource`](Self::resource)).
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
        // Compared with request URIs normalised the same way (`resource_uri`).
        let uri = crate::scope::resource_uri::normalize(&uri).into_owned();
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

    /// Marks the routes matching `pattern` (`/mcp`, or `/mcp/*`) as JSON-RPC endpoints. There
    /// the guard reads every `POST` body and refuses what it cannot judge: a content type other
    /// than JSON in UTF-8 (415), an encoded body (415), anything but one JSON value (400). On
    /// routes not marked, non-JSON bodies (uploads, forms) pass untouched, and only bodies
    /// declared JSON (or with no content type) are read.
    ///
    /// ```
    /// use tower_mcp_auth::ScopePolicy;
    ///
    /// let policy = ScopePolicy::builder().json_rpc_route("/mcp").build()?;
    /// assert!(policy.is_json_rpc_route("/mcp"));
    /// assert!(!policy.is_json_rpc_route("/upload"));
    /// # Ok::<(), tower_mcp_auth::scope::ScopeConfigError>(())
    /// ```
    pub fn json_rpc_route(mut self, pattern: &str) -> Self {
        match PathPattern::parse(pattern) {
            Ok(path) => self.policy.json_rpc_routes.push(path),
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

    /// Makes the MCP discovery methods public: `initialize`, `ping`, `notifications/*`,
    /// `tools/list`, `resources/list`, `resources/templates/list`, `prompts/list` and
    /// `server/discover` ([`DISCOVERY_METHODS`](crate::scope::DISCOVERY_METHODS)) need no token
    /// and no scope. ChatGPT's "mixed" auth and Claude's lazy auth start with these calls.
    ///
    /// ```
    /// use tower_mcp_auth::ScopePolicy;
    ///
    /// let policy = ScopePolicy::builder()
    ///     .default_scopes(["mcp"])
    ///     .tool("search", ["docs:read"])
    ///     .public_discovery()
    ///     .public_tool("echo")
    ///     .build()?;
    /// assert!(policy.public_discovery() && policy.is_public_tool("echo"));
    /// assert!(!policy.is_public_tool("search"));
    /// # Ok::<(), tower_mcp_auth::scope::ScopeConfigError>(())
    /// ```
    pub fn public_discovery(mut self) -> Self {
        self.policy.public.discovery = true;
        self
    }

    /// Makes `tools/call` of `tool` public: callable with no token and no scope. Scopes named
    /// for it with [`tool`](Self::tool) are then optional (its `securitySchemes` lists both
    /// `noauth` and `oauth2`). A client needs `initialize` first: see
    /// [`public_discovery`](Self::public_discovery).
    pub fn public_tool(mut self, tool: impl Into<String>) -> Self {
        self.policy.public.tools.insert(tool.into());
        self
    }

    /// Makes `prompts/get` of `prompt` public.
    pub fn public_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.policy.public.prompts.insert(prompt.into());
        self
    }

    /// Makes `resources/read` of exactly `uri` public.
    pub fn public_resource(mut self, uri: impl Into<String>) -> Self {
        self.policy.public.resources.push((uri.into(), false));
        self
    }

    /// Makes `resources/read` of every URI starting with `prefix` public.
    pub fn public_resource_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.policy.public.resources.push((prefix.into(), true));
        self
    }

    /// Makes requests with this HTTP `method` (`None`: any) and a path matching `pattern`
    /// (`/status`, `/public/*`) public as a whole: the guard lets them through untouched, with or
    /// without a token, whatever their body. For routes that are not MCP endpoints.
    pub fn public_route(mut self, method: Option<Method>, pattern: &str) -> Self {
        match PathPattern::parse(pattern) {
            Ok(path) => self.policy.public.routes.push((method, path)),
            Err(error) => self.errors.push(error),
        }
        self
    }

    /// Declares that a token with `broad` satisfies a requirement of each of `narrower` (MCP
    /// 2026-07-28 scope hierarchies). Rules chain. The scopes the policy names (metadata, 403
    /// `scope`) stay exact.
    ///
    /// ```
    /// use tower_mcp_auth::ScopePolicy;
    ///
    /// let policy = ScopePolicy::builder()
    ///     .tool("read_doc", ["docs:read"])
    ///     .scope_implies("docs:write", ["docs:read"])
    ///     .scope_implies_prefix("admin", "admin:")
    ///     .build()?;
    /// assert!(policy.scope_implies("docs:write", "docs:read"));
    /// assert!(policy.scope_implies("admin", "admin:users"));
    /// assert!(!policy.scope_implies("docs:read", "docs:write"));
    /// assert_eq!(policy.all_scopes(), ["docs:read"]); // implications name no new scope
    /// # Ok::<(), tower_mcp_auth::scope::ScopeConfigError>(())
    /// ```
    pub fn scope_implies<I, S>(mut self, broad: impl Into<String>, narrower: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let broad = broad.into();
        let context = format!("scope implication of `{broad}`");
        if let Err(error) = validate_scope(&context, &broad) {
            self.errors.push(error);
        }
        let narrower = self.collect(&context, narrower);
        self.policy.implications.add(broad, narrower);
        self
    }

    /// Declares that a token with `broad` satisfies a requirement of every scope starting with
    /// `prefix` (`scope_implies_prefix("admin", "admin:")`: `admin` implies every `admin:*`).
    pub fn scope_implies_prefix(
        mut self,
        broad: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        let (broad, prefix) = (broad.into(), prefix.into());
        let context = format!("scope implication of `{broad}`");
        for scope in [&broad, &prefix] {
            if let Err(error) = validate_scope(&context, scope) {
                self.errors.push(error);
            }
        }
        self.policy.implications.add_prefix(broad, prefix);
        self
    }

    /// Adds the scope implications written in `TOOL_SCOPES` syntax (the value of
    /// [`SCOPE_IMPLIES`](crate::scope::SCOPE_IMPLIES)): `docs:write=docs:read;admin=admin:*`,
    /// `broad=narrower1,narrower2` per entry, a trailing `*` making a prefix rule.
    ///
    /// ```
    /// use tower_mcp_auth::ScopePolicy;
    ///
    /// let policy = ScopePolicy::builder()
    ///     .scope_implications("docs:write=docs:read; admin=admin:*")?
    ///     .build()?;
    /// assert!(policy.scope_implies("admin", "admin:billing"));
    /// # Ok::<(), tower_mcp_auth::scope::ScopeConfigError>(())
    /// ```
    pub fn scope_implications(mut self, value: &str) -> Result<Self, ScopeConfigError> {
        for (broad, narrower, prefixes) in implication::parse(SCOPE_IMPLIES, value)? {
            for prefix in prefixes {
                self.policy.implications.add_prefix(broad.clone(), prefix);
            }
            self.policy.implications.add(broad, narrower);
        }
        Ok(self)
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
