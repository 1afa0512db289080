//! Bare hyper 1: one `McpAuth` layer around a plain `service_fn`, in a `tower::ServiceBuilder`,
//! served with hyper-util. No framework.
//!
//! ```sh
//! cargo run --example hyper        # prints a development token
//! curl -i localhost:3000/hello -H "authorization: Bearer $TOKEN"
//! curl -i localhost:3000/admin/stats -H "authorization: Bearer $TOKEN"   # 403: needs `admin`
//! ```
//!
//! Set `OAUTH_ISSUER` (e.g. `https://tenant.us.auth0.com/`) and `OAUTH_AUDIENCE` to verify real
//! tokens instead.

use std::convert::Infallible;
use std::error::Error;

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_mcp_auth::token::JwksVerifier;
use tower_mcp_auth::{AccessToken, McpAuth, ProtectedResourceMetadata, ScopePolicy};

#[path = "support/dev_issuer.rs"]
mod dev_issuer;

/// The application: a plain hyper handler. The layers ran before it, so the verified token is in
/// the request's extensions.
async fn hello<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let subject = request
        .extensions()
        .get::<AccessToken>()
        .map_or("nobody", |token| token.subject());
    let path = request.uri().path();
    Ok(Response::new(Full::from(format!(
        "hello {subject} at {path}\n"
    ))))
}

/// Serves `hello` behind the layers on `listener`, one task per connection (HTTP/1 and HTTP/2),
/// as the resource `public_url`.
pub async fn serve(
    listener: TcpListener,
    verifier: JwksVerifier,
    public_url: String,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    let policy = ScopePolicy::builder()
        .route(Method::GET, "/admin/*", ["admin"])
        .build()?;
    let metadata =
        ProtectedResourceMetadata::new(public_url).authorization_server(verifier.issuer());
    let service = ServiceBuilder::new()
        // /.well-known/oauth-protected-resource stays public; everything else needs a token.
        .layer(McpAuth::new(verifier, policy, metadata)?)
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
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let public_url = "http://localhost:3000";
    let verifier = dev_issuer::verifier_from_env(public_url, "").await?;
    let listener = TcpListener::bind("127.0.0.1:3000").await?;
    eprintln!("listening on {public_url}");
    serve(listener, verifier, public_url.to_owned()).await
}
