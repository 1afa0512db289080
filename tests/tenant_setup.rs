//! `TenantSetup` against the fake Auth0: a blank tenant planned, applied and planned again; a
//! strict DCR client and CIMD clients that can log in afterwards (the fake's can-log-in
//! decision, no webhook involved); a partly set-up tenant; a failure halfway through; a
//! missing Management API scope.
#![cfg(feature = "auth0")]

mod support;
use support::fake_auth0;

use std::time::Duration;

use fake_auth0::tenant::ALL_MGMT_SCOPES;
use fake_auth0::tenant::cimd::{CHATGPT_CIMD_URL, CLAUDE_CIMD_URL};
use fake_auth0::{Call, FakeAuth0, FaultKind, LoginRefusal, strict_dcr_client, tpc_id};
use serde_json::{Value, json};
use tower_mcp_auth::ScopePolicy;
use tower_mcp_auth::auth0::tenant_setup::{Action, MissingScope};
use tower_mcp_auth::auth0::{TenantSetup, TenantSetupError};

const RESOURCE: &str = "https://gateway.example.com/mcp";
const CONNECTION: &str = "google-oauth2";
const SCOPES: [&str; 2] = ["docs.write", "search.read"];

fn policy() -> ScopePolicy {
    ScopePolicy::builder()
        .tool("search", ["search.read"])
        .tool("docs.create", ["docs.write"])
        .build()
        .expect("policy")
}

/// A blank tenant: a Google connection (not domain-level), nothing else; the M2M app holds
/// every scope the set-up can need.
async fn blank_tenant() -> FakeAuth0 {
    let fake = FakeAuth0::start().await;
    fake.add_connection("con_google", CONNECTION);
    fake.add_connection("con_db", "Username-Password-Authentication");
    fake.set_mgmt_scopes(&ALL_MGMT_SCOPES);
    fake
}

fn setup(fake: &FakeAuth0, cimd: &[&str]) -> TenantSetup {
    let mgmt = fake
        .management_client(Duration::from_secs(5))
        .build()
        .expect("client");
    TenantSetup::builder(mgmt, &policy(), RESOURCE)
        .connection(CONNECTION)
        .cimd_client_ids(cimd.iter().copied())
        .build()
        .expect("setup")
}

/// Writes, leaving out the CIMD preview (a POST that registers nothing; `read:clients`).
fn writes(fake: &FakeAuth0) -> Vec<Call> {
    fake.api_writes()
        .into_iter()
        .filter(|c| c.path != "/api/v2/clients/cimd/preview")
        .collect()
}

fn summary(plan: &tower_mcp_auth::auth0::Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .map(|c| (c.target.clone(), c.action))
        .collect()
}

fn pending(plan: &tower_mcp_auth::auth0::Plan) -> Vec<String> {
    plan.pending().map(|c| c.target.clone()).collect()
}

