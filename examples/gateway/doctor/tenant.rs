//! The tenant-wide set-up, from the outside: what the authorization server's discovery shows
//! (PKCE S256, CIMD as intended, RFC 9207 `iss`, the PRM `authorization_servers` entry against
//! the discovered `issuer`), and every piece `gateway setup` plans (read-only: the plan is made,
//! never applied). Each problem comes with its fix.

use serde_json::Value;
use tower_mcp_auth::ClientSecret;
use tower_mcp_auth::auth0::tenant_setup::Action;
use tower_mcp_auth::auth0::{ManagementClient, TenantSetup, TenantSetupError};

use super::Report;
use crate::config::{Config, Mode};

const RUN_SETUP: &str = "run `gateway setup` to see the plan, then `gateway setup --apply`";

pub(super) async fn check_tenant(
    report: &mut Report,
    client: &reqwest::Client,
    config: &Config,
    published_issuer: Option<&str>,
) {
    let Mode::Production { issuer, audience } = &config.mode else {
        return;
    };
    let intent = match crate::setup::env::intent(&|name| std::env::var(name).ok()) {
        Ok(intent) => intent,
        Err(problem) => {
            report.fail(
                "set-up intent",
                problem,
                "fix the variable (see .env.sample)",
            );
            return;
        }
    };
    check_discovery(
        report,
        client,
        issuer,
        published_issuer,
        !intent.cimd_urls.is_empty(),
    )
    .await;
    let Some(management) = &config.management else {
        report.skip(
            "tenant set-up",
            "MGMT_* not set: the API, connection, default grant and tenant settings need the Management API",
        );
        return;
    };
    let resource = config
        .resource_url
        .as_ref()
        .map(|u| u.as_str().to_owned())
        .unwrap_or_else(|| audience.clone());
    if resource != *audience {
        report.fail(
            "tenant set-up",
            format!("RESOURCE_URL `{resource}` is not OAUTH_AUDIENCE `{audience}`"),
            "ChatGPT's `resource` selects the API only when its Identifier is the resource URL: \
             make them equal, or set the tenant's Default Audience (README, manual set-up)",
        );
        return;
    }
    let mut mgmt = ManagementClient::builder(management.domain.clone()).client_credentials(
        management.client_id.clone(),
        ClientSecret::new(management.client_secret.expose()),
    );
    if let Some(base) = &management.base_url {
        mgmt = mgmt.base_url(base.as_str());
    }
    let setup = mgmt
        .build()
        .map_err(|e| TenantSetupError::Config(e.to_string()))
        .and_then(|mgmt| {
            TenantSetup::builder(mgmt, &config.policy.policy, resource)
                .connections(management.connections.iter().cloned())
                .cimd_client_ids(intent.cimd_urls)
                .dynamic_client_registration(intent.dcr)
                .default_grant(intent.default_grant)
                .build()
        });
    let plan = match setup {
        Ok(setup) => setup.plan().await,
        Err(error) => Err(error),
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(TenantSetupError::MissingScopes { missing }) => {
            let names: Vec<String> = missing.iter().map(ToString::to_string).collect();
            report.fail(
                "Management API scopes (set-up)",
                format!("missing {}", names.join(", ")),
                "Applications → APIs → Auth0 Management API → Machine to Machine Applications: grant them to the M2M app",
            );
            return;
        }
        Err(error) => {
            report.fail(
                "tenant set-up",
                error.to_string(),
                "see the README, Auth0 set-up",
            );
            return;
        }
    };
    report.ok("registration", plan.registration.to_string());
    for missing in &plan.missing_scopes {
        report.fail(
            "Management API scopes (set-up)",
            format!("missing {missing}"),
            "grant it to the M2M app, or make the change by hand (README, manual set-up)",
        );
    }
    for change in &plan.changes {
        match change.action {
            Action::AlreadyRight => report.ok(&change.target, &change.now),
            // Create, Change, and any action a later version plans.
            _ => report.fail(
                &change.target,
                format!(
                    "{}, should be {} ({})",
                    change.now, change.will_be, change.why
                ),
                RUN_SETUP,
            ),
        }
    }
    for warning in &plan.warnings {
        report.warn("tenant", warning, "see the README, Auth0 set-up");
    }
}

async fn check_discovery(
    report: &mut Report,
    client: &reqwest::Client,
    issuer: &str,
    published_issuer: Option<&str>,
    cimd_intended: bool,
) {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let metadata: Value = match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => {
            response.json().await.unwrap_or(Value::Null)
        }
        // The issuer check above already failed with its fix.
        _ => return,
    };
    let s256 = metadata["code_challenge_methods_supported"]
        .as_array()
        .is_some_and(|m| m.iter().any(|v| v == "S256"));
    if s256 {
        report.ok("PKCE", "code_challenge_methods_supported lists S256");
    } else {
        report.fail(
            "PKCE",
            "code_challenge_methods_supported does not list S256: MCP clients refuse such an authorization server",
            "OAUTH_ISSUER must be the Auth0 tenant (Auth0 always supports S256)",
        );
    }
    let cimd = metadata["client_id_metadata_document_supported"] == true;
    match (cimd, cimd_intended) {
        (true, true) => report.ok("CIMD", "client_id_metadata_document_supported: true"),
        (false, false) => report.ok("CIMD", "not advertised (no CIMD_CLIENT_IDS)"),
        (false, true) => report.fail(
            "CIMD",
            "CIMD_CLIENT_IDS is set but the metadata does not advertise CIMD",
            RUN_SETUP,
        ),
        (true, false) => report.warn(
            "CIMD",
            "advertised, but no CIMD_CLIENT_IDS: ChatGPT then uses CIMD and skips DCR, and an unregistered CIMD URL cannot log in",
            "set CIMD_CLIENT_IDS=https://chatgpt.com/oauth/client.json and run `gateway setup --apply`, or turn the tenant's CIMD toggle off",
        ),
    }
    if metadata["authorization_response_iss_parameter_supported"] == true {
        report.ok(
            "issuer identification",
            "authorization_response_iss_parameter_supported: true",
        );
    } else {
        report.warn(
            "issuer identification",
            "authorization_response_iss_parameter_supported is not true: ChatGPT then uses a per-connector redirect and CIMD URL",
            RUN_SETUP,
        );
    }
    let Some(discovered) = metadata["issuer"].as_str() else {
        return;
    };
    match published_issuer {
        Some(published) if published == discovered => report.ok(
            "PRM authorization_servers",
            format!("the gateway publishes `{published}`, exactly the discovered issuer"),
        ),
        Some(published) => report.fail(
            "PRM authorization_servers",
            format!("the gateway publishes `{published}`, the discovery says `{discovered}`: clients compare them byte for byte"),
            "set OAUTH_ISSUER to the issuer exactly as discovery spells it (Auth0: with the trailing /)",
        ),
        None => report.skip("PRM authorization_servers", "the token verifier did not start"),
    }
}
