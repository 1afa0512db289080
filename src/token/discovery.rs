//! Finding an issuer's JWKS: the discovery document, and which URLs may be fetched at all.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::token::VerifierConfigError;

/// What the verifier needs from the issuer's metadata (OpenID Connect Discovery 1.0 §3,
/// RFC 8414 §2).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IssuerMetadata {
    pub(crate) issuer: String,
    /// Required by OpenID Connect Discovery, optional in RFC 8414 (an issuer of opaque tokens
    /// only may have none).
    pub(crate) jwks_uri: Option<String>,
    /// RFC 8414 §2 / RFC 7662 §4.
    pub(crate) introspection_endpoint: Option<String>,
}

/// Only `https://` URLs, except `http://` on loopback hosts (dev mode and tests).
pub(crate) fn require_secure_url(
    what: &'static str,
    raw: &str,
) -> Result<Url, VerifierConfigError> {
    let url = Url::parse(raw).map_err(|source| VerifierConfigError::InvalidUrl {
        what,
        url: raw.to_owned(),
        source: source.into(),
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(VerifierConfigError::InsecureUrl {
            what,
            url: raw.to_owned(),
        }),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The two places an issuer's metadata may live: OpenID Connect Discovery appends
/// `/.well-known/openid-configuration` to the issuer; RFC 8414 §3.1 inserts
/// `/.well-known/oauth-authorization-server` between host and path.
pub(crate) fn metadata_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut oidc = issuer.clone();
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    let mut oauth = issuer.clone();
    oauth.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    for url in [&mut oidc, &mut oauth] {
        url.set_query(None);
        url.set_fragment(None);
    }
    vec![oidc, oauth]
}

/// Fetches the issuer's metadata: OpenID configuration first, else RFC 8414 metadata.
pub(crate) async fn discover(
    client: &reqwest::Client,
    issuer: &Url,
    timeout: Duration,
) -> Result<IssuerMetadata, VerifierConfigError> {
    let mut failures = Vec::new();
    for url in metadata_urls(issuer) {
        match fetch_metadata(client, &url, timeout).await {
            Ok(metadata) => return Ok(metadata),
            Err(reason) => failures.push(format!("{url}: {reason}")),
        }
    }
    Err(VerifierConfigError::Discovery {
        issuer: issuer.to_string(),
        reasons: failures.join("; "),
    })
}

async fn fetch_metadata(
    client: &reqwest::Client,
    url: &Url,
    timeout: Duration,
) -> Result<IssuerMetadata, String> {
    let response = client
        .get(url.clone())
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not issuer metadata: {e}"))
}

/// Reconciles the configured issuer with the one the metadata names.
///
/// The `iss` claim is compared with the metadata's spelling (Auth0's ends in `/`, most issuers'
/// do not). A configured issuer that differs only by that trailing `/` is corrected, with a log
/// line; any other difference is an error (RFC 8414 §3.3: they must be identical).
pub(crate) fn reconcile_issuer(
    configured: &str,
    discovered: &str,
) -> Result<String, VerifierConfigError> {
    if configured == discovered {
        return Ok(discovered.to_owned());
    }
    if configured.trim_end_matches('/') == discovered.trim_end_matches('/') {
        tracing::info!(
            configured,
            discovered,
            "issuer differs from its discovery document only by a trailing '/'; using the \
             discovery document's spelling for the iss check"
        );
        return Ok(discovered.to_owned());
    }
    Err(VerifierConfigError::IssuerMismatch {
        configured: configured.to_owned(),
        discovered: discovered.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_for_root_and_path_issuers() {
        let root = Url::parse("https://tenant.auth0.com/").unwrap();
        let urls: Vec<String> = metadata_urls(&root).iter().map(Url::to_string).collect();
        assert_eq!(
            urls,
            [
                "https://tenant.auth0.com/.well-known/openid-configuration",
                "https://tenant.auth0.com/.well-known/oauth-authorization-server"
            ]
        );
        let path = Url::parse("https://idp.example/realms/main").unwrap();
        let urls: Vec<String> = metadata_urls(&path).iter().map(Url::to_string).collect();
        assert_eq!(
            urls,
            [
                "https://idp.example/realms/main/.well-known/openid-configuration",
                "https://idp.example/.well-known/oauth-authorization-server/realms/main"
            ]
        );
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(require_secure_url("issuer", "https://a.example/").is_ok());
        assert!(require_secure_url("issuer", "http://127.0.0.1:8080/").is_ok());
        assert!(require_secure_url("issuer", "http://localhost/").is_ok());
        assert!(require_secure_url("issuer", "http://[::1]:9/").is_ok());
        assert!(matches!(
            require_secure_url("issuer", "http://a.example/"),
            Err(VerifierConfigError::InsecureUrl { .. })
        ));
        assert!(matches!(
            require_secure_url("issuer", "http://127.0.0.1.nip.io/"),
            Err(VerifierConfigError::InsecureUrl { .. })
        ));
        assert!(matches!(
            require_secure_url("issuer", "not a url"),
            Err(VerifierConfigError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn trailing_slash_is_corrected_other_differences_are_not() {
        assert_eq!(
            reconcile_issuer("https://t.auth0.com", "https://t.auth0.com/").unwrap(),
            "https://t.auth0.com/"
        );
        assert_eq!(
            reconcile_issuer("https://idp/x/", "https://idp/x").unwrap(),
            "https://idp/x"
        );
        assert!(matches!(
            reconcile_issuer("https://a/", "https://b/"),
            Err(VerifierConfigError::IssuerMismatch { .. })
        ));
    }
}
