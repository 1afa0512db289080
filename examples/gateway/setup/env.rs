//! What `gateway setup` (and the tenant part of `gateway doctor`) read from the environment: the
//! gateway's own variables (`MGMT_*`, `OAUTH_AUDIENCE` / `RESOURCE_URL`, `TOOL_SCOPES` /
//! `REQUIRED_SCOPES`, `GOOGLE_CONNECTION_NAME`) plus `CIMD_CLIENT_IDS` and `ENABLE_DCR`. It needs
//! neither the backend nor the webhook secret: the set-up runs before the gateway is deployed.

use tower_mcp_auth::ScopePolicy;
use url::Url;

use crate::config::Secret;

/// The set-up's configuration.
#[derive(Debug, Clone)]
pub struct SetupEnv {
    pub domain: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub base_url: Option<String>,
    /// The API Identifier = the resource URL.
    pub resource: String,
    pub policy: ScopePolicy,
    pub connections: Vec<String>,
    /// CIMD URLs to register (`CIMD_CLIENT_IDS`, comma list; empty = none).
    pub cimd_urls: Vec<String>,
    /// `ENABLE_DCR` (default on).
    pub dcr: bool,
    /// `DEFAULT_THIRD_PARTY_GRANT` (default on): whether the set-up manages the default grant.
    pub default_grant: bool,
}

