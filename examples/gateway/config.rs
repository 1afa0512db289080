//! The gateway's configuration, read from the environment (the seeds' variable names) and checked
//! whole: every problem is reported in one start-up error, never one at a time and never at the
//! first request. Secrets are held in [`Secret`], whose `Debug` never shows them.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use crate::policy::GatewayPolicy;

/// A secret value; `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (HMAC key, Management API call).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Least length of `GATEWAY_HMAC_SECRET` and `LOG_WEBHOOK_SECRET`: 32 characters (≈ 192 bits of
/// randomness when generated with `openssl rand -base64 32`).
pub const MIN_SECRET_LEN: usize = 32;

/// Where tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// No `OAUTH_ISSUER`: an embedded issuer and a demo backend on 127.0.0.1.
    Dev,
    /// A real issuer (Auth0).
    Production { issuer: String, audience: String },
}

/// Which origins CORS allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    Any,
    List(Vec<String>),
}

/// The Management API credentials and the log-stream secret: all set or none.
#[derive(Debug, Clone)]
pub struct ManagementConfig {
    pub domain: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub webhook_secret: Secret,
    /// Connections new ChatGPT clients are enabled on (`GOOGLE_CONNECTION_NAME`, comma list).
    pub connections: Vec<String>,
    /// `MGMT_BASE_URL`: where the token endpoint and the API live, if not `https://MGMT_DOMAIN`
    /// (an Auth0 custom domain, a local mock).
    pub base_url: Option<Url>,
}

impl ManagementConfig {
    /// The base of the token endpoint and the Management API.
    pub fn base(&self) -> String {
        match &self.base_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("https://{}", self.domain),
        }
    }
}

/// Everything the gateway reads at start-up.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub bind: IpAddr,
    pub port: u16,
    /// `RESOURCE_URL`; in dev mode `None` means `http://127.0.0.1:PORT/mcp` once bound.
    pub resource_url: Option<Url>,
    /// `FUNCTIONS_BASE`; in dev mode `None` means the built-in demo backend.
    pub functions_base: Option<Url>,
    pub mcp_upstream: Option<Url>,
    pub app_origin: Option<AllowedOrigins>,
    /// `GATEWAY_HMAC_SECRET`; in dev mode `None` means a random one is generated.
    pub hmac_secret: Option<Secret>,
    pub management: Option<ManagementConfig>,
    /// From `TOOL_SCOPES` / `REQUIRED_SCOPES` (dev mode without them: the demo tools' policy).
    pub policy: GatewayPolicy,
    pub debug_token_endpoint: bool,
    pub backend_timeout: Duration,
    pub jwks_probe_interval: Duration,
}

