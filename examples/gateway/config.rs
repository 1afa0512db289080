//! The gateway's configuration, read from the environment (the seeds' variable names) and checked
//! whole: every problem is reported in one start-up error, never one at a time and never at the
//! first request. Secrets are held in [`Secret`], whose `Debug` never shows them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use url::Url;

use crate::policy::GatewayPolicy;
use crate::rate_limit::settings::{self as rate_limit, RateLimitSettings};

mod client_auth;
mod limits;
mod values;
mod verification;

pub use client_auth::{ClientAuth, DEV_PUBLIC_TOOL};
pub use limits::Limits;

use values::{
    duration_ms, is_loopback_http, management_config, parse_backend_url, parse_http_url,
    parse_origins,
};
pub use verification::Verification;

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
    /// `DCR_ALLOWED_CALLBACKS`; `None` means ChatGPT's documented redirect URIs.
    pub allowed_callbacks: Option<tower_mcp_auth::auth0::CallbackAllowList>,
    /// `DCR_PROMOTE_FIRST_PARTY=true`: legacy DCR clients are made first-party (off by default).
    pub promote_first_party: bool,
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
    /// The resource exactly as configured (`RESOURCE_URL`, else the first `OAUTH_AUDIENCE`):
    /// the metadata's `resource`. `Url` would turn an origin-only `https://host` into
    /// `https://host/`, one character away from what clients were told.
    pub resource: Option<String>,
    /// How tokens are verified (issuers, audiences, algorithms, `typ`, introspection).
    pub verification: Verification,
    /// `FUNCTIONS_BASE`; in dev mode `None` means the built-in demo backend.
    pub functions_base: Option<Url>,
    pub mcp_upstream: Option<Url>,
    pub app_origin: Option<AllowedOrigins>,
    /// `GATEWAY_HMAC_SECRET`; in dev mode `None` means a random one is generated.
    pub hmac_secret: Option<Secret>,
    pub management: Option<ManagementConfig>,
    /// From `TOOL_SCOPES` / `REQUIRED_SCOPES` (dev mode without them: the demo tools' policy).
    pub policy: GatewayPolicy,
    /// Callers without a token and the challenge mode (`PUBLIC_*`, `AUTH_CHALLENGE`, …).
    pub client_auth: ClientAuth,
    pub debug_token_endpoint: bool,
    pub backend_timeout: Duration,
    pub jwks_probe_interval: Duration,
    /// `METRICS_ADDR`: where `/metrics` is served; `None` (the default) serves none.
    pub metrics_addr: Option<SocketAddr>,
    /// `AUDIT_LOG`: the library's audit events in the log.
    pub audit_log: bool,
    /// `RATE_LIMIT_PER_USER`, `RATE_LIMIT_PER_CLIENT`, `RATE_LIMIT_PER_TOOL`.
    pub rate_limits: RateLimitSettings,
    /// Header, request and concurrency limits, and what `/health/auth0` shows.
    pub limits: Limits,
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

        let issuers = get("OAUTH_ISSUER")
            .map(|raw| verification::comma_list(&raw))
            .unwrap_or_default();
        let audiences = get("OAUTH_AUDIENCE")
            .map(|raw| verification::comma_list(&raw))
            .unwrap_or_default();
        let resource_raw = get("RESOURCE_URL");
        let resource_url = resource_raw
            .as_deref()
            .and_then(|raw| parse_http_url("RESOURCE_URL", raw, &mut problems));
        let mode = match issuers.first() {
            None => Mode::Dev,
            Some(issuer) => {
                for issuer in &issuers {
                    if !(issuer.starts_with("https://") || is_loopback_http(issuer)) {
                        problems.push(format!(
                            "OAUTH_ISSUER `{issuer}` must be an https:// URL, e.g. https://YOUR_TENANT.us.auth0.com/"
                        ));
                    }
                }
                let audience = audiences.first().cloned().unwrap_or_else(|| {
                    problems.push(
                        "OAUTH_AUDIENCE is required with OAUTH_ISSUER: the Identifier of your Auth0 API"
                            .to_owned(),
                    );
                    String::new()
                });
                Mode::Production {
                    issuer: issuer.clone(),
                    audience,
                }
            }
        };
        let verification = verification::read(&get, issuers, audiences, &mut problems);
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

        let resource = match (&mode, &resource_url) {
            (_, Some(_)) => resource_raw,
            (Mode::Production { audience, .. }, None) => Some(audience.clone()),
            (Mode::Dev, None) => None,
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
            .and_then(|raw| parse_backend_url("FUNCTIONS_BASE", &raw, &mut problems));
        let mcp_upstream = get("MCP_UPSTREAM")
            .and_then(|raw| parse_backend_url("MCP_UPSTREAM", &raw, &mut problems));
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
        let limits = limits::limits(&get, production, backend_timeout, &mut problems);
        if let Some(format) = get("LOG_FORMAT")
            && format != "json"
            && format != "text"
        {
            problems.push(format!("LOG_FORMAT `{format}` must be `json` or `text`"));
        }

        let metrics_addr = get("METRICS_ADDR").and_then(|raw| {
            raw.parse()
                .map_err(|_| {
                    problems.push(format!(
                        "METRICS_ADDR `{raw}` is not an address like 127.0.0.1:9464"
                    ))
                })
                .ok()
        });
        let audit_log = match get("AUDIT_LOG").as_deref() {
            None | Some("0") | Some("false") => false,
            Some("1") | Some("true") => true,
            Some(other) => {
                problems.push(format!("AUDIT_LOG `{other}` must be true or false"));
                false
            }
        };
        let rate_limits = rate_limit::from_env(&get, &mut problems);

        let client_auth = client_auth::client_auth(&get, !production, &mut problems);
        let policy = crate::policy::from_values_with(
            get("TOOL_SCOPES").as_deref(),
            get("REQUIRED_SCOPES").as_deref(),
            get("UNKNOWN_TOOLS").as_deref(),
            get("ACTION_SCOPES").as_deref(),
            get(tower_mcp_auth::scope::SCOPE_IMPLIES).as_deref(),
            &client_auth,
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
            resource,
            verification,
            functions_base,
            mcp_upstream,
            app_origin,
            hmac_secret,
            management,
            policy,
            client_auth,
            debug_token_endpoint,
            backend_timeout,
            jwks_probe_interval,
            metrics_addr,
            audit_log,
            rate_limits,
            limits,
        };
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { problems })
        }
    }
}

#[cfg(test)]
mod tests;
