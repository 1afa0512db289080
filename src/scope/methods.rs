//! Which rule of the policy each JSON-RPC method is checked by, and the check of one call.
//!
//! Every MCP method that names a tool, prompt or resource is checked by that name, on top of the
//! method's own scopes: the methods of MCP 2025-03-26 to 2026-07-28 and those rmcp 3.11 serves
//! besides (`resources/directory/read`, `skills/get`). Any other method needs the method's
//! scopes (and the defaults). The table test below lists every method with its rule.

use crate::challenge::AuthError;
use crate::scope::ScopePolicy;
use crate::scope::jsonrpc::Call;
use crate::scope::policy::Requirement;
use crate::token::AccessToken;

/// What a method names, and so which rules of the policy apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodRule {
    /// `params.name` is a tool: the tool's rule (`tools/call`).
    Tool,
    /// `params.name` is a prompt: the prompt's rule (`prompts/get`).
    Prompt,
    /// `params.uri` is a resource: the resource rules matching it.
    Resource,
    /// `params.ref` names a prompt (`name`) or a resource template (`uri`):
    /// `completion/complete`.
    CompletionRef,
    /// `params.notifications.resourceSubscriptions` lists resources: `subscriptions/listen`.
    ResourceSubscriptions,
    /// The method names nothing the policy has rules for: only its method scopes.
    MethodOnly,
}

/// The rule for `method`.
pub(crate) fn rule_for(method: &str) -> MethodRule {
    match method {
        "tools/call" => MethodRule::Tool,
        "prompts/get" => MethodRule::Prompt,
        "resources/read"
        | "resources/subscribe"
        | "resources/unsubscribe"
        | "resources/directory/read"
        | "skills/get" => MethodRule::Resource,
        "completion/complete" => MethodRule::CompletionRef,
        "subscriptions/listen" => MethodRule::ResourceSubscriptions,
        _ => MethodRule::MethodOnly,
    }
}

/// The requirement of one call that names a method, with the operation it names (for the
/// refusal's description, formatted only if it is refused); `None` for a response, which runs
/// nothing.
pub(crate) fn requirement_of<'p, 'c, 'a>(
    policy: &'p ScopePolicy,
    call: &'c Call<'a>,
) -> Option<(Requirement<'p>, Operation<'c, 'a>)> {
    let method = call.method.as_deref()?;
    let requirement = match rule_for(method) {
        MethodRule::Tool => policy.tool_requirement(call.name.as_deref().unwrap_or_default()),
        MethodRule::Prompt => policy.prompt_requirement(call.name.as_deref().unwrap_or_default()),
        MethodRule::Resource => policy
            .method_requirement(method)
            .and(policy.resource_scopes(call.uri.as_deref().unwrap_or_default())),
        MethodRule::CompletionRef => {
            let mut requirement = policy.method_requirement(method);
            if let Some(prompt) = call.ref_name.as_deref() {
                requirement = requirement.and(policy.prompt_scopes(prompt));
            }
            if let Some(uri) = call.ref_uri.as_deref() {
                requirement = requirement.and(policy.resource_scopes(uri));
            }
            requirement
        }
        MethodRule::ResourceSubscriptions => {
            let mut requirement = policy.method_requirement(method);
            for uri in &call.subscriptions {
                requirement = requirement.and(policy.resource_scopes(uri));
            }
            requirement
        }
        MethodRule::MethodOnly => policy.method_requirement(method),
    };
    Some((requirement, Operation { method, call }))
}

/// The operation a call names, as a refusal describes it (`tools/call search`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operation<'c, 'a> {
    method: &'c str,
    call: &'c Call<'a>,
}

