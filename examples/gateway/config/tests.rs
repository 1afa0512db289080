//! The configuration as start-up reads it: defaults, every problem at once, no secret shown.

use std::collections::HashMap;

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn empty_environment_is_dev_mode_on_loopback() {
    let config = config(&[]).unwrap();
    assert_eq!(config.mode, Mode::Dev);
    assert_eq!(config.bind, IpAddr::from([127, 0, 0, 1]));
    assert_eq!(config.port, 8080);
    assert_eq!(config.app_origin, Some(AllowedOrigins::Any));
    assert!(!config.debug_token_endpoint);
}

#[test]
fn every_problem_is_listed_at_once() {
    let error = config(&[
        ("OAUTH_ISSUER", "https://tenant.example.com/"),
        ("PORT", "eighty"),
        ("MGMT_DOMAIN", "tenant.example.com"),
        ("APP_ORIGIN", "https://chatgpt.com/path"),
    ])
    .unwrap_err();
    assert_eq!(
        error.problems,
        [
            "OAUTH_AUDIENCE is required with OAUTH_ISSUER: the Identifier of your Auth0 API",
            "PORT `eighty` is not a port number (0-65535)",
            "FUNCTIONS_BASE (or MCP_UPSTREAM) is required: where the tools are served",
            "GATEWAY_HMAC_SECRET is required: the backend checks X-Gateway-Signature with it; generate one with `openssl rand -base64 32`",
            "the DCR webhook needs MGMT_DOMAIN, MGMT_CLIENT_ID, MGMT_CLIENT_SECRET, LOG_WEBHOOK_SECRET together: MGMT_DOMAIN set but MGMT_CLIENT_ID, MGMT_CLIENT_SECRET, LOG_WEBHOOK_SECRET missing (set them all, or none to turn the webhook off)",
            "APP_ORIGIN entry `https://chatgpt.com/path` is not an origin like https://chatgpt.com (or use *)",
        ]
    );
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let config = config(&[
        ("OAUTH_ISSUER", "https://tenant.example.com/"),
        ("OAUTH_AUDIENCE", "https://api.example.com/mcp"),
        ("FUNCTIONS_BASE", "https://functions.example.com"),
        (
            "GATEWAY_HMAC_SECRET",
            "hmac-secret-0123456789abcdefghijklmnop",
        ),
        ("MGMT_DOMAIN", "tenant.example.com"),
        ("MGMT_CLIENT_ID", "m2m-client"),
        ("MGMT_CLIENT_SECRET", "mgmt-secret-value"),
        ("LOG_WEBHOOK_SECRET", "webhook-secret-0123456789abcdefghijk"),
        ("GOOGLE_CONNECTION_NAME", "google-oauth2"),
    ])
    .unwrap();
    let debug = format!("{config:?}");
    for secret in ["hmac-secret", "mgmt-secret-value", "webhook-secret"] {
        assert!(!debug.contains(secret), "{secret} leaked in {debug}");
    }
    assert!(debug.contains("[redacted]"));
    // The audience is an https URL: it is the resource URL unless RESOURCE_URL says otherwise.
    assert_eq!(
        config.resource_url.unwrap().as_str(),
        "https://api.example.com/mcp"
    );
    assert_eq!(config.bind, IpAddr::from([0, 0, 0, 0]));
}

#[test]
fn dev_mode_refuses_a_public_bind_address() {
    let error = config(&[("BIND_ADDR", "0.0.0.0")]).unwrap_err();
    assert_eq!(
        error.problems,
        [
            "BIND_ADDR `0.0.0.0`: dev mode (no OAUTH_ISSUER) listens on loopback only; set OAUTH_ISSUER to serve other hosts"
        ]
    );
}

#[test]
fn short_secrets_are_refused() {
    let error = config(&[("GATEWAY_HMAC_SECRET", "short")]).unwrap_err();
    assert_eq!(
        error.problems,
        [
            "GATEWAY_HMAC_SECRET is shorter than 32 characters; generate one with `openssl rand -base64 32`"
        ]
    );
}

fn webhook_env(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut vars = vec![
        ("OAUTH_ISSUER", "https://tenant.example.com/"),
        ("OAUTH_AUDIENCE", "https://api.example.com/mcp"),
        ("FUNCTIONS_BASE", "https://functions.example.com"),
        (
            "GATEWAY_HMAC_SECRET",
            "hmac-secret-0123456789abcdefghijklmnop",
        ),
        ("MGMT_DOMAIN", "tenant.example.com"),
        ("MGMT_CLIENT_ID", "m2m-client"),
        ("MGMT_CLIENT_SECRET", "mgmt-secret-value"),
        ("LOG_WEBHOOK_SECRET", "webhook-secret-0123456789abcdefghijk"),
        ("GOOGLE_CONNECTION_NAME", "google-oauth2"),
    ];
    vars.extend_from_slice(extra);
    vars
}

#[test]
fn dcr_callbacks_default_to_chatgpt_and_first_party_is_off() {
    let management = config(&webhook_env(&[])).unwrap().management.unwrap();
    assert_eq!(management.allowed_callbacks, None);
    assert!(!management.promote_first_party);
}

#[test]
fn dcr_allowed_callbacks_and_the_first_party_opt_in_are_read() {
    let management = config(&webhook_env(&[
        (
            "DCR_ALLOWED_CALLBACKS",
            "https://chatgpt.com/connector/oauth/*, https://claude.ai/api/mcp/auth_callback",
        ),
        ("DCR_PROMOTE_FIRST_PARTY", "true"),
    ]))
    .unwrap()
    .management
    .unwrap();
    let list = management.allowed_callbacks.unwrap();
    assert!(list.allows("https://claude.ai/api/mcp/auth_callback"));
    assert!(list.allows("https://chatgpt.com/connector/oauth/abc123"));
    assert!(!list.allows("https://chatgpt.com/connector_platform_oauth_redirect"));
    assert!(management.promote_first_party);
}

#[test]
fn dcr_allowed_callbacks_with_a_wildcard_host_or_an_empty_list_is_a_problem() {
    let error = config(&webhook_env(&[
        ("DCR_ALLOWED_CALLBACKS", "https://*.chatgpt.com/cb"),
        ("DCR_PROMOTE_FIRST_PARTY", "yes"),
    ]))
    .unwrap_err();
    assert_eq!(
        error.problems,
        [
            "DCR_ALLOWED_CALLBACKS: callback pattern \"https://*.chatgpt.com/cb\": `*` is allowed only as the whole last path segment",
            "DCR_PROMOTE_FIRST_PARTY `yes` must be true or false",
        ]
    );
    let error = config(&webhook_env(&[("DCR_ALLOWED_CALLBACKS", " , ")])).unwrap_err();
    assert_eq!(
        error.problems,
        [
            "DCR_ALLOWED_CALLBACKS is empty: it would allow no client; unset it for ChatGPT's redirect URIs"
        ]
    );
}
