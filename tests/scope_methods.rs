//! Every MCP method that names a tool, prompt or resource is checked by that name (security
//! review finding 6), through a real axum server: one row per client method of MCP 2025-03-26 to
//! 2026-07-28 and of rmcp 3.11, with the body that names a protected thing and the answer the
//! guard gives. Resource URIs are compared after normalisation.

mod support;
use support::scoped_app;

use http::StatusCode;
use scoped_app::*;
use serde_json::{Value, json};

/// The test policy protects the `docs.create` tool (`docs.write docs.read`), the `secret`
/// prompt (`prompts.secret`) and every resource under `file:///private/` (`files.private`);
/// `SEARCH_TOKEN` has none of these.
const PRIVATE: &str = "file:///private/report.txt";

/// (method, params naming a protected thing or `None` when the method names nothing, the scope
/// the refusal must list).
fn table() -> Vec<(&'static str, Option<Value>, Option<&'static str>)> {
    vec![
        (
            "tools/call",
            Some(json!({"name": "docs.create", "arguments": {}})),
            Some("docs.write"),
        ),
        (
            "prompts/get",
            Some(json!({"name": "secret"})),
            Some("prompts.secret"),
        ),
        (
            "resources/read",
            Some(json!({"uri": PRIVATE})),
            Some("files.private"),
        ),
        (
            "resources/subscribe",
            Some(json!({"uri": PRIVATE})),
            Some("files.private"),
        ),
        (
            "resources/unsubscribe",
            Some(json!({"uri": PRIVATE})),
            Some("files.private"),
        ),
        (
            "resources/directory/read",
            Some(json!({"uri": "file:///private/"})),
            Some("files.private"),
        ),
        (
            "skills/get",
            Some(json!({"uri": "file:///private/skill/SKILL.md"})),
            Some("files.private"),
        ),
        (
            "completion/complete",
            Some(
                json!({"ref": {"type": "ref/prompt", "name": "secret"}, "argument": {"name": "a", "value": ""}}),
            ),
            Some("prompts.secret"),
        ),
        (
            "completion/complete",
            Some(
                json!({"ref": {"type": "ref/resource", "uri": "file:///private/{name}"}, "argument": {"name": "name", "value": ""}}),
            ),
            Some("files.private"),
        ),
        (
            "subscriptions/listen",
            Some(
                json!({"notifications": {"toolsListChanged": true, "resourceSubscriptions": ["file:///public/a", PRIVATE]}}),
            ),
            Some("files.private"),
        ),
        // Methods that name nothing the policy has rules for: only the default scopes.
        ("tools/list", None, None),
        ("prompts/list", None, None),
        ("resources/list", None, None),
        ("resources/templates/list", None, None),
        ("skills/list", None, None),
        ("initialize", None, None),
        ("server/discover", None, None),
        ("ping", None, None),
        ("logging/setLevel", None, None),
        ("tasks/get", None, None),
        ("tasks/result", None, None),
        ("tasks/list", None, None),
        ("tasks/update", None, None),
        ("tasks/cancel", None, None),
        ("notifications/initialized", None, None),
        ("notifications/cancelled", None, None),
        ("notifications/progress", None, None),
        ("notifications/roots/list_changed", None, None),
        ("notifications/elicitation/response", None, None),
    ]
}

fn message(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
}

#[tokio::test]
async fn every_method_of_the_current_revisions_is_checked_by_what_it_names() {
    let app = ScopedApp::start(policy()).await;
    for (method, params, scope) in table() {
        let body = message(
            method,
            params
                .clone()
                .unwrap_or_else(|| json!({"name": "docs.create", "uri": PRIVATE})),
        );
        let response = app.post_json(SEARCH_TOKEN, body.clone()).await;
        match scope {
            Some(scope) => {
                assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method}");
                let refusal: Value = response.json().await.unwrap();
                assert_eq!(refusal["code"], "insufficient_scope", "{method}");
                let listed = refusal["scope"].as_str().unwrap();
                assert!(listed.split(' ').any(|s| s == scope), "{method}: {listed}");
                assert!(
                    refusal["operation"].as_str().unwrap().starts_with(method),
                    "{refusal}"
                );
            }
            // The method's own scopes (none here beyond the defaults): it passes, even if its
            // params happen to hold a protected name, since the server reads none of them.
            None => assert_eq!(response.status(), StatusCode::OK, "{method}"),
        }
        // With every scope, each passes.
        let response = app.post_json(ALL_TOKEN, body).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{method} with every scope"
        );
    }
}

#[tokio::test]
async fn resource_uris_are_compared_after_normalisation() {
    let app = ScopedApp::start(policy()).await;
    for uri in [
        "FILE:///private/report.txt",
        "File:///private/report.txt",
        "file:///public/../private/report.txt",
        "file:///public/./../private/report.txt",
        "file:///%70rivate/report.txt",
        "file:///%2e%2e/private/report.txt",
        "file:///public/..%2Fprivate/report.txt",
        "file:///public/..%2fprivate/report.txt",
        "file:///public\\..\\private\\report.txt",
    ] {
        for method in [
            "resources/read",
            "resources/subscribe",
            "resources/directory/read",
        ] {
            let response = app
                .post_json(SEARCH_TOKEN, message(method, json!({"uri": uri})))
                .await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {uri}");
            let refusal: Value = response.json().await.unwrap();
            assert_eq!(refusal["missing_scopes"], json!(["files.private"]), "{uri}");
            // The refusal names the URI as the client sent it.
            assert_eq!(refusal["operation"], format!("{method} {uri}"));
        }
    }
    // What normalises outside the prefix is not protected.
    for uri in [
        "file:///public/report.txt",
        "file:///private/../public/x",
        "file:///privatex",
    ] {
        let response = app
            .post_json(SEARCH_TOKEN, message("resources/read", json!({"uri": uri})))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
    }
}

#[tokio::test]
async fn duplicated_completion_refs_are_ambiguous() {
    let app = ScopedApp::start(policy()).await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"open"},"ref":{"type":"ref/prompt","name":"secret"}}}"#;
    let response = app.post_json(ALL_TOKEN, body).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let refusal: Value = response.json().await.unwrap();
    assert_eq!(refusal["code"], "REQUEST_BODY_UNREADABLE");
    assert!(app.received().is_empty());
}