/// What ChatGPT does once the tenant advertises DCR: `POST /oidc/register`.
async fn register_by_dcr(fake: &FakeAuth0) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/oidc/register", fake.base_url))
        .json(&json!({"client_name": "ChatGPT",
            "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"],
            "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    answer["client_id"].as_str().expect("client_id").to_owned()
}

#[tokio::test]
async fn a_blank_tenant_plan_lists_every_change_and_writes_nothing() {
    let fake = blank_tenant().await;
    let plan = setup(&fake, &[]).plan().await.expect("plan");
    assert_eq!(
        summary(&plan),
        vec![
            (format!("API {RESOURCE}"), Action::Create),
            (
                format!("connection {CONNECTION} is_domain_connection"),
                Action::Change
            ),
            (
                format!("default grant for third-party clients (user) on {RESOURCE}"),
                Action::Create
            ),
            (
                "tenant setting resource_parameter_profile".into(),
                Action::Change
            ),
            (
                "tenant setting authorization_response_iss_parameter_supported".into(),
                Action::Change
            ),
            (
                "tenant setting flags.enable_dynamic_client_registration".into(),
                Action::Change
            ),
        ]
    );
    let text = plan.to_string();
    assert!(
        text.starts_with("registration: DCR off; CIMD not advertised\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "+ create API {RESOURCE}: absent → RS256, scopes docs.write search.read ("
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "~ change tenant setting resource_parameter_profile: audience → compatibility ("
        ),
        "{text}"
    );
    assert!(text.ends_with("6 change(s) to make"), "{text}");
    assert!(plan.missing_scopes.is_empty());
    assert!(plan.granted_scopes_known);
    assert!(writes(&fake).is_empty(), "{:?}", writes(&fake));
    assert!(fake.api(RESOURCE).is_none());
}

#[tokio::test]
async fn apply_sets_up_a_blank_tenant_and_the_next_plan_is_empty() {
    let fake = blank_tenant().await;
    let setup = setup(&fake, &[]);
    let applied = setup.apply().await.expect("apply");
    assert_eq!(applied.done.len(), 6);

    let api = fake.api(RESOURCE).expect("API created");
    assert_eq!(api.signing_alg, "RS256");
    let values: Vec<&str> = api.scopes.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(values, SCOPES);
    let grants = fake.default_grants();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].audience, RESOURCE);
    assert_eq!(grants[0].subject_type, "user");
    assert_eq!(grants[0].scope, SCOPES);
    let settings = fake.settings();
    assert_eq!(settings["resource_parameter_profile"], "compatibility");
    assert_eq!(
        settings["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(
        settings["flags"]["enable_dynamic_client_registration"],
        true
    );
    // Flags the set-up does not manage are left as they were (PATCH merges flags).
    assert_eq!(settings["flags"]["disable_impersonation"], true);

    fake.clear_calls();
    let again = setup.plan().await.expect("plan");
    assert!(again.is_empty(), "{again}");
    assert!(again.to_string().ends_with("nothing to change"));
    assert!(writes(&fake).is_empty());
    // Only the configured connection was promoted.
    let other = fake.state().connections[1].clone();
    assert!(!other.is_domain_connection);
}

#[tokio::test]
async fn a_strict_dcr_client_registered_after_setup_can_log_in_with_every_scope() {
    let fake = blank_tenant().await;
    // Before the set-up, a strict third-party client cannot log in.
    let early = tpc_id("before");
    fake.add_client(strict_dcr_client(&early, "ChatGPT", &[]));
    assert_eq!(
        fake.can_log_in(&early, RESOURCE, CONNECTION, &SCOPES),
        Err(LoginRefusal::ConnectionNotDomainLevel)
    );

    setup(&fake, &[]).apply().await.expect("apply");
    let client_id = register_by_dcr(&fake).await;
    assert!(client_id.starts_with("tpc_"), "{client_id}");
    assert_eq!(
        fake.client(&client_id)["third_party_security_mode"],
        "strict"
    );
    assert_eq!(
        fake.can_log_in(&client_id, RESOURCE, CONNECTION, &SCOPES),
        Ok(())
    );
    // No per-client write happened for it: the tenant-wide pieces are what make it work.
    assert!(fake.grants_for(&client_id).is_empty());
    assert!(fake.enabled_clients("con_google").is_empty());
}

#[tokio::test]
async fn cimd_clients_for_chatgpt_and_claude_are_registered_and_can_log_in() {
    let fake = blank_tenant().await;
    let setup = setup(&fake, &[CHATGPT_CIMD_URL, CLAUDE_CIMD_URL]);
    let plan = setup.plan().await.expect("plan");
    assert_eq!(
        pending(&plan)[5..],
        [
            "tenant setting client_id_metadata_document_supported".to_owned(),
            "tenant setting flags.enable_dynamic_client_registration".to_owned(),
            format!("CIMD client {CHATGPT_CIMD_URL}"),
            format!("CIMD client {CLAUDE_CIMD_URL}"),
        ]
    );
    let text = plan.to_string();
    assert!(
        text.contains(&format!(
            "+ create CIMD client {CHATGPT_CIMD_URL}: not registered → CIMD client \"ChatGPT\" ("
        )),
        "{text}"
    );
    // The preview's warnings reach the plan (Claude's jwt-bearer grant is dropped).
    assert!(
        text.contains(
            "Ignoring unsupported grant types: urn:ietf:params:oauth:grant-type:jwt-bearer"
        ),
        "{text}"
    );
    assert!(writes(&fake).is_empty());

    let applied = setup.apply().await.expect("apply");
    assert_eq!(applied.cimd.len(), 2);
    assert!(applied.cimd.iter().all(|r| r.created && r.validation.valid));
    let clients = fake.cimd_clients();
    assert_eq!(clients.len(), 2);
    for url in [CHATGPT_CIMD_URL, CLAUDE_CIMD_URL] {
        let client = clients
            .iter()
            .find(|c| c["external_client_id"] == url)
            .expect("registered");
        let id = client["client_id"].as_str().expect("id");
        assert!(id.starts_with("tpc_"));
        assert_eq!(client["external_metadata_created_by"], "admin");
        assert_eq!(
            fake.can_log_in(id, RESOURCE, CONNECTION, &SCOPES),
            Ok(()),
            "{url}"
        );
    }

    // Applying again changes nothing and writes nothing.
    fake.clear_calls();
    let again = setup.apply().await.expect("apply again");
    assert!(again.plan.is_empty(), "{}", again.plan);
    assert!(again.done.is_empty());
    assert!(writes(&fake).is_empty());
    // Registering a URL again is Auth0's upsert: 200 (an update), same client, nothing new.
    let mgmt = fake
        .management_client(Duration::from_secs(5))
        .build()
        .expect("client");
    let before = fake.cimd_clients();
    let upsert = mgmt
        .register_cimd_client(CHATGPT_CIMD_URL)
        .await
        .expect("register again");
    assert!(!upsert.created);
    assert_eq!(fake.calls().last().expect("call").status, 200);
    assert_eq!(fake.cimd_clients(), before);
    assert!(setup.plan().await.expect("plan").is_empty());
}

#[tokio::test]
async fn a_partly_set_up_tenant_plans_only_the_rest_and_keeps_what_is_there() {
    let fake = blank_tenant().await;
    fake.add_resource_server(RESOURCE, "RS256", &["search.read", "admin:all"]);
    fake.set_domain_connection("con_google", true);
    fake.set_settings(json!({"resource_parameter_profile": "compatibility"}));
    let other_grant = fake.add_grant("some-app", RESOURCE, &["admin:all"], "user");

    let setup = setup(&fake, &[]);
    let plan = setup.plan().await.expect("plan");
    assert_eq!(
        pending(&plan),
        vec![
            format!("API {RESOURCE} scopes"),
            format!("default grant for third-party clients (user) on {RESOURCE}"),
            "tenant setting authorization_response_iss_parameter_supported".to_owned(),
            "tenant setting flags.enable_dynamic_client_registration".to_owned(),
        ]
    );
    let scopes = plan
        .changes
        .iter()
        .find(|c| c.target.ends_with(" scopes"))
        .expect("scopes change");
    assert_eq!(scopes.now, "search.read admin:all");
    assert_eq!(scopes.will_be, "search.read admin:all docs.write");

    setup.apply().await.expect("apply");
    let api = fake.api(RESOURCE).expect("api");
    let values: Vec<&str> = api.scopes.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(values, ["search.read", "admin:all", "docs.write"]);
    let kept = fake.grants_for("some-app");
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].id.as_str(), kept[0].scope.clone()),
        (other_grant.as_str(), vec!["admin:all".to_owned()])
    );
    assert!(setup.plan().await.expect("plan").is_empty());
}