/// Every problem found in the environment, reported together.
#[derive(Debug)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the gateway configuration has {} problem(s):",
            self.problems.len()
        )?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        write!(f, "see .env.sample for every variable and its meaning")
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests). Empty
    /// values count as unset, as they do in most `.env` loaders.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();

        let issuer = get("OAUTH_ISSUER");
        let audience = get("OAUTH_AUDIENCE");
        let resource_url =
            get("RESOURCE_URL").and_then(|raw| parse_http_url("RESOURCE_URL", &raw, &mut problems));
        let mode = match issuer {
            None => Mode::Dev,
            Some(issuer) => {
                if !(issuer.starts_with("https://") || is_loopback_http(&issuer)) {
                    problems.push(format!(
                        "OAUTH_ISSUER `{issuer}` must be an https:// URL, e.g. https://YOUR_TENANT.us.auth0.com/"
                    ));
                }
                let audience = audience.clone().unwrap_or_else(|| {
                    problems.push(
                        "OAUTH_AUDIENCE is required with OAUTH_ISSUER: the Identifier of your Auth0 API"
                            .to_owned(),
                    );
                    String::new()
                });
                Mode::Production { issuer, audience }
            }
        };
        let production = mode != Mode::Dev;

        let bind = match get("BIND_ADDR") {
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                problems.push(format!("BIND_ADDR `{raw}` is not an IP address"));
                IpAddr::from([127, 0, 0, 1])
            }),
            None if production => IpAddr::from([0, 0, 0, 0]),
            None => IpAddr::from([127, 0, 0, 1]),
        };
        if !production && !bind.is_loopback() {
            problems.push(format!(
                "BIND_ADDR `{bind}`: dev mode (no OAUTH_ISSUER) listens on loopback only; set OAUTH_ISSUER to serve other hosts"
            ));
        }
        let port = match get("PORT") {
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                problems.push(format!("PORT `{raw}` is not a port number (0-65535)"));
                0
            }),
            None => 8080,
        };

        let resource_url = match (&mode, resource_url) {
            (_, Some(url)) => Some(url),
            // Auth0 API identifiers are usually the resource's URL (`https://host/mcp`).
            (Mode::Production { audience, .. }, None) => match Url::parse(audience) {
                Ok(url) if url.scheme() == "https" => Some(url),
                _ if audience.is_empty() => None,
                _ => {
                    problems.push(format!(
                        "RESOURCE_URL is required: OAUTH_AUDIENCE `{audience}` is not an https:// URL, so it cannot be the resource's public URL"
                    ));
                    None
                }
            },
            (Mode::Dev, None) => None,
        };

        let functions_base = get("FUNCTIONS_BASE")
            .and_then(|raw| parse_http_url("FUNCTIONS_BASE", &raw, &mut problems));
        let mcp_upstream =
            get("MCP_UPSTREAM").and_then(|raw| parse_http_url("MCP_UPSTREAM", &raw, &mut problems));
        // An invalid value was reported above; only a missing one is reported here.
        if production && get("FUNCTIONS_BASE").is_none() && get("MCP_UPSTREAM").is_none() {
            problems.push(
                "FUNCTIONS_BASE (or MCP_UPSTREAM) is required: where the tools are served"
                    .to_owned(),
            );
        }

        let hmac_secret = get("GATEWAY_HMAC_SECRET").map(Secret::new);
        match &hmac_secret {
            Some(secret) if secret.expose().len() < MIN_SECRET_LEN => problems.push(format!(
                "GATEWAY_HMAC_SECRET is shorter than {MIN_SECRET_LEN} characters; generate one with `openssl rand -base64 32`"
            )),
            None if production => problems.push(
                "GATEWAY_HMAC_SECRET is required: the backend checks X-Gateway-Signature with it; generate one with `openssl rand -base64 32`"
                    .to_owned(),
            ),
            _ => {}
        }

        let management = management_config(&get, &mut problems);

        let app_origin = get("APP_ORIGIN").map(|raw| parse_origins(&raw, &mut problems));
        let app_origin = match (app_origin, production) {
            (Some(origins), _) => Some(origins),
            (None, false) => Some(AllowedOrigins::Any),
            (None, true) => None,
        };

        let debug_token_endpoint = match get("DEBUG_TOKEN_ENDPOINT").as_deref() {
            None | Some("0") | Some("false") => false,
            Some("1") | Some("true") => true,
            Some(other) => {
                problems.push(format!("DEBUG_TOKEN_ENDPOINT `{other}` must be 1 or 0"));
                false
            }
        };
        let backend_timeout = duration_ms(&get, "BACKEND_TIMEOUT_MS", 30_000, &mut problems);
        let jwks_probe_interval =
            duration_ms(&get, "JWKS_PROBE_INTERVAL_MS", 60_000, &mut problems);
        if let Some(format) = get("LOG_FORMAT")
            && format != "json"
            && format != "text"
        {
            problems.push(format!("LOG_FORMAT `{format}` must be `json` or `text`"));
        }

        let policy = crate::policy::from_values(
            get("TOOL_SCOPES").as_deref(),
            get("REQUIRED_SCOPES").as_deref(),
            !production,
        )
        .unwrap_or_else(|problem| {
            problems.push(problem);
            GatewayPolicy::default()
        });

        let config = Self {
            mode,
            bind,
            port,
            resource_url,
            functions_base,
            mcp_upstream,
            app_origin,
            hmac_secret,
            management,
            policy,
            debug_token_endpoint,
            backend_timeout,
            jwks_probe_interval,
        };
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { problems })
        }
    }
}

