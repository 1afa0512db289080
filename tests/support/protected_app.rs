//! A loopback server behind `BearerAuthLayer` with any verifier, and whole-answer assertions.

use axum::routing::post;
use axum::{Extension, Router};
use serde_json::{Value, json};
use tower_mcp_auth::token::TokenVerifier;
use tower_mcp_auth::{AccessToken, BearerAuthLayer};

pub const RESOURCE_METADATA: &str = "https://api.test/.well-known/oauth-protected-resource/mcp";

/// The running server: `POST /mcp` answers the verified token's `sub`, `iss`, `aud`, scopes.
pub struct ProtectedApp {
    pub url: String,
    client: reqwest::Client,
}

impl ProtectedApp {
    pub async fn start<V: TokenVerifier>(verifier: V) -> Self {
        Self::start_layer(BearerAuthLayer::new(verifier)).await
    }

    pub async fn start_layer<V: TokenVerifier>(layer: BearerAuthLayer<V>) -> Self {
        let layer = layer.resource_metadata(RESOURCE_METADATA);
        let router = Router::new()
            .route(
                "/mcp",
                post(|Extension(token): Extension<AccessToken>| async move {
                    axum::Json(json!({
                        "sub": token.subject(),
                        "iss": token.issuer(),
                        "aud": token.audiences(),
                        "scopes": token.scopes(),
                    }))
                }),
            )
            .layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            url,
            client: reqwest::Client::new(),
        }
    }

    pub async fn call(&self, token: &str) -> reqwest::Response {
        self.client
            .post(&self.url)
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap()
    }

    /// Calls with `token` and asserts a 200; returns the body.
    pub async fn accepted(&self, token: &str) -> Value {
        let response = self.call(token).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Calls with `token` and asserts the whole refusal; returns the body.
    pub async fn refused(&self, token: &str, status: u16, code: &str) -> Value {
        assert_refusal(self.call(token).await, status, code).await
    }
}

/// Asserts a whole refusal: status, exact `WWW-Authenticate` (none for a 503: no token fixes
/// it), JSON body `error` and `code`.
pub async fn assert_refusal(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    let description = body["error_description"].as_str().unwrap();
    let (error, expected) = match status {
        401 => (
            "invalid_token",
            Some(format!(
                r#"Bearer resource_metadata="{RESOURCE_METADATA}", error="invalid_token", error_description="{description}""#
            )),
        ),
        503 => ("temporarily_unavailable", None),
        other => panic!("no expectation for status {other}"),
    };
    assert_eq!(challenge, expected);
    assert_eq!(body["error"], error);
    body
}
