//! The example gateway's Auth0 side, run as a real process: the DCR webhook against the fake
//! Auth0, `gateway doctor` and `gateway print-action`.
#![cfg(feature = "auth0")]

mod support;
use support::{fake_auth0, gateway::backends, gateway::process, issuer_server};

use backends::*;
use fake_auth0::{
    CHATGPT_CALLBACK, FakeAuth0, MGMT_CLIENT_ID, MGMT_CLIENT_SECRET, TENANT, dcr_entry,
    strict_dcr_client, tpc_id,
};
use issuer_server::{AUDIENCE, IssuerServer, now};
use process::command;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// gateway doctor

async fn doctor(vars: Vec<(String, String)>, token: &str) -> (i32, String) {
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let output = command(&vars, &["doctor", "--token", &token])
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn owned(vars: Vec<(&str, &str)>) -> Vec<(String, String)> {
    vars.into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_issuer_and_explains_what_is_wrong_with_a_token() {
    let issuer = IssuerServer::start().await;
    let vars = owned(production_env(&issuer, "https://functions.example.com"));

    let (status, out) = doctor(vars.clone(), &issuer.token("search.read")).await;
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains(&format!(
            "[ok]   issuer metadata: {}.well-known/openid-configuration names issuer \"{}\"",
            issuer.issuer, issuer.issuer
        )),
        "{out}"
    );
    assert!(
        out.contains(
            "[warn] Dynamic Client Registration: the metadata has no registration_endpoint"
        ),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "[ok]   JWKS: 1 signing key(s) at {}",
            issuer.jwks_uri()
        )),
        "{out}"
    );
    assert!(
        out.contains(
            "[ok]   token: valid for https://api.test/mcp; sub auth0|user-1; scopes: search.read"
        ),
        "{out}"
    );
    assert!(
        out.contains("[ok]   token scopes: every call the policy names is allowed"),
        "{out}"
    );

    let mut scoped = vars.clone();
    scoped.push(("TOOL_SCOPES".to_owned(), TOOL_SCOPES.to_owned()));
    let (status, out) = doctor(scoped, &issuer.token("search.read")).await;
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("[FAIL] token scopes: insufficient_scope: docs.create (missing docs.read docs.write)\n       fix: grant the scopes"),
        "{out}"
    );

    let (status, out) = doctor(
        vars.clone(),
        "eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn",
    )
    .await;
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("[FAIL] token: ACCESS_TOKEN_IS_ENCRYPTED_JWE: a 5-part encrypted JWE\n       fix: the token was requested without your API's audience"), "{out}");

    let (status, out) = doctor(vars.clone(), "opaque-token-from-userinfo").await;
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("[FAIL] token: ACCESS_TOKEN_NOT_JWS: opaque, not a JWT"),
        "{out}"
    );

    let mut claims = issuer.claims("search.read");
    claims["exp"] = json!(now() - 3600);
    let (status, out) = doctor(vars.clone(), &format!("Bearer {}", issuer.sign(&claims))).await;
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("[FAIL] token: TOKEN_EXPIRED: "), "{out}");
    assert!(out.contains("fix: get a new token"), "{out}");

    let mut claims = issuer.claims("search.read");
    claims["aud"] = json!("https://tenant.example.com/userinfo");
    let (status, out) = doctor(vars, &issuer.sign(&claims)).await;
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("[FAIL] token: INVALID_AUDIENCE: "), "{out}");
    assert!(out.contains("fix: the token is for another API"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// The DCR webhook

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_stream_webhook_promotes_a_dcr_client_and_shows_in_health() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let fake = FakeAuth0::start().await;
    // A 2026 tenant: the API, the login connection at domain level; strict DCR clients.
    fake.add_connection("con_google", "google-oauth2");
    fake.set_domain_connection("con_google", true);
    fake.add_api(AUDIENCE, &["search.read", "docs.write"]);
    let chatgpt = tpc_id("chatgpt");
    let claude = tpc_id("claude");
    let foreign = tpc_id("foreign");
    fake.add_client(strict_dcr_client(&chatgpt, "ChatGPT", &[CHATGPT_CALLBACK]));
    fake.add_client(strict_dcr_client(
        &claude,
        "Claude",
        &["https://claude.ai/api/mcp/auth_callback"],
    ));
    fake.add_client(strict_dcr_client(
        &foreign,
        "ChatGPT",
        &[CHATGPT_CALLBACK, "https://attacker.example/cb"],
    ));
    let mut vars = production_env(&issuer, &up.functions_base);
    vars.extend([
        ("MGMT_DOMAIN", TENANT),
        ("MGMT_BASE_URL", fake.base_url.as_str()),
        ("MGMT_CLIENT_ID", MGMT_CLIENT_ID),
        ("MGMT_CLIENT_SECRET", MGMT_CLIENT_SECRET),
        ("LOG_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("GOOGLE_CONNECTION_NAME", "google-oauth2"),
        ("TOOL_SCOPES", "search.read,docs.write"),
        (
            "DCR_ALLOWED_CALLBACKS",
            "https://chatgpt.com/connector_platform_oauth_redirect,https://claude.ai/api/mcp/auth_callback",
        ),
    ]);
    let gateway = start(vars);
    let client = reqwest::Client::new();
    let batch = serde_json::to_string(&json!([
        dcr_entry("L1", &chatgpt),
        dcr_entry("L2", &claude),
        dcr_entry("L3", &foreign)
    ]))
    .unwrap();

    let (_, before) = health(&gateway).await;
    assert_eq!(
        before["webhook"],
        json!({"enabled": true, "last_event_at": null})
    );

    let wrong = client
        .post(gateway.url("/auth0-log-webhook"))
        .bearer_auth("not-the-secret")
        .body(batch.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    assert_eq!(
        json_of(wrong).await,
        json!({"error": "invalid_webhook_secret"})
    );
    assert!(fake.api_calls().is_empty());

    let delivered = client
        .post(gateway.url("/auth0-log-webhook"))
        .header("x-webhook-secret", WEBHOOK_SECRET)
        .header("content-type", "application/json")
        .body(batch)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 200);
    let summary = json_of(delivered).await;
    let mut promoted: Vec<String> =
        serde_json::from_value(summary["promoted"]["client_ids"].clone()).unwrap();
    promoted.sort();
    let mut expected = vec![chatgpt.clone(), claude.clone()];
    expected.sort();
    assert_eq!(promoted, expected, "{summary}");
    assert_eq!(
        summary["skipped"],
        json!({"count": 1, "client_ids": [foreign.clone()]})
    );
    assert_eq!(summary["failed"]["count"], 0);

    for id in [&chatgpt, &claude] {
        assert_eq!(
            fake.can_log_in(
                id,
                AUDIENCE,
                "google-oauth2",
                &["search.read", "docs.write"]
            ),
            Ok(())
        );
        assert_eq!(fake.client(id)["is_first_party"], false);
        let grants = fake.grants_for(id);
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0].subject_type, "user");
        let mut granted = grants[0].scope.clone();
        granted.sort();
        assert_eq!(granted, ["docs.write", "search.read"]);
    }
    assert!(fake.grants_for(&foreign).is_empty());
    assert!(
        gateway.stderr().contains("possible attack"),
        "{}",
        gateway.stderr()
    );

    let (status, after) = health(&gateway).await;
    assert_eq!(status, 200);
    assert!(
        after["webhook"]["last_event_at"].as_u64().is_some(),
        "{after}"
    );
    assert_eq!(after["management_api"]["last_call"]["ok"], true);
    assert!(!after.to_string().contains(MGMT_CLIENT_SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_management_credentials_the_webhook_is_not_mounted() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let gateway = start(production_env(&issuer, &up.functions_base));
    let response = reqwest::Client::new()
        .post(gateway.url("/auth0-log-webhook"))
        .header("x-webhook-secret", WEBHOOK_SECRET)
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(
        gateway
            .stderr()
            .contains("off (MGMT_* and LOG_WEBHOOK_SECRET not set)")
    );
    let (_, body) = health(&gateway).await;
    assert_eq!(
        body["webhook"],
        json!({"enabled": false, "last_event_at": null})
    );
    assert_eq!(body["management_api"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_management_api_credentials_scopes_and_connection() {
    let issuer = IssuerServer::start().await;
    let fake = FakeAuth0::start().await;
    fake.add_connection("con_google", "google-oauth2");
    // The webhook's scopes plus the one that lets doctor read the API.
    fake.set_mgmt_scopes(&[
        "read:clients",
        "update:clients",
        "read:connections",
        "update:connections",
        "read:client_grants",
        "create:client_grants",
        "update:client_grants",
        "read:resource_servers",
    ]);
    let mut vars = production_env(&issuer, "https://functions.example.com");
    vars.extend([
        ("MGMT_DOMAIN", TENANT),
        ("MGMT_BASE_URL", fake.base_url.as_str()),
        ("MGMT_CLIENT_ID", MGMT_CLIENT_ID),
        ("MGMT_CLIENT_SECRET", MGMT_CLIENT_SECRET),
        ("LOG_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("GOOGLE_CONNECTION_NAME", "google-oauth2,github"),
    ]);
    let (status, out) = doctor(owned(vars.clone()), &issuer.token("search.read")).await;
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("[ok]   Management API scopes: read:clients update:clients read:connections update:connections read:client_grants create:client_grants update:client_grants"), "{out}");
    assert!(
        out.contains("[ok]   connection: `google-oauth2` exists"),
        "{out}"
    );
    assert!(
        out.contains("[FAIL] connection: no connection named `github`"),
        "{out}"
    );
    // The fake tenant has no API yet: it cannot be found.
    assert!(
        out.contains("[FAIL] API: no API with identifier `https://api.test/mcp`"),
        "{out}"
    );
    assert!(!out.contains(MGMT_CLIENT_SECRET));

    let mut wrong = vars;
    wrong.retain(|(k, _)| *k != "MGMT_CLIENT_SECRET");
    wrong.push(("MGMT_CLIENT_SECRET", "wrong-secret"));
    let (status, out) = doctor(owned(wrong), &issuer.token("search.read")).await;
    assert_eq!(status, 1, "{out}");
    assert!(out.contains("[FAIL] Management API token: HTTP 401 Unauthorized: Unauthorized\n       fix: check MGMT_CLIENT_ID / MGMT_CLIENT_SECRET"), "{out}");
}

#[test]
fn print_action_adds_only_the_scopes_meant_for_every_user() {
    let print = |vars: &[(&str, &str)]| {
        let output = command(vars, &["print-action"]).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    // docs.create's docs.write is for some users only: RBAC grants it, the Action never does.
    let action = print(&[
        ("TOOL_SCOPES", TOOL_SCOPES),
        ("REQUIRED_SCOPES", "mcp:access"),
    ]);
    assert!(action.starts_with("/**\n * Auth0 Post-Login Action for ChatGPT connectors"));
    assert!(action.contains(
        "  const SCOPES_FOR_EVERYONE = [\n    'mcp:access',\n  ];\n  // SCOPES_FOR_EVERYONE:END\n"
    ), "{action}");
    assert!(!action.contains("'docs.write'"), "{action}");
    assert!(action.contains("exports.onExecutePostLogin = async (event, api) => {"));

    let chosen = print(&[
        ("TOOL_SCOPES", TOOL_SCOPES),
        ("REQUIRED_SCOPES", "mcp:access"),
        ("ACTION_SCOPES", "mcp:access,search.read"),
    ]);
    assert!(
        chosen.contains(
            "  const SCOPES_FOR_EVERYONE = [\n    'mcp:access',\n    'search.read',\n  ];\n"
        ),
        "{chosen}"
    );

    let bad = command(
        &[("TOOL_SCOPES", "search=search.read;docs")],
        &["print-action"],
    )
    .output()
    .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains(
        "TOOL_SCOPES: entry `docs` has no `=`; the per-tool form is `tool=scope1,scope2;tool2=scope3`"
    ));
}