#[tokio::test]
async fn an_existing_default_grant_is_widened_not_replaced() {
    let fake = blank_tenant().await;
    fake.add_resource_server(RESOURCE, "RS256", &SCOPES);
    let id = fake.add_default_user_grant(RESOURCE, &["search.read", "extra"]);
    let setup = setup(&fake, &[]);
    setup.apply().await.expect("apply");
    let grants = fake.default_grants();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].id, id);
    assert_eq!(grants[0].scope, ["search.read", "extra", "docs.write"]);
}

#[tokio::test]
async fn without_the_default_grant_the_set_up_leaves_grants_to_the_webhook() {
    let fake = blank_tenant().await;
    let mgmt = fake
        .management_client(Duration::from_secs(5))
        .build()
        .expect("client");
    let setup = TenantSetup::builder(mgmt, &policy(), RESOURCE)
        .connection(CONNECTION)
        .default_grant(false)
        .build()
        .expect("setup");
    let plan = setup.plan().await.expect("plan");
    assert!(
        !pending(&plan)
            .iter()
            .any(|t| t.starts_with("default grant")),
        "{plan}"
    );
    assert_eq!(pending(&plan).len(), 5);
    setup.apply().await.expect("apply");
    assert!(fake.default_grants().is_empty());
    assert!(setup.plan().await.expect("plan").is_empty());
    // A DCR client now needs its own user grant (the webhook's job): without one, no login.
    let client_id = register_by_dcr(&fake).await;
    assert_eq!(
        fake.can_log_in(&client_id, RESOURCE, CONNECTION, &SCOPES),
        Err(LoginRefusal::NoUserGrant)
    );
}

#[tokio::test]
async fn a_failure_halfway_through_apply_is_completed_by_the_next_apply() {
    let fake = blank_tenant().await;
    // As many 500s as the client's attempts (quick_retries: 4): promoting the connection fails.
    fake.inject(
        Some(axum::http::Method::PATCH),
        "/api/v2/connections/con_google",
        4,
        FaultKind::ServerError,
    );
    let setup = setup(&fake, &[]);
    let err = setup.apply().await.expect_err("the connection step fails");
    let TenantSetupError::Apply {
        done,
        failed,
        source,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(err.code(), "apply_failed");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].target, format!("API {RESOURCE}"));
    assert_eq!(
        failed.target,
        format!("connection {CONNECTION} is_domain_connection")
    );
    assert_eq!(source.status(), Some(500));
    assert!(fake.api(RESOURCE).is_some());
    assert!(fake.default_grants().is_empty());

    // The tenant is half set up; the next plan names only the rest, the next apply completes it.
    let plan = setup.plan().await.expect("plan");
    assert_eq!(pending(&plan).len(), 5);
    assert!(!pending(&plan).contains(&format!("API {RESOURCE}")));
    let applied = setup.apply().await.expect("apply");
    assert_eq!(applied.done.len(), 5);
    assert!(setup.plan().await.expect("plan").is_empty());
    let client_id = register_by_dcr(&fake).await;
    assert_eq!(
        fake.can_log_in(&client_id, RESOURCE, CONNECTION, &SCOPES),
        Ok(())
    );
}

