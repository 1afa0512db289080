//! gRPC with tonic: the layers in `Server::builder().layer(…)`, around the standard health
//! service (`grpc.health.v1.Health`). Refusals are gRPC answers: `grpc-status` 16
//! (UNAUTHENTICATED) or 7 (PERMISSION_DENIED) with `grpc-message` and `WWW-Authenticate`.
//!
//! ```sh
//! cargo run --example grpc         # prints a development token
//! grpcurl -plaintext -H "authorization: Bearer $TOKEN" localhost:50051 grpc.health.v1.Health/Check
//! ```
//!
//! Set `OAUTH_ISSUER` (e.g. `https://tenant.us.auth0.com/`) and `OAUTH_AUDIENCE` to verify real
//! tokens instead.

use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tower_mcp_auth::BearerAuthLayer;
use tower_mcp_auth::token::JwksVerifier;

#[path = "support/dev_issuer.rs"]
mod dev_issuer;

/// Serves the health service behind the layers on `listener`.
pub async fn serve(
    listener: TcpListener,
    verifier: JwksVerifier,
    resource_metadata: String,
) -> Result<(), tonic::transport::Error> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    Server::builder()
        .layer(BearerAuthLayer::new(verifier).resource_metadata(resource_metadata))
        .add_service(health)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let verifier = dev_issuer::verifier_from_env("http://localhost:50051", "health.read").await?;
    let listener = TcpListener::bind("127.0.0.1:50051").await?;
    let metadata = "http://localhost:50051/.well-known/oauth-protected-resource".to_owned();
    eprintln!("gRPC on localhost:50051");
    Ok(serve(listener, verifier, metadata).await?)
}
