//! [`ProtectedResourceMetadata`] (RFC 9728 §2) and the well-known URL it is served at (§3.1).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

/// The well-known URI suffix of protected resource metadata (RFC 9728 §3).
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// A protected resource's metadata, RFC 9728 §2. Unset fields are omitted from the JSON;
/// [`extra`](Self::extra) holds any other member (e.g. a per-tool `scopes` map, or
/// `resource_name#ja` for a localized name).
///
/// ```
/// use tower_mcp_auth::ProtectedResourceMetadata;
///
/// let metadata = ProtectedResourceMetadata::new("https://api.example.com/mcp")
///     .authorization_server("https://tenant.example.com/")
///     .resource_name("Example MCP");
/// assert_eq!(
///     serde_json::to_value(&metadata).unwrap(),
///     serde_json::json!({
///         "resource": "https://api.example.com/mcp",
///         "authorization_servers": ["https://tenant.example.com/"],
///         "resource_name": "Example MCP"
///     })
/// );
/// assert_eq!(
///     metadata.metadata_url().unwrap(),
///     "https://api.example.com/.well-known/oauth-protected-resource/mcp"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// The protected resource's identifier: the URL clients use (and ask tokens for, RFC 8707).
    pub resource: String,
    /// Issuer identifiers of the authorization servers that issue tokens for this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_servers: Option<Vec<String>>,
    /// URL of the resource's own JWK Set (keys it signs responses with), not the issuer's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The scopes used in authorization requests for this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes_supported: Option<Vec<String>>,
    /// How bearer tokens may be sent: `header`, `body`, `query` (RFC 6750).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_methods_supported: Option<Vec<String>>,
    /// JWS algorithms the resource signs responses with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_signing_alg_values_supported: Option<Vec<String>>,
    /// A human-readable name of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// URL of documentation for developers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// URL of the policy on how client data is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_policy_uri: Option<String>,
    /// URL of the terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_tos_uri: Option<String>,
    /// Whether the resource supports mutual-TLS client-certificate-bound tokens (RFC 8705).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    /// `authorization_details` types the resource understands (RFC 9396).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details_types_supported: Option<Vec<String>>,
    /// JWS algorithms accepted for DPoP proofs (RFC 9449).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// Whether the resource always requires DPoP-bound tokens (RFC 9449).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens_required: Option<bool>,
    /// A JWT holding these metadata values, signed by the resource (RFC 9728 §2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_metadata: Option<String>,
    /// Any other member, serialized at the top level.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ProtectedResourceMetadata {
    /// Metadata for the resource `resource` with every optional field unset.
    pub fn new(resource: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: None,
            jwks_uri: None,
            scopes_supported: None,
            bearer_methods_supported: None,
            resource_signing_alg_values_supported: None,
            resource_name: None,
            resource_documentation: None,
            resource_policy_uri: None,
            resource_tos_uri: None,
            tls_client_certificate_bound_access_tokens: None,
            authorization_details_types_supported: None,
            dpop_signing_alg_values_supported: None,
            dpop_bound_access_tokens_required: None,
            signed_metadata: None,
            extra: Map::new(),
        }
    }

    /// Adds an issuer to [`authorization_servers`](Self::authorization_servers).
    #[must_use]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers
            .get_or_insert_with(Vec::new)
            .push(issuer.into());
        self
    }

    /// Sets [`scopes_supported`](Self::scopes_supported) (by default [`PrmRoute`] fills it from
    /// the policy).
    ///
    /// [`PrmRoute`]: crate::PrmRoute
    #[must_use]
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Sets [`resource_name`](Self::resource_name).
    #[must_use]
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Sets [`resource_documentation`](Self::resource_documentation).
    #[must_use]
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// Sets [`resource_policy_uri`](Self::resource_policy_uri).
    #[must_use]
    pub fn resource_policy_uri(mut self, url: impl Into<String>) -> Self {
        self.resource_policy_uri = Some(url.into());
        self
    }

    /// Sets [`resource_tos_uri`](Self::resource_tos_uri).
    #[must_use]
    pub fn resource_tos_uri(mut self, url: impl Into<String>) -> Self {
        self.resource_tos_uri = Some(url.into());
        self
    }

    /// Sets [`jwks_uri`](Self::jwks_uri): the resource's own keys, not the issuer's.
    #[must_use]
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// Adds a member of any other name to [`extra`](Self::extra).
    #[must_use]
    pub fn extra(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// The URL this metadata is served at ([`metadata_url`]).
    pub fn metadata_url(&self) -> Result<String, PrmError> {
        metadata_url(&self.resource)
    }
}