fn management_config(
    get: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<String>,
) -> Option<ManagementConfig> {
    const NAMES: [&str; 4] = [
        "MGMT_DOMAIN",
        "MGMT_CLIENT_ID",
        "MGMT_CLIENT_SECRET",
        "LOG_WEBHOOK_SECRET",
    ];
    let values = NAMES.map(get);
    let set: Vec<&str> = NAMES
        .iter()
        .zip(&values)
        .filter_map(|(name, value)| value.as_ref().map(|_| *name))
        .collect();
    if set.is_empty() {
        return None;
    }
    if set.len() < NAMES.len() {
        let missing: Vec<&str> = NAMES
            .iter()
            .zip(&values)
            .filter_map(|(name, value)| value.is_none().then_some(*name))
            .collect();
        problems.push(format!(
            "the DCR webhook needs {} together: {} set but {} missing (set them all, or none to turn the webhook off)",
            NAMES.join(", "),
            set.join(", "),
            missing.join(", ")
        ));
        return None;
    }
    let [
        Some(domain),
        Some(client_id),
        Some(client_secret),
        Some(webhook_secret),
    ] = values
    else {
        return None;
    };
    // Accept `tenant.us.auth0.com` and `https://tenant.us.auth0.com/` alike.
    let domain = domain
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
    if domain.is_empty() || domain.contains('/') {
        problems.push(format!(
            "MGMT_DOMAIN `{domain}` must be a host name such as YOUR_TENANT.us.auth0.com"
        ));
    }
    if webhook_secret.len() < MIN_SECRET_LEN {
        problems.push(format!(
            "LOG_WEBHOOK_SECRET is shorter than {MIN_SECRET_LEN} characters; generate one with `openssl rand -base64 32`"
        ));
    }
    let connections = match get("GOOGLE_CONNECTION_NAME") {
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        None => {
            problems.push(
                "GOOGLE_CONNECTION_NAME is required with the DCR webhook: the connection new ChatGPT clients may log in with (usually google-oauth2)"
                    .to_owned(),
            );
            Vec::new()
        }
    };
    let base_url =
        get("MGMT_BASE_URL").and_then(|raw| parse_http_url("MGMT_BASE_URL", &raw, problems));
    Some(ManagementConfig {
        domain,
        client_id,
        client_secret: Secret::new(client_secret),
        webhook_secret: Secret::new(webhook_secret),
        connections,
        base_url,
    })
}

fn parse_http_url(name: &str, raw: &str, problems: &mut Vec<String>) -> Option<Url> {
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
        Ok(_) => {
            problems.push(format!("{name} `{raw}` must be an http(s):// URL"));
            None
        }
        Err(error) => {
            problems.push(format!("{name} `{raw}` is not a valid URL: {error}"));
            None
        }
    }
}

fn is_loopback_http(raw: &str) -> bool {
    Url::parse(raw).is_ok_and(|url| {
        url.scheme() == "http"
            && match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(domain)) => domain == "localhost",
                None => false,
            }
    })
}

fn parse_origins(raw: &str, problems: &mut Vec<String>) -> AllowedOrigins {
    if raw == "*" {
        return AllowedOrigins::Any;
    }
    let mut origins = Vec::new();
    for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        match Url::parse(origin) {
            // An origin is scheme://host[:port], nothing more.
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.path() == "/"
                    && !origin.ends_with('/') =>
            {
                origins.push(origin.to_owned());
            }
            _ => problems.push(format!(
                "APP_ORIGIN entry `{origin}` is not an origin like https://chatgpt.com (or use *)"
            )),
        }
    }
    AllowedOrigins::List(origins)
}

fn duration_ms(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default_ms: u64,
    problems: &mut Vec<String>,
) -> Duration {
    match get(name) {
        None => Duration::from_millis(default_ms),
        Some(raw) => match raw.parse::<u64>() {
            Ok(ms) if ms > 0 => Duration::from_millis(ms),
            _ => {
                problems.push(format!(
                    "{name} `{raw}` must be a positive number of milliseconds"
                ));
                Duration::from_millis(default_ms)
            }
        },
    }
}

#[cfg(test)]
mod tests {
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
}
