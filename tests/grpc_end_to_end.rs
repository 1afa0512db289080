//! `examples/grpc.rs` end to end: the example's own tonic server on loopback, a real issuer, calls
//! from a tonic client (HTTP/2).

mod support;
use support::issuer_server;

#[allow(dead_code)]
#[path = "../examples/grpc.rs"]
mod example;

use issuer_server::IssuerServer;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

struct Server {
    url: String,
    issuer: IssuerServer,
    client: HealthClient<Channel>,
}

async fn server() -> Server {
    let issuer = IssuerServer::start().await;
    let verifier = issuer.verifier().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(example::serve(listener, verifier, url.clone()));
    let channel = Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    Server {
        url,
        issuer,
        client: HealthClient::new(channel),
    }
}

impl Server {
    fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource", self.url)
    }

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
        &format!(
            r#"Bearer resource_metadata="{}", scope="health.read health.watch""#,
            server.metadata_url()
        )
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

#[tokio::test]
async fn token_without_the_method_scope_is_permission_denied_with_step_up_challenge() {
    let mut server = server().await;
    let token = server.issuer.token("health.watch");
    let status = server.check(Some(&token)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().starts_with("insufficient_scope: "),
        "{}",
        status.message()
    );
    let challenge = status.metadata().get("www-authenticate").unwrap();
    let challenge = challenge.to_str().unwrap();
    assert!(
        challenge.starts_with(&format!(
            r#"Bearer resource_metadata="{}", error="insufficient_scope", scope="health.read", error_description=""#,
            server.metadata_url()
        )),
        "{challenge}"
    );
}

#[tokio::test]
async fn metadata_is_served_on_the_grpc_port_without_a_token() {
    let server = server().await;
    let metadata: serde_json::Value = reqwest::get(server.metadata_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["resource"], server.url);
    assert_eq!(
        metadata["authorization_servers"],
        serde_json::json!([server.issuer.issuer])
    );
    assert_eq!(
        metadata["scopes_supported"],
        serde_json::json!(["health.read", "health.watch"])
    );
}