/// A resource identifier that cannot have protected resource metadata.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrmError {
    /// The resource identifier is not an absolute `https` (or, for development, `http`) URL
    /// without a fragment (RFC 9728 §1.2).
    #[error("resource identifier `{resource}` is not usable: {reason}")]
    InvalidResource {
        /// The identifier as given.
        resource: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The issuer URL of the authorization server mirror is not an absolute URL.
    #[error("issuer `{issuer}` is not an absolute http(s) URL")]
    InvalidIssuer {
        /// The issuer as given.
        issuer: String,
    },
    /// The HTTP client for the authorization server mirror could not be built.
    #[error("cannot build the HTTP client for the authorization server metadata: {0}")]
    HttpClient(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The parts of a resource identifier the well-known URL is built from.
pub(crate) struct ResourceParts {
    /// `scheme://host[:port]`.
    pub(crate) origin: String,
    /// The path without the lone root `/` (empty for a resource at the root).
    pub(crate) path: String,
    /// `?query`, or empty.
    pub(crate) query: String,
}

pub(crate) fn resource_parts(resource: &str) -> Result<ResourceParts, PrmError> {
    let invalid = |reason| PrmError::InvalidResource {
        resource: resource.to_owned(),
        reason,
    };
    let url = Url::parse(resource).map_err(|_| invalid("not an absolute URL"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(invalid(
            "the scheme must be https (or http for development)",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid("a resource identifier has no fragment"));
    }
    if url.host_str().is_none() {
        return Err(invalid("no host"));
    }
    let path = match url.path() {
        "/" => String::new(),
        path => path.to_owned(),
    };
    Ok(ResourceParts {
        origin: url.origin().ascii_serialization(),
        path,
        query: url.query().map(|q| format!("?{q}")).unwrap_or_default(),
    })
}

/// The URL of the metadata of `resource` (RFC 9728 §3.1): the well-known path inserted between
/// the host and the path: `https://api.example.com/mcp` →
/// `https://api.example.com/.well-known/oauth-protected-resource/mcp`, and
/// `https://api.example.com` → `https://api.example.com/.well-known/oauth-protected-resource`.
///
/// [`PrmRoute`](crate::PrmRoute) serves this URL, and its [`challenge`](crate::PrmRoute::challenge)
/// names it, so a client following a 401 lands on the route.
pub fn metadata_url(resource: &str) -> Result<String, PrmError> {
    let parts = resource_parts(resource)?;
    Ok(format!(
        "{}{WELL_KNOWN_PATH}{}{}",
        parts.origin, parts.path, parts.query
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_url_inserts_between_host_and_path() {
        let cases = [
            (
                "https://api.example.com",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/mcp",
                "https://api.example.com/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "https://api.example.com:8443/a/b?x=1",
                "https://api.example.com:8443/.well-known/oauth-protected-resource/a/b?x=1",
            ),
            (
                "http://127.0.0.1:3000/mcp",
                "http://127.0.0.1:3000/.well-known/oauth-protected-resource/mcp",
            ),
        ];
        for (resource, expected) in cases {
            assert_eq!(metadata_url(resource).unwrap(), expected, "{resource}");
        }
    }

    #[test]
    fn unusable_resource_identifiers_are_refused() {
        for resource in ["/mcp", "ftp://x/mcp", "https://x/mcp#frag", "not a url"] {
            assert!(
                matches!(
                    metadata_url(resource),
                    Err(PrmError::InvalidResource { .. })
                ),
                "{resource}"
            );
        }
    }

    #[test]
    fn extra_members_are_flattened_and_read_back() {
        let json = serde_json::json!({
            "resource": "https://api.example.com/mcp",
            "scopes_supported": ["search.read"],
            "scopes": {"search": ["search.read"]}
        });
        let metadata: ProtectedResourceMetadata = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(
            metadata.scopes_supported.as_deref(),
            Some(&["search.read".to_owned()][..])
        );
        assert_eq!(metadata.extra["scopes"], json["scopes"]);
        assert_eq!(serde_json::to_value(&metadata).unwrap(), json);
    }
}
