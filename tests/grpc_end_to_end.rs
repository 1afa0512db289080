//! `examples/grpc.rs` end to end: the example's own tonic server on loopback, a real issuer, calls
//! from a tonic client (HTTP/2).

#[path = "support/issuer_server.rs"]
mod issuer_server;

#[allow(dead_code)]
#[path = "../examples/grpc.rs"]
mod example;

use issuer_server::{AUDIENCE, IssuerServer};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower_mcp_auth::token::JwksVerifier;

const RESOURCE_METADATA: &str = "https://grpc.test/.well-known/oauth-protected-resource";

struct Server {
    issuer: IssuerServer,
    client: HealthClient<Channel>,
}

async fn server() -> Server {
    let issuer = IssuerServer::start().await;
    let verifier = JwksVerifier::builder(issuer.issuer.clone(), AUDIENCE)
        .build()
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(example::serve(listener, verifier, RESOURCE_METADATA.into()));
    let channel = Channel::from_shared(url).unwrap().connect().await.unwrap();
    Server {
        issuer,
        client: HealthClient::new(channel),
    }
}

impl Server {
    async fn check(&mut self, token: Option<&str>) -> Result<HealthCheckResponse, Status> {
        let mut request = Request::new(HealthCheckRequest {
            service: String::new(),
        });
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        self.client
            .check(request)
            .await
            .map(tonic::Response::into_inner)
    }
}

#[tokio::test]
async fn valid_token_gets_the_health_answer() {
    let mut server = server().await;
    let token = server.issuer.token("health.read");
    let response = server.check(Some(&token)).await.unwrap();
    assert_eq!(response.status(), ServingStatus::Serving);
}

#[tokio::test]
async fn missing_token_is_unauthenticated_with_challenge() {
    let mut server = server().await;
    let status = server.check(None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.message().starts_with("MISSING_TOKEN: "),
        "{}",
        status.message()
    );
    assert_eq!(
        status.metadata().get("www-authenticate").unwrap(),
        &format!(r#"Bearer resource_metadata="{RESOURCE_METADATA}""#)
    );
}

#[tokio::test]
async fn expired_token_is_unauthenticated_invalid_token() {
    let mut server = server().await;
    let mut claims = server.issuer.claims("health.read");
    claims["exp"] = serde_json::json!(issuer_server::now() - 120);
    let token = server.issuer.sign(&claims);
    let status = server.check(Some(&token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.message().starts_with("TOKEN_EXPIRED: "),
        "{}",
        status.message()
    );
    let challenge = status.metadata().get("www-authenticate").unwrap();
    assert!(
        challenge
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_token""#),
        "{challenge:?}"
    );
}