fn list(raw: Option<String>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What the operator intends beyond the gateway's own variables.
#[derive(Debug, Clone)]
pub struct Intent {
    /// `CIMD_CLIENT_IDS`.
    pub cimd_urls: Vec<String>,
    /// `ENABLE_DCR`.
    pub dcr: bool,
    /// `DEFAULT_THIRD_PARTY_GRANT`.
    pub default_grant: bool,
}

/// Reads the intent: CIMD URLs, DCR on/off, the default grant managed or not.
pub fn intent(lookup: &impl Fn(&str) -> Option<String>) -> Result<Intent, String> {
    let get = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let flag = |name: &str| match get(name).as_deref() {
        None | Some("1" | "true") => Ok(true),
        Some("0" | "false") => Ok(false),
        Some(other) => Err(format!("{name} `{other}` must be 1 or 0")),
    };
    Ok(Intent {
        cimd_urls: list(get("CIMD_CLIENT_IDS")),
        dcr: flag("ENABLE_DCR")?,
        default_grant: flag("DEFAULT_THIRD_PARTY_GRANT")?,
    })
}

impl SetupEnv {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Vec<String>> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup`; every problem is reported together.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();
        let mut required = |name: &str, why: &str| {
            get(name).unwrap_or_else(|| {
                problems.push(format!("{name} is required: {why}"));
                String::new()
            })
        };
        let domain = required(
            "MGMT_DOMAIN",
            "the tenant whose Management API the set-up uses",
        );
        let client_id = required(
            "MGMT_CLIENT_ID",
            "the Machine-to-Machine application's client id",
        );
        let client_secret = Secret::new(required(
            "MGMT_CLIENT_SECRET",
            "the Machine-to-Machine application's secret",
        ));
        let domain = domain
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        let resource = match (get("RESOURCE_URL"), get("OAUTH_AUDIENCE")) {
            (Some(resource), Some(audience)) if resource != audience => {
                problems.push(format!(
                    "RESOURCE_URL `{resource}` and OAUTH_AUDIENCE `{audience}` differ: ChatGPT's \
                     `resource` selects the API only when the Identifier is the resource URL; \
                     make them equal, or set the tenant's Default Audience by hand (README, \
                     manual set-up) instead of running the set-up"
                ));
                resource
            }
            (Some(url), _) | (None, Some(url)) => url,
            (None, None) => {
                problems.push(
                    "OAUTH_AUDIENCE (or RESOURCE_URL) is required: the resource URL, which \
                     becomes the API Identifier"
                        .to_owned(),
                );
                String::new()
            }
        };
        if !resource.is_empty() && !Url::parse(&resource).is_ok_and(|u| u.scheme() == "https") {
            problems.push(format!(
                "the resource `{resource}` must be an https:// URL (RFC 8707 `resource`)"
            ));
        }
        // The scopes as the gateway reads them; which operations are public does not change
        // the scopes the API and the default grant must hold.
        let policy = crate::policy::from_values_with(
            get("TOOL_SCOPES").as_deref(),
            get("REQUIRED_SCOPES").as_deref(),
            get("UNKNOWN_TOOLS").as_deref(),
            get("ACTION_SCOPES").as_deref(),
            get(tower_mcp_auth::scope::SCOPE_IMPLIES).as_deref(),
            &crate::config::ClientAuth::default(),
            false,
        )
        .map(|gateway| gateway.policy)
        .unwrap_or_else(|problem| {
            problems.push(problem);
            ScopePolicy::allow_all()
        });
        let connections = list(get("GOOGLE_CONNECTION_NAME"));
        if connections.is_empty() {
            problems.push(
                "GOOGLE_CONNECTION_NAME is required: the connection users log in with (usually \
                 google-oauth2), promoted to domain level for third-party clients"
                    .to_owned(),
            );
        }
        let Intent {
            cimd_urls,
            dcr,
            default_grant,
        } = intent(&lookup).unwrap_or_else(|problem| {
            problems.push(problem);
            Intent {
                cimd_urls: Vec::new(),
                dcr: true,
                default_grant: true,
            }
        });
        for url in &cimd_urls {
            if let Err(rule) = tower_mcp_auth::auth0::tenant_setup::check_cimd_url(url) {
                problems.push(format!(
                    "CIMD_CLIENT_IDS entry `{url}`: Auth0 refuses it ({rule})"
                ));
            }
        }
        let base_url = get("MGMT_BASE_URL");
        if problems.is_empty() {
            Ok(Self {
                domain,
                client_id,
                client_secret,
                base_url,
                resource,
                policy,
                connections,
                cimd_urls,
                dcr,
                default_grant,
            })
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const BASE: [(&str, &str); 5] = [
        ("MGMT_DOMAIN", "t.us.auth0.com"),
        ("MGMT_CLIENT_ID", "id"),
        ("MGMT_CLIENT_SECRET", "secret"),
        ("OAUTH_AUDIENCE", "https://gw.example.com/mcp"),
        ("GOOGLE_CONNECTION_NAME", "google-oauth2"),
    ];

    #[test]
    fn reads_the_gateway_variables_and_the_cimd_list() {
        let mut vars = BASE.to_vec();
        vars.push(("TOOL_SCOPES", "search=s.read"));
        vars.push((
            "CIMD_CLIENT_IDS",
            "https://chatgpt.com/oauth/client.json, https://claude.ai/oauth/mcp-oauth-client-metadata",
        ));
        let env = SetupEnv::from_lookup(env(&vars)).expect("valid");
        assert_eq!(env.resource, "https://gw.example.com/mcp");
        assert_eq!(env.policy.all_scopes(), ["s.read"]);
        assert_eq!(env.cimd_urls.len(), 2);
        assert!(env.dcr);
        assert!(!format!("{env:?}").contains("secret\""));
    }

    #[test]
    fn every_problem_is_named() {
        let problems = SetupEnv::from_lookup(env(&[
            ("RESOURCE_URL", "https://a.example.com/mcp"),
            ("OAUTH_AUDIENCE", "https://b.example.com/mcp"),
            ("CIMD_CLIENT_IDS", "http://chatgpt.com/oauth/client.json"),
            ("ENABLE_DCR", "maybe"),
        ]))
        .expect_err("invalid");
        let text = problems.join("\n");
        for needle in [
            "MGMT_DOMAIN is required",
            "RESOURCE_URL `https://a.example.com/mcp` and OAUTH_AUDIENCE",
            "GOOGLE_CONNECTION_NAME is required",
            "ENABLE_DCR `maybe` must be 1 or 0",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }
}
