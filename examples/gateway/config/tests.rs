//! The configuration as start-up reads it: defaults, every problem at once, no secret shown.

use std::collections::HashMap;

use super::*;
use tower_mcp_auth::token::{Algorithm, TokenTypePolicy};

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

fn production(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut vars = vec![
        ("OAUTH_ISSUER", "https://tenant.example.com/"),
        ("OAUTH_AUDIENCE", "https://gateway.example.com/mcp"),
        ("GATEWAY_HMAC_SECRET", "0123456789abcdef0123456789abcdef"),
    ];
    vars.extend_from_slice(extra);
    config(&vars)
}

#[test]
fn backends_must_be_https_except_on_loopback() {
    for ok in [
        "https://functions.example.com/api",
        "http://127.0.0.1:8081/fn",
        "http://localhost:8081/fn",
        "http://[::1]:8081/fn",
    ] {
        let config = production(&[("FUNCTIONS_BASE", ok), ("MCP_UPSTREAM", ok)]).unwrap();
        assert_eq!(
            config.functions_base.unwrap().as_str(),
            Url::parse(ok).unwrap().as_str()
        );
    }
    let error = production(&[
        (
            "FUNCTIONS_BASE",
            "http://user:pa55word@backend.internal:8080/fn?k=v",
        ),
        ("MCP_UPSTREAM", "http://10.0.0.7/mcp"),
    ])
    .unwrap_err();
    assert_eq!(
        error.problems,
        [
            "FUNCTIONS_BASE `http://backend.internal:8080/fn` must be an https:// URL (plain http:// only on loopback: 127.0.0.1, [::1], localhost)",
            "MCP_UPSTREAM `http://10.0.0.7/mcp` must be an https:// URL (plain http:// only on loopback: 127.0.0.1, [::1], localhost)",
        ]
    );
}

#[test]
fn limits_have_defaults_and_health_details_are_hidden_in_production() {
    let config = production(&[("FUNCTIONS_BASE", "https://fn.example.com")]).unwrap();
    assert_eq!(
        config.limits,
        Limits {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_concurrent_requests: 1024,
            health_details: false,
        }
    );
    assert!(self::config(&[]).unwrap().limits.health_details);
    let error = production(&[
        ("FUNCTIONS_BASE", "https://fn.example.com"),
        ("BACKEND_TIMEOUT_MS", "5000"),
        ("REQUEST_TIMEOUT_MS", "5000"),
        ("MAX_CONCURRENT_REQUESTS", "0"),
        ("HEALTH_DETAILS", "yes"),
    ])
    .unwrap_err();
    assert_eq!(
        error.problems,
        [
            "REQUEST_TIMEOUT_MS (5000 ms) must be longer than BACKEND_TIMEOUT_MS (5000 ms), or a slow backend's 504 would never be seen",
            "MAX_CONCURRENT_REQUESTS `0` must be a positive number",
            "HEALTH_DETAILS `yes` must be `public` or `hidden`",
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

#[test]
fn issuers_and_audiences_are_comma_lists_and_the_first_is_primary() {
    let config = config(&[
        (
            "OAUTH_ISSUER",
            "https://tenant.example.com/, https://login.example.com/",
        ),
        (
            "OAUTH_AUDIENCE",
            "https://new.example.com, https://old.example.com/mcp",
        ),
        ("FUNCTIONS_BASE", "https://functions.example.com"),
        (
            "GATEWAY_HMAC_SECRET",
            "hmac-secret-0123456789abcdefghijklmnop",
        ),
    ])
    .unwrap();
    assert_eq!(
        config.mode,
        Mode::Production {
            issuer: "https://tenant.example.com/".into(),
            audience: "https://new.example.com".into()
        }
    );
    assert_eq!(config.verification.issuers.len(), 2);
    assert_eq!(
        config.verification.audiences[1],
        "https://old.example.com/mcp"
    );
    // The metadata's resource is the configured string, without the `/` a `Url` adds.
    assert_eq!(config.resource.as_deref(), Some("https://new.example.com"));
    assert_eq!(
        config.resource_url.unwrap().as_str(),
        "https://new.example.com/"
    );
}

#[test]
fn algorithms_typ_and_introspection_are_read_and_checked() {
    let base = [
        ("OAUTH_ISSUER", "https://tenant.example.com/"),
        ("OAUTH_AUDIENCE", "https://api.example.com/mcp"),
        ("FUNCTIONS_BASE", "https://functions.example.com"),
        (
            "GATEWAY_HMAC_SECRET",
            "hmac-secret-0123456789abcdefghijklmnop",
        ),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut vars = base.to_vec();
        vars.extend_from_slice(extra);
        config(&vars)
    };
    let defaults = with(&[]).unwrap().verification;
    assert_eq!(defaults.algorithms, [Algorithm::RS256]);
    assert_eq!(defaults.token_type, TokenTypePolicy::Any);
    assert!(defaults.introspection.is_none());

    let set = with(&[
        ("OAUTH_ALGORITHMS", "RS256, PS256,ES256"),
        ("OAUTH_TOKEN_TYP", "at+jwt"),
        ("OAUTH_INTROSPECTION", "true"),
        ("OAUTH_INTROSPECTION_CLIENT_ID", "rs"),
        ("OAUTH_INTROSPECTION_CLIENT_SECRET", "introspection-secret"),
    ])
    .unwrap();
    assert_eq!(
        set.verification.algorithms,
        [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256]
    );
    assert_eq!(set.verification.token_type, TokenTypePolicy::AccessTokenJwt);
    assert!(!format!("{set:?}").contains("introspection-secret"));
    let listed = with(&[("OAUTH_TOKEN_TYP", "at+jwt, JWT")]).unwrap();
    assert_eq!(
        listed.verification.token_type,
        TokenTypePolicy::OneOf(vec!["at+jwt".into(), "JWT".into()])
    );

    let error = with(&[
        ("OAUTH_ALGORITHMS", "HS256,RS256"),
        ("OAUTH_INTROSPECTION", "true"),
    ])
    .unwrap_err();
    assert_eq!(error.problems.len(), 2, "{:?}", error.problems);
    assert!(error.problems[0].starts_with("OAUTH_ALGORITHMS: `HS256` is an HMAC algorithm"));
    assert!(error.problems[1].contains("OAUTH_INTROSPECTION_CLIENT_ID"));
}
