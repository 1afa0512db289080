//! Where the examples get their token verifier: the real issuer named by `OAUTH_ISSUER` (and
//! `OAUTH_AUDIENCE`), or, when it is unset, an in-memory development issuer
//! ([`DevIssuer`]) so the example runs with no tenant and no network. Not part of what you copy
//! into your server: there, build the `JwksVerifier` from your configuration.

use std::error::Error;

use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::JwksVerifier;

/// The verifier for `OAUTH_ISSUER`, or one trusting a fresh development issuer, in which case a
/// token carrying `dev_scopes` is printed for you to try the example with.
pub async fn verifier_from_env(
    default_audience: &str,
    dev_scopes: &str,
) -> Result<JwksVerifier, Box<dyn Error + Send + Sync>> {
    let audience = std::env::var("OAUTH_AUDIENCE").unwrap_or_else(|_| default_audience.to_owned());
    if let Ok(issuer) = std::env::var("OAUTH_ISSUER") {
        return Ok(JwksVerifier::builder()
            .issuer(issuer)
            .audience(audience)
            .build()
            .await?);
    }
    let dev = DevIssuer::generate()?;
    let token = dev.token(&audience).scope(dev_scopes).sign()?;
    eprintln!("OAUTH_ISSUER unset: a development issuer; a token with `{dev_scopes}`:\n{token}");
    Ok(dev.verifier(audience).await?)
}
