//! Where the examples get their token verifier: the real issuer named by `OAUTH_ISSUER` (and
//! `OAUTH_AUDIENCE`), or, when it is unset, a development issuer on loopback so the example runs
//! with no tenant. Not part of what you copy into your server: there, build the `JwksVerifier`
//! from your configuration.

use std::error::Error;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::{Json, Router, routing::get};
use serde_json::json;
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::JwksVerifier;

/// The verifier for `OAUTH_ISSUER`, or one for a freshly started development issuer, in which
/// case a token carrying `dev_scopes` is printed for you to try the example with.
pub async fn verifier_from_env(
    default_audience: &str,
    dev_scopes: &str,
) -> Result<JwksVerifier, Box<dyn Error + Send + Sync>> {
    let audience = std::env::var("OAUTH_AUDIENCE").unwrap_or_else(|_| default_audience.to_owned());
    if let Ok(issuer) = std::env::var("OAUTH_ISSUER") {
        return Ok(JwksVerifier::builder(issuer, audience).build().await?);
    }

    let signer = DevIssuer::generate()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let issuer = format!("http://{}", listener.local_addr()?);
    let metadata =
        DevIssuer::openid_configuration(&issuer, &format!("{issuer}/.well-known/jwks.json"));
    let jwks = signer.jwks();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(metadata) }),
        )
        .route(
            "/.well-known/jwks.json",
            get(move || async move { Json(jwks) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let token = signer.sign(&json!({
        "iss": issuer, "aud": audience, "sub": "dev-user", "client_id": "dev-client",
        "iat": now, "exp": now + 3600, "scope": dev_scopes,
    }))?;
    eprintln!("OAUTH_ISSUER unset: development issuer at {issuer}; a token with `{dev_scopes}`:");
    eprintln!("{token}");
    Ok(JwksVerifier::builder(issuer, audience).build().await?)
}