#[tokio::test]
async fn a_missing_write_scope_is_named_in_the_plan_and_apply_writes_nothing() {
    let fake = blank_tenant().await;
    let held: Vec<&str> = ALL_MGMT_SCOPES
        .iter()
        .copied()
        .filter(|s| *s != "update:connections")
        .collect();
    fake.set_mgmt_scopes(&held);
    let setup = setup(&fake, &[]);
    let plan = setup.plan().await.expect("plan");
    assert_eq!(
        scopes_of(&plan.missing_scopes),
        [("update:connections", "PATCH /api/v2/connections/{id}")]
    );
    assert!(plan.to_string().contains(
        "! missing Management API scope update:connections (for PATCH /api/v2/connections/{id})"
    ));
    let err = setup.apply().await.expect_err("refused");
    assert_eq!(err.code(), "missing_scopes");
    assert!(err.to_string().contains("update:connections"), "{err}");
    assert!(writes(&fake).is_empty(), "{:?}", writes(&fake));
}

#[tokio::test]
async fn a_missing_read_scope_stops_the_plan_before_any_call() {
    let fake = blank_tenant().await;
    let held: Vec<&str> = ALL_MGMT_SCOPES
        .iter()
        .copied()
        .filter(|s| *s != "read:tenant_settings")
        .collect();
    fake.set_mgmt_scopes(&held);
    let err = setup(&fake, &[]).plan().await.expect_err("no plan");
    let TenantSetupError::MissingScopes { missing } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(missing[0].scope, "read:tenant_settings");
    assert!(fake.api_calls().is_empty(), "{:?}", fake.api_calls());
}

#[tokio::test]
async fn without_granted_scopes_in_the_token_a_403_on_a_read_names_the_scope() {
    let fake = blank_tenant().await;
    fake.state().tenant.token_omits_scope = true;
    let held: Vec<&str> = ALL_MGMT_SCOPES
        .iter()
        .copied()
        .filter(|s| *s != "read:resource_servers")
        .collect();
    fake.set_mgmt_scopes(&held);
    let err = setup(&fake, &[]).plan().await.expect_err("no plan");
    let TenantSetupError::MissingScopes { missing } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        scopes_of(missing),
        [("read:resource_servers", "GET /api/v2/resource-servers/{id}")]
    );
    assert!(writes(&fake).is_empty());

    // With every scope but no list in the token, the plan says it cannot check write scopes.
    fake.set_mgmt_scopes(&ALL_MGMT_SCOPES);
    let plan = setup(&fake, &[]).plan().await.expect("plan");
    assert!(!plan.granted_scopes_known);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("did not say which scopes it has")),
        "{plan}"
    );
}

#[tokio::test]
async fn the_configuration_is_checked_before_any_call() {
    let fake = blank_tenant().await;
    let mgmt = fake
        .management_client(Duration::from_secs(5))
        .build()
        .expect("client");
    let bad_url = TenantSetup::builder(mgmt.clone(), &policy(), RESOURCE)
        .connection(CONNECTION)
        .cimd_client_id("https://chatgpt.com/oauth/client.json?x=1")
        .build()
        .expect_err("query refused");
    assert!(bad_url.to_string().contains("has a query"), "{bad_url}");
    let no_connection = TenantSetup::builder(mgmt.clone(), &policy(), RESOURCE)
        .build()
        .expect_err("connection required");
    assert_eq!(no_connection.code(), "config");
    let http = TenantSetup::builder(mgmt, &policy(), "http://gateway.example.com/mcp")
        .connection(CONNECTION)
        .build()
        .expect_err("https required");
    assert_eq!(http.code(), "config");
    let unknown = TenantSetup::builder(
        fake.management_client(Duration::from_secs(5))
            .build()
            .expect("client"),
        &policy(),
        RESOURCE,
    )
    .connection("no-such-connection")
    .build()
    .expect("builds")
    .plan()
    .await
    .expect_err("unknown connection");
    assert_eq!(unknown.code(), "connection_not_found");
    assert!(fake.api_writes().is_empty());
}

/// Each missing scope and the call it is needed for.
fn scopes_of(missing: &[MissingScope]) -> Vec<(&'static str, &'static str)> {
    missing.iter().map(|m| (m.scope, m.needed_for)).collect()
}
