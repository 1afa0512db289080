//! Which Management API scope each endpoint needs (the OAS `security` of each operation, table
//! in `../shared/research/auth0-2026.md` §Q8). A requirement is a list of groups: every group
//! must be met, by any one of its scopes.

use axum::http::Method;

/// The scopes `method path` needs; `None` for a path the fake does not guard.
pub fn required(method: &Method, path: &str) -> Option<Vec<Vec<&'static str>>> {
    let segments: Vec<&str> = path
        .trim_start_matches("/api/v2/")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let one = |s: &'static str| Some(vec![vec![s]]);
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["clients"]) | ("GET", ["clients", _]) => {
            Some(vec![vec!["read:clients", "read:client_summary"]])
        }
        ("PATCH", ["clients", _]) => one("update:clients"),
        // The and-rule: `read:connections` and one of `read:clients` / `read:client_summary`.
        ("GET", ["clients", _, "connections"]) => Some(vec![
            vec!["read:connections"],
            vec!["read:clients", "read:client_summary"],
        ]),
        ("GET", ["connections", ..]) => one("read:connections"),
        ("PATCH", ["connections", _]) | ("PATCH", ["connections", _, "clients"]) => {
            one("update:connections")
        }
        ("GET", ["client-grants"]) => one("read:client_grants"),
        ("POST", ["client-grants"]) => one("create:client_grants"),
        ("PATCH", ["client-grants", _]) => one("update:client_grants"),
        ("DELETE", ["client-grants", _]) => one("delete:client_grants"),
        // Tenant settings, APIs, CIMD preview (register checks create/update itself).
        _ => super::tenant::required_scope(method, path).map(|s| vec![vec![s]]),
    }
}

/// The first group `held` does not meet, if any.
pub fn first_unmet<'a>(
    required: &'a [Vec<&'static str>],
    held: &std::collections::BTreeSet<String>,
) -> Option<&'a [&'static str]> {
    required
        .iter()
        .find(|group| !group.iter().any(|s| held.contains(*s)))
        .map(Vec::as_slice)
}
