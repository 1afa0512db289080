//! `gateway setup [--apply] [--json]` and the tenant part of `gateway doctor`, run as real
//! processes against the fake Auth0.
#![cfg(feature = "auth0")]

mod support;
use support::{fake_auth0, gateway::process};

use fake_auth0::tenant::ALL_MGMT_SCOPES;
use fake_auth0::tenant::cimd::{CHATGPT_CIMD_URL, CLAUDE_CIMD_URL};
use fake_auth0::{FakeAuth0, MGMT_CLIENT_ID, MGMT_CLIENT_SECRET, TENANT};
use process::command;
use serde_json::Value;

const RESOURCE: &str = "https://gateway.example.com/mcp";

async fn blank_tenant() -> FakeAuth0 {
    let fake = FakeAuth0::start().await;
    fake.add_connection("con_google", "google-oauth2");
    fake.set_mgmt_scopes(&ALL_MGMT_SCOPES);
    fake
}

/// The gateway's environment for the set-up: nothing about backends or the webhook.
fn setup_env(fake: &FakeAuth0, cimd: &str) -> Vec<(String, String)> {
    [
        ("MGMT_DOMAIN", TENANT),
        ("MGMT_CLIENT_ID", MGMT_CLIENT_ID),
        ("MGMT_CLIENT_SECRET", MGMT_CLIENT_SECRET),
        ("MGMT_BASE_URL", fake.base_url.as_str()),
        ("OAUTH_AUDIENCE", RESOURCE),
        ("TOOL_SCOPES", "search=search.read;docs.create=docs.write"),
        ("GOOGLE_CONNECTION_NAME", "google-oauth2"),
        ("CIMD_CLIENT_IDS", cimd),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The whole gateway environment, for `doctor`.
fn doctor_env(fake: &FakeAuth0) -> Vec<(String, String)> {
    let mut vars = setup_env(fake, "");
    for (k, v) in [
        ("OAUTH_ISSUER", fake.issuer()),
        ("FUNCTIONS_BASE", "https://functions.example.com".to_owned()),
        (
            "GATEWAY_HMAC_SECRET",
            "test-hmac-secret-0123456789abcdefghijklmnop".to_owned(),
        ),
        (
            "LOG_WEBHOOK_SECRET",
            "test-webhook-secret-0123456789abcdefghij".to_owned(),
        ),
    ] {
        vars.push((k.to_owned(), v));
    }
    vars
}

struct Output {
    status: i32,
    stdout: String,
    stderr: String,
}

async fn gateway(vars: Vec<(String, String)>, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = command(&vars, &args).output().expect("run the gateway");
        Output {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("join")
}

fn writes(fake: &FakeAuth0) -> usize {
    fake.api_writes()
        .iter()
        .filter(|c| c.path != "/api/v2/clients/cimd/preview")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_prints_the_plan_applies_it_and_then_has_nothing_to_change() {
    let fake = blank_tenant().await;
    let env = setup_env(&fake, "");

    let plan = gateway(env.clone(), &["setup"]).await;
    assert_eq!(plan.status, 0, "{}{}", plan.stdout, plan.stderr);
    let lines: Vec<&str> = plan.stdout.lines().collect();
    assert_eq!(lines[0], "registration: DCR off; CIMD not advertised");
    assert!(
        lines[1].starts_with(&format!(
            "+ create API {RESOURCE}: absent → RS256, scopes docs.write search.read ("
        )),
        "{}",
        plan.stdout
    );
    assert!(
        lines[2]
            .starts_with("~ change connection google-oauth2 is_domain_connection: false → true ("),
        "{}",
        plan.stdout
    );
    assert!(lines[3].starts_with(&format!("+ create default grant for third-party clients (user) on {RESOURCE}: absent → scopes docs.write search.read (")), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("6 change(s) to make\nrun `gateway setup --apply` to make these changes\n"),
        "{}",
        plan.stdout
    );
    assert_eq!(writes(&fake), 0);

    let applied = gateway(env.clone(), &["setup", "--apply"]).await;
    assert_eq!(applied.status, 0, "{}{}", applied.stdout, applied.stderr);
    assert!(
        applied
            .stdout
            .contains(&format!("done: + create API {RESOURCE}")),
        "{}",
        applied.stdout
    );
    assert!(
        applied
            .stdout
            .ends_with("tenant set up: 6 change(s) made, nothing left to change\n"),
        "{}",
        applied.stdout
    );
    assert!(!applied.stdout.contains("mgmt-m2m-secret"));
    assert!(!applied.stderr.contains("mgmt-m2m-secret"));

    fake.clear_calls();
    let again = gateway(env, &["setup"]).await;
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert!(
        again.stdout.starts_with(
            "registration: DCR on (strict third-party clients); CIMD not advertised\n"
        ),
        "{}",
        again.stdout
    );
    assert!(
        again
            .stdout
            .lines()
            .skip(1)
            .take(7)
            .all(|l| l.starts_with("= already right ")),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.ends_with("nothing to change\n"),
        "{}",
        again.stdout
    );
    assert_eq!(writes(&fake), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_json_lists_the_changes_and_apply_registers_the_cimd_clients() {
    let fake = blank_tenant().await;
    let env = setup_env(&fake, &format!("{CHATGPT_CIMD_URL},{CLAUDE_CIMD_URL}"));
    let plan = gateway(env.clone(), &["setup", "--json"]).await;
    assert_eq!(plan.status, 0, "{}", plan.stderr);
    let plan: Value = serde_json::from_str(&plan.stdout).expect("one JSON object");
    let actions: Vec<&str> = plan["plan"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "create", "change", "create", "change", "change", "change", "change", "create",
            "create"
        ]
    );
    assert_eq!(plan["plan"]["changes"][7]["needs_scope"], "create:clients");

    let applied = gateway(env, &["setup", "--apply", "--json"]).await;
    assert_eq!(applied.status, 0, "{}", applied.stderr);
    let applied: Value = serde_json::from_str(&applied.stdout).expect("JSON");
    assert_eq!(applied["complete"], true);
    assert_eq!(applied["cimd"].as_array().expect("cimd").len(), 2);
    assert_eq!(applied["cimd"][0]["created"], true);
    assert_eq!(fake.cimd_clients().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_apply_names_a_missing_scope_up_front_and_writes_nothing() {
    let fake = blank_tenant().await;
    let held: Vec<&str> = ALL_MGMT_SCOPES
        .iter()
        .copied()
        .filter(|s| *s != "create:client_grants")
        .collect();
    fake.set_mgmt_scopes(&held);
    let out = gateway(setup_env(&fake, ""), &["setup", "--apply"]).await;
    assert_eq!(out.status, 1, "{}", out.stdout);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[1],
        "! missing Management API scope create:client_grants (for POST /api/v2/client-grants)"
    );
    assert!(
        out.stderr
            .contains("the Management API application lacks create:client_grants"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("nothing was written"), "{}", out.stderr);
    assert_eq!(writes(&fake), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_exits_1_with_the_reason_when_no_plan_can_be_made() {
    let fake = blank_tenant().await;
    let mut env = setup_env(&fake, "");
    env.retain(|(k, _)| k != "GOOGLE_CONNECTION_NAME");
    env.push(("GOOGLE_CONNECTION_NAME".into(), "no-such-connection".into()));
    let out = gateway(env, &["setup"]).await;
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .contains("no Auth0 connection named \"no-such-connection\""),
        "{}",
        out.stderr
    );

    let mut env = setup_env(&fake, "http://chatgpt.com/oauth/client.json");
    env.retain(|(k, _)| k != "MGMT_CLIENT_SECRET");
    let out = gateway(env, &["setup"]).await;
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("MGMT_CLIENT_SECRET is required"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("CIMD_CLIENT_IDS entry `http://chatgpt.com/oauth/client.json`: Auth0 refuses it (not https)"), "{}", out.stderr);

    let out = gateway(setup_env(&fake, ""), &["setup", "--force"]).await;
    assert_eq!(out.status, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_each_missing_piece_on_a_blank_tenant_and_nothing_once_set_up() {
    let fake = blank_tenant().await;
    let blank = gateway(doctor_env(&fake), &["doctor"]).await;
    assert_eq!(blank.status, 1, "{}", blank.stdout);
    let out = &blank.stdout;
    for problem in [
        format!("[FAIL] API {RESOURCE}: absent, should be RS256, scopes docs.write search.read ("),
        "[FAIL] connection google-oauth2 is_domain_connection: false, should be true (".to_owned(),
        format!("[FAIL] default grant for third-party clients (user) on {RESOURCE}: absent, should be scopes docs.write search.read ("),
        "[FAIL] tenant setting resource_parameter_profile: audience, should be compatibility (".to_owned(),
        "[FAIL] tenant setting authorization_response_iss_parameter_supported: absent (false), should be true (".to_owned(),
        "[FAIL] tenant setting flags.enable_dynamic_client_registration: false, should be true (".to_owned(),
        "[warn] issuer identification: authorization_response_iss_parameter_supported is not true".to_owned(),
    ] {
        assert!(out.contains(&problem), "{problem}\n{out}");
    }
    assert_eq!(
        out.matches("fix: run `gateway setup` to see the plan, then `gateway setup --apply`")
            .count(),
        7,
        "{out}"
    );
    assert!(
        out.contains("[ok]   PKCE: code_challenge_methods_supported lists S256"),
        "{out}"
    );
    assert!(out.contains(&format!("[ok]   PRM authorization_servers: the gateway publishes `{}`, exactly the discovered issuer", fake.issuer())), "{out}");
    assert_eq!(writes(&fake), 0, "doctor only reads");

    let applied = gateway(setup_env(&fake, ""), &["setup", "--apply"]).await;
    assert_eq!(applied.status, 0, "{}", applied.stderr);
    let done = gateway(doctor_env(&fake), &["doctor"]).await;
    assert_eq!(done.status, 0, "{}", done.stdout);
    assert!(!done.stdout.contains("[FAIL]"), "{}", done.stdout);
    assert!(!done.stdout.contains("[warn]"), "{}", done.stdout);
    assert!(
        done.stdout.contains("doctor: every check passed"),
        "{}",
        done.stdout
    );
}