impl Operation<'_, '_> {
    /// `method target…`: built only when a refusal needs it (it allocates).
    pub(crate) fn describe(&self) -> String {
        let (method, call) = (self.method, self.call);
        match rule_for(method) {
            MethodRule::Tool | MethodRule::Prompt => {
                format!("{method} {}", call.name.as_deref().unwrap_or_default())
            }
            MethodRule::Resource => {
                format!("{method} {}", call.uri.as_deref().unwrap_or_default())
            }
            MethodRule::CompletionRef => {
                let named = [call.ref_name.as_deref(), call.ref_uri.as_deref()];
                let named: Vec<&str> = named.into_iter().flatten().collect();
                format!("{method} {}", named.join(" "))
            }
            MethodRule::ResourceSubscriptions => {
                format!("{method} {}", call.subscriptions.join(" "))
            }
            MethodRule::MethodOnly => method.to_owned(),
        }
    }
}

/// Checks one call against the policy.
pub(crate) fn authorize_call(
    policy: &ScopePolicy,
    token: &AccessToken,
    call: &Call<'_>,
) -> Result<(), AuthError> {
    match requirement_of(policy, call) {
        Some((requirement, operation)) => requirement.check(token, || operation.describe()),
        // A response or a malformed message: it runs nothing.
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every client-to-server method of MCP 2025-03-26, 2025-06-18, 2025-11-25 and 2026-07-28
    /// (`schema/*/schema.ts` `ClientRequest` and `ClientNotification`), and those rmcp 3.11
    /// serves besides (`rmcp::model::ClientRequest`), with the rule that applies.
    const EVERY_METHOD: &[(&str, MethodRule)] = &[
        // Tools.
        ("tools/call", MethodRule::Tool),
        ("tools/list", MethodRule::MethodOnly),
        // Prompts.
        ("prompts/get", MethodRule::Prompt),
        ("prompts/list", MethodRule::MethodOnly),
        // Resources.
        ("resources/read", MethodRule::Resource),
        ("resources/subscribe", MethodRule::Resource),
        ("resources/unsubscribe", MethodRule::Resource),
        ("resources/directory/read", MethodRule::Resource),
        ("resources/list", MethodRule::MethodOnly),
        ("resources/templates/list", MethodRule::MethodOnly),
        // Skills extension (SEP-2640, rmcp 3.11): a skill is fetched by the URI of its SKILL.md.
        ("skills/get", MethodRule::Resource),
        ("skills/list", MethodRule::MethodOnly),
        // Completion: `ref/prompt` by name, `ref/resource` by URI (template).
        ("completion/complete", MethodRule::CompletionRef),
        // 2026-07-28: one listen stream replaces `resources/subscribe` and the GET stream.
        ("subscriptions/listen", MethodRule::ResourceSubscriptions),
        // Lifecycle, discovery, utilities.
        ("initialize", MethodRule::MethodOnly),
        ("server/discover", MethodRule::MethodOnly),
        ("ping", MethodRule::MethodOnly),
        ("logging/setLevel", MethodRule::MethodOnly),
        // Tasks (2025-11-25, rmcp 3.11): by task id, which names no tool or resource.
        ("tasks/get", MethodRule::MethodOnly),
        ("tasks/result", MethodRule::MethodOnly),
        ("tasks/list", MethodRule::MethodOnly),
        ("tasks/update", MethodRule::MethodOnly),
        ("tasks/cancel", MethodRule::MethodOnly),
        // Notifications from the client.
        ("notifications/initialized", MethodRule::MethodOnly),
        ("notifications/cancelled", MethodRule::MethodOnly),
        ("notifications/progress", MethodRule::MethodOnly),
        ("notifications/roots/list_changed", MethodRule::MethodOnly),
        ("notifications/elicitation/response", MethodRule::MethodOnly),
    ];

    #[test]
    fn every_method_of_the_current_revisions_has_its_rule() {
        for (method, rule) in EVERY_METHOD {
            assert_eq!(rule_for(method), *rule, "{method}");
        }
        // Method names are case-sensitive (JSON-RPC); another spelling is another method,
        // which servers answer with "method not found".
        assert_eq!(rule_for("Tools/Call"), MethodRule::MethodOnly);
    }
}
