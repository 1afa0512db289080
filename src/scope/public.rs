//! Public operations: JSON-RPC calls (and routes) a caller without a token may make ("mixed" auth, as ChatGPT
//! documents it, and Claude's lazy authentication).
//!
//! A public operation needs no token and no scope (neither the default scopes nor its method's):
//! anyone may make it, with or without a token. Everything else stays protected: besides routes
//! made public as a whole, only JSON-RPC calls can be public, and every other request (an SSE
//! `GET`, a session `DELETE`) still needs a token.

use std::collections::HashSet;

use http::Method;

use crate::challenge::AuthError;
use crate::scope::ScopePolicy;
use crate::scope::jsonrpc::Call;
use crate::scope::methods::requirement_of;
use crate::scope::policy::PathPattern;

/// Public tool and prompt names: looked up by the name a request chose, never grown by one
/// (see `policy::ByName`).
type NameSet = HashSet<String, foldhash::fast::RandomState>;

/// The MCP methods the discovery preset makes public: what a client calls before it knows which
/// tools need a login. Every `notifications/*` method is public with them.
pub const DISCOVERY_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "prompts/list",
    "server/discover",
];

/// The public operations of a policy; none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PublicOperations {
    pub(crate) discovery: bool,
    pub(crate) tools: NameSet,
    pub(crate) prompts: NameSet,
    /// `(uri, prefix)`: exactly `uri`, or every URI starting with it.
    pub(crate) resources: Vec<(String, bool)>,
    /// Requests (any body) matching these need nothing: `(method, path)`, `None` any method.
    pub(super) routes: Vec<(Option<Method>, PathPattern)>,
}

impl PublicOperations {
    /// True when nothing is public: the guard then behaves exactly as without this feature.
    pub(crate) fn is_empty(&self) -> bool {
        !self.discovery
            && self.tools.is_empty()
            && self.prompts.is_empty()
            && self.resources.is_empty()
            && self.routes.is_empty()
    }

    #[inline]
    pub(crate) fn is_public_route(&self, method: &Method, path: &str) -> bool {
        self.routes.iter().any(|(rule_method, pattern)| {
            rule_method.as_ref().is_none_or(|m| m == method) && pattern.matches(path)
        })
    }

    pub(crate) fn is_public_method(&self, method: &str) -> bool {
        self.discovery
            && (DISCOVERY_METHODS.contains(&method) || method.starts_with("notifications/"))
    }

    pub(crate) fn is_public_tool(&self, tool: &str) -> bool {
        self.tools.contains(tool)
    }

    pub(crate) fn is_public_resource(&self, uri: &str) -> bool {
        self.resources.iter().any(|(rule, prefix)| {
            if *prefix {
                uri.starts_with(rule.as_str())
            } else {
                uri == rule
            }
        })
    }

    /// True when the JSON-RPC message is a call of a public operation. A message without a
    /// method (a response) is not: it is only accepted from an authenticated caller.
    pub(crate) fn is_public(&self, call: &Call<'_>) -> bool {
        let Some(method) = call.method.as_deref() else {
            return false;
        };
        match method {
            "tools/call" => call
                .name
                .as_deref()
                .is_some_and(|tool| self.is_public_tool(tool)),
            "prompts/get" => call
                .name
                .as_deref()
                .is_some_and(|prompt| self.prompts.contains(prompt)),
            "resources/read" => call
                .uri
                .as_deref()
                .is_some_and(|uri| self.is_public_resource(uri)),
            other => self.is_public_method(other),
        }
    }
}

/// The verdict on one non-public call by a caller without a token: a 401 naming what the call
/// needs (or `challenge_scopes`), or 403 when the policy refuses it whatever the token.
pub(crate) fn anonymous_call(
    policy: &ScopePolicy,
    challenge_scopes: Option<&[String]>,
    call: &Call<'_>,
) -> Result<(), AuthError> {
    // The same rule as with a token (every method that names a tool, prompt or resource).
    match requirement_of(policy, call) {
        Some((requirement, operation)) => {
            requirement.check_principal(None, challenge_scopes, || operation.describe())
        }
        None => policy
            .method_requirement("")
            .check_principal(None, challenge_scopes, || "A JSON-RPC response".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn call(method: &str, name: Option<&str>, uri: Option<&str>) -> Call<'static> {
        Call {
            method: Some(Cow::Owned(method.to_owned())),
            name: name.map(|n| Cow::Owned(n.to_owned())),
            uri: uri.map(|u| Cow::Owned(u.to_owned())),
            ..Call::default()
        }
    }

    #[test]
    fn discovery_preset_covers_listing_and_notifications_but_no_call() {
        let public = PublicOperations {
            discovery: true,
            ..Default::default()
        };
        for method in DISCOVERY_METHODS {
            assert!(public.is_public(&call(method, None, None)), "{method}");
        }
        assert!(public.is_public(&call("notifications/initialized", None, None)));
        assert!(!public.is_public(&call("tools/call", Some("search"), None)));
        assert!(!public.is_public(&call("resources/read", None, Some("file:///a"))));
        assert!(
            !public.is_public(&Call::default()),
            "a response is not public"
        );
    }

    #[test]
    fn single_tools_prompts_and_resources() {
        let public = PublicOperations {
            tools: NameSet::from_iter(["echo".to_owned()]),
            prompts: NameSet::from_iter(["greeting".to_owned()]),
            resources: vec![
                ("file:///public/".to_owned(), true),
                ("file:///readme".to_owned(), false),
            ],
            ..Default::default()
        };
        assert!(public.is_public(&call("tools/call", Some("echo"), None)));
        assert!(!public.is_public(&call("tools/call", Some("search"), None)));
        assert!(!public.is_public(&call("tools/list", None, None)));
        assert!(public.is_public(&call("prompts/get", Some("greeting"), None)));
        assert!(public.is_public(&call("resources/read", None, Some("file:///public/a"))));
        assert!(public.is_public(&call("resources/read", None, Some("file:///readme"))));
        assert!(!public.is_public(&call("resources/read", None, Some("file:///readme2"))));
    }
}
