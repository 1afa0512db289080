//! Reading single values: URLs, origins, durations, and the Management API group.

use std::time::Duration;

use tower_mcp_auth::auth0::CallbackAllowList;
use url::Url;

use super::{AllowedOrigins, MIN_SECRET_LEN, ManagementConfig, Secret};

pub(super) fn management_config(
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
    let allowed_callbacks =
        get("DCR_ALLOWED_CALLBACKS").map(|raw| allowed_callbacks(&raw, problems));
    let promote_first_party = match get("DCR_PROMOTE_FIRST_PARTY").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            problems.push(format!(
                "DCR_PROMOTE_FIRST_PARTY `{other}` must be true or false"
            ));
            false
        }
    };
    Some(ManagementConfig {
        domain,
        client_id,
        client_secret: Secret::new(client_secret),
        webhook_secret: Secret::new(webhook_secret),
        connections,
        base_url,
        allowed_callbacks,
        promote_first_party,
    })
}

/// `DCR_ALLOWED_CALLBACKS`: a comma list of callback patterns (`*` only as a whole last path
/// segment), replacing ChatGPT's documented redirect URIs.
fn allowed_callbacks(raw: &str, problems: &mut Vec<String>) -> CallbackAllowList {
    let patterns: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if patterns.is_empty() {
        problems.push(
            "DCR_ALLOWED_CALLBACKS is empty: it would allow no client; unset it for ChatGPT's redirect URIs".to_owned(),
        );
    }
    CallbackAllowList::new(&patterns).unwrap_or_else(|e| {
        problems.push(format!("DCR_ALLOWED_CALLBACKS: {e}"));
        CallbackAllowList::chatgpt()
    })
}

pub(super) fn parse_http_url(name: &str, raw: &str, problems: &mut Vec<String>) -> Option<Url> {
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

/// A backend URL (`FUNCTIONS_BASE`, `MCP_UPSTREAM`): `https://`, or `http://` on loopback only.
/// The signed identity and the body cross this hop; over plain HTTP anyone on the path could
/// read and replay them (security review finding 9).
pub(super) fn parse_backend_url(name: &str, raw: &str, problems: &mut Vec<String>) -> Option<Url> {
    let url = parse_http_url(name, raw, problems)?;
    if url.scheme() == "https" || is_loopback_http(url.as_str()) {
        return Some(url);
    }
    problems.push(format!(
        "{name} `{}` must be an https:// URL (plain http:// only on loopback: 127.0.0.1, [::1], localhost)",
        crate::proxy::redacted(&url)
    ));
    None
}

pub(super) fn is_loopback_http(raw: &str) -> bool {
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

pub(super) fn parse_origins(raw: &str, problems: &mut Vec<String>) -> AllowedOrigins {
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

pub(super) fn duration_ms(
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
