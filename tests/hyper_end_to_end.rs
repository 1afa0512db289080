//! `examples/hyper.rs` end to end: the example's own `serve` on loopback, a real issuer, requests
//! from a hyper client.

mod support;
use support::issuer_server;

#[allow(dead_code)]
#[path = "../examples/hyper.rs"]
mod example;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use issuer_server::IssuerServer;
use serde_json::Value;

struct Server {
    /// `http://127.0.0.1:port`, the resource identifier.
    url: String,
    issuer: IssuerServer,
    client: Client<HttpConnector, Empty<Bytes>>,
}

async fn server() -> Server {
    let issuer = IssuerServer::start().await;
    let verifier = issuer.verifier().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(example::serve(listener, verifier, url.clone()));
    Server {
        url,
        issuer,
        client: Client::builder(TokioExecutor::new()).build_http(),
    }
}

impl Server {
    fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource", self.url)
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (Response<()>, Bytes) {
        let mut request = Request::get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = self
            .client
            .request(request.body(Empty::new()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (Response::from_parts(parts, ()), body)
    }
}

#[tokio::test]
async fn valid_token_reaches_the_service_fn_with_its_subject() {
    let server = server().await;
    let token = server.issuer.token("read");
    let (response, body) = server.get("/hello", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(&body[..], b"hello auth0|user-1 at /hello\n");
}

#[tokio::test]
async fn missing_token_is_401_with_challenge_and_json_code() {
    let server = server().await;
    let (response, body) = server.get("/hello", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        format!(
            r#"Bearer resource_metadata="{}", scope="admin""#,
            server.metadata_url()
        )
    );
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(body["code"], "MISSING_TOKEN");
}

#[tokio::test]
async fn token_signed_by_another_key_is_invalid_token() {
    let server = server().await;
    let stranger = tower_mcp_auth::dev::DevIssuer::generate()
        .unwrap()
        .with_kid(server.issuer.signer.kid());
    let forged = stranger.sign(&server.issuer.claims("read")).unwrap();
    let (response, body) = server.get("/hello", Some(&forged)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with(&format!(
            r#"Bearer resource_metadata="{}", error="invalid_token""#,
            server.metadata_url()
        )),
        "{challenge}"
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn route_scope_is_enforced_with_a_step_up_403() {
    let server = server().await;
    let (response, body) = server
        .get("/admin/stats", Some(&server.issuer.token("read")))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with(&format!(
            r#"Bearer resource_metadata="{}", error="insufficient_scope", scope="admin", error_description=""#,
            server.metadata_url()
        )),
        "{challenge}"
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "insufficient_scope");
    assert_eq!(body["missing_scopes"], serde_json::json!(["admin"]));

    let (response, body) = server
        .get("/admin/stats", Some(&server.issuer.token("read admin")))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(&body[..], b"hello auth0|user-1 at /admin/stats\n");
}

#[tokio::test]
async fn metadata_is_public_and_names_the_resource() {
    let server = server().await;
    let (response, body) = server
        .get("/.well-known/oauth-protected-resource", None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(metadata["resource"], server.url);
    assert_eq!(
        metadata["authorization_servers"],
        serde_json::json!([server.issuer.issuer])
    );
    assert_eq!(metadata["scopes_supported"], serde_json::json!(["admin"]));
}
