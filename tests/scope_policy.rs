//! `TOOL_SCOPES` / `REQUIRED_SCOPES`: the Node gateway's flat form, the per-tool map form, and
//! malformed values with their error messages.

use tower_mcp_auth::ScopePolicy;
use tower_mcp_auth::scope::{ScopeConfigError, UnknownTools};

#[test]
fn flat_lists_are_the_scopes_every_call_needs() {
    let policy =
        ScopePolicy::from_env_values(Some("search.read, docs.read"), Some("mcp:access  openid,"))
            .unwrap();
    assert_eq!(
        policy.default_scopes(),
        ["docs.read", "mcp:access", "openid", "search.read"]
    );
    assert_eq!(
        policy.all_scopes(),
        ["docs.read", "mcp:access", "openid", "search.read"]
    );
    assert_eq!(
        policy.required_scopes_for_tool("anything").unwrap(),
        ["docs.read", "mcp:access", "openid", "search.read"]
    );
    assert_eq!(policy.unknown_tools(), UnknownTools::DefaultScopes);
}

#[test]
fn map_form_gives_per_tool_scopes() {
    let policy = ScopePolicy::from_env_values(
        Some(" search=search.read ; docs.create = docs.write,docs.read docs.admin;"),
        Some("mcp"),
    )
    .unwrap();
    assert_eq!(policy.default_scopes(), ["mcp"]);
    assert_eq!(
        policy.required_scopes_for_tool("search").unwrap(),
        ["mcp", "search.read"]
    );
    assert_eq!(
        policy.required_scopes_for_tool("docs.create").unwrap(),
        ["docs.admin", "docs.read", "docs.write", "mcp"]
    );
    assert_eq!(policy.required_scopes_for_tool("other").unwrap(), ["mcp"]);
    assert_eq!(
        policy.all_scopes(),
        [
            "docs.admin",
            "docs.read",
            "docs.write",
            "mcp",
            "search.read"
        ]
    );
}

#[test]
fn unset_or_blank_variables_require_nothing() {
    for (tools, required) in [(None, None), (Some(""), Some("  ")), (Some(" , "), None)] {
        let policy = ScopePolicy::from_env_values(tools, required).unwrap();
        assert!(policy.all_scopes().is_empty(), "{tools:?} {required:?}");
    }
}

#[test]
fn malformed_values_are_errors_naming_the_entry() {
    let cases: [(Option<&str>, Option<&str>, &str); 8] = [
        (
            Some("search=search.read;docs"),
            None,
            "TOOL_SCOPES: entry `docs` has no `=`; the per-tool form is `tool=scope1,scope2;tool2=scope3`",
        ),
        (
            Some("search=a=b"),
            None,
            "TOOL_SCOPES: entry `search=a=b` has more than one `=`",
        ),
        (
            Some("=search.read"),
            None,
            "TOOL_SCOPES: entry `=search.read` names no tool before `=`",
        ),
        (
            Some("search= , "),
            None,
            "TOOL_SCOPES: entry `search= ,` lists no scope after `=`",
        ),
        (
            Some("search=a;search=b"),
            None,
            "TOOL_SCOPES: tool `search` is named twice",
        ),
        (
            Some("search=sea\"rch"),
            None,
            "TOOL_SCOPES entry `search=sea\"rch`: `sea\"rch` is not a valid OAuth scope token (RFC 6749 §3.3 allows printable ASCII except space, `\"` and `\\`)",
        ),
        (
            None,
            Some("mcp search=search.read"),
            "REQUIRED_SCOPES: `search=search.read` contains `=`, but REQUIRED_SCOPES is a flat list of the scopes every call needs; per-tool scopes go in TOOL_SCOPES",
        ),
        (
            Some("a\\b"),
            None,
            "TOOL_SCOPES: `a\\b` is not a valid OAuth scope token (RFC 6749 §3.3 allows printable ASCII except space, `\"` and `\\`)",
        ),
    ];
    for (tools, required, message) in cases {
        let err = ScopePolicy::from_env_values(tools, required).unwrap_err();
        assert_eq!(err.to_string(), message, "{tools:?} {required:?}");
    }
}

#[test]
fn non_ascii_scope_is_refused_with_its_variant() {
    let err = ScopePolicy::from_env_values(None, Some("café")).unwrap_err();
    assert_eq!(
        err,
        ScopeConfigError::InvalidScope {
            context: "REQUIRED_SCOPES".into(),
            scope: "café".into()
        }
    );
}

#[test]
fn env_values_can_be_extended_in_code() {
    let policy = ScopePolicy::builder_from_env_values(Some("search=search.read"), None)
        .unwrap()
        .deny_unknown_tools()
        .build()
        .unwrap();
    assert!(policy.required_scopes_for_tool("search").is_some());
    assert!(policy.required_scopes_for_tool("weather").is_none());
}
