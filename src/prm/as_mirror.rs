//! The optional `/.well-known/oauth-authorization-server` mirror: MCP clients of the 2025-03-26
//! revision look for the authorization server's metadata on the resource server's origin.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use tokio::sync::OnceCell;

use crate::body::LayerBody;
use crate::prm::PrmError;

/// Where RFC 8414 clients of MCP 2025-03-26 look for the authorization server's metadata.
pub const AUTHORIZATION_SERVER_PATH: &str = "/.well-known/oauth-authorization-server";

const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The issuer's discovery document, fetched on first use and kept.
#[derive(Debug)]
pub(crate) struct AuthorizationServerMirror {
    discovery_url: String,
    client: reqwest::Client,
    // Concurrent first requests share one fetch; a failed fetch is not kept (the next request
    // tries again).
    document: OnceCell<Bytes>,
}

impl AuthorizationServerMirror {
    pub(crate) fn new(issuer: &str) -> Result<Self, PrmError> {
        let invalid = || PrmError::InvalidIssuer {
            issuer: issuer.to_owned(),
        };
        let parsed = url::Url::parse(issuer).map_err(|_| invalid())?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(invalid());
        }
        // Auth0 issuers end in `/`, most others do not: one slash either way.
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| PrmError::HttpClient(Box::new(e)))?;
        Ok(Self {
            discovery_url,
            client,
            document: OnceCell::new(),
        })
    }

    /// The issuer's metadata (cached after the first success), or a 502 naming the failure.
    pub(crate) async fn answer(&self, head: bool) -> Response<LayerBody<std::convert::Infallible>> {
        match self.document.get_or_try_init(|| self.fetch()).await {
            Ok(document) => {
                let mut response = super::route::json_response(document.clone(), head);
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                );
                response
            }
            Err(reason) => {
                tracing::warn!(url = %self.discovery_url, %reason, "cannot fetch the authorization server metadata");
                let body = serde_json::json!({
                    "error": "temporarily_unavailable",
                    "error_description": "The authorization server's metadata cannot be fetched; try again",
                });
                let mut response = super::route::json_response(Bytes::from(body.to_string()), head);
                *response.status_mut() = StatusCode::BAD_GATEWAY;
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
        }
    }

    async fn fetch(&self) -> Result<Bytes, String> {
        let response = self
            .client
            .get(&self.discovery_url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        // Serve only a JSON object: never pass on an error page as metadata.
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(_)) => Ok(bytes),
            _ => Err("the discovery document is not a JSON object".to_owned()),
        }
    }
}
