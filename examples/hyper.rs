//! Bare hyper 1: the layers around a plain `service_fn`, in a `tower::ServiceBuilder`, served
//! with hyper-util. No framework.
//!
//! ```sh
//! cargo run --example hyper        # prints a development token
//! curl -i localhost:3000/hello -H "authorization: Bearer $TOKEN"
//! ```
//!
//! Set `OAUTH_ISSUER` (e.g. `https://tenant.us.auth0.com/`) and `OAUTH_AUDIENCE` to verify real
//! tokens instead.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_mcp_auth::token::JwksVerifier;
use tower_mcp_auth::{AccessToken, BearerAuthLayer};

#[path = "support/dev_issuer.rs"]
mod dev_issuer;

/// The application: a plain hyper handler. The layers ran before it, so the verified token is in
/// the request's extensions.
async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let subject = request
        .extensions()
        .get::<AccessToken>()
        .map_or("nobody", |token| token.subject());
    Ok(Response::new(Full::from(format!("hello {subject}\n"))))
}

/// Serves `hello` behind the layers on `listener`, one task per connection (HTTP/1 and HTTP/2).
pub async fn serve(
    listener: TcpListener,
    verifier: JwksVerifier,
    resource_metadata: String,
) -> std::io::Result<()> {
    let service = ServiceBuilder::new()
        .layer(BearerAuthLayer::new(verifier).resource_metadata(resource_metadata))
        .service_fn(hello);
    loop {
        let (stream, _) = listener.accept().await?;
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let connection = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(error) = connection {
                eprintln!("connection error: {error}");
            }
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let verifier = dev_issuer::verifier_from_env("http://localhost:3000", "").await?;
    let listener = TcpListener::bind("127.0.0.1:3000").await?;
    let metadata = "http://localhost:3000/.well-known/oauth-protected-resource".to_owned();
    eprintln!("listening on http://localhost:3000");
    Ok(serve(listener, verifier, metadata).await?)
}
