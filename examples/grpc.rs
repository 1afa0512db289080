//! gRPC with tonic: one `McpAuth` layer in `Server::builder().layer(…)`, around the standard health
//! service (`grpc.health.v1.Health`), with a scope per gRPC method. Refusals are gRPC answers:
//! `grpc-status` 16 (UNAUTHENTICATED) or 7 (PERMISSION_DENIED) with `grpc-message` and
//! `WWW-Authenticate`.
//!
//! ```sh
//! cargo run --example grpc         # prints a development token
//! grpcurl -plaintext -H "authorization: Bearer $TOKEN" localhost:50051 grpc.health.v1.Health/Check
//! ```
//!
//! Set `OAUTH_ISSUER` (e.g. `https://tenant.us.auth0.com/`) and `OAUTH_AUDIENCE` to verify real
//! tokens instead.

use std::error::Error;

use http::Method;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tower_mcp_auth::token::JwksVerifier;
use tower_mcp_auth::{McpAuth, ProtectedResourceMetadata, ScopePolicy};

#[path = "support/dev_issuer.rs"]
mod dev_issuer;

/// Serves the health service behind the layers on `listener`, for the resource `public_url`.
pub async fn serve(
    listener: TcpListener,
    verifier: JwksVerifier,
    public_url: String,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    // gRPC methods are routes: POST /package.Service/Method.
    let policy = ScopePolicy::builder()
        .route(
            Method::POST,
            "/grpc.health.v1.Health/Check",
            ["health.read"],
        )
        .route(
            Method::POST,
            "/grpc.health.v1.Health/Watch",
            ["health.watch"],
        )
        .build()?;
    let metadata =
        ProtectedResourceMetadata::new(public_url).authorization_server(verifier.issuer());
    // The metadata stays public (HTTP/1.1 GET on the same port); gRPC calls need a token.
    let auth = McpAuth::new(verifier, policy, metadata)?;

    let (_reporter, health) = tonic_health::server::health_reporter();
    Server::builder()
        .accept_http1(true)
        .layer(auth)
        .add_service(health)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let public_url = "http://localhost:50051";
    let verifier = dev_issuer::verifier_from_env(public_url, "health.read").await?;
    let listener = TcpListener::bind("127.0.0.1:50051").await?;
    eprintln!("gRPC on localhost:50051");
    serve(listener, verifier, public_url.to_owned()).await
}
