//! PrmRoute through a real axum server on loopback, with real HTTP requests.

mod support;
use support::closed_port::ClosedPort;
use support::scoped_app;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use scoped_app::*;
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_mcp_auth::{PrmRoute, ProtectedResourceMetadata, ScopePolicy};

async fn serve(app: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, server)
}

fn expected_document(app: &ScopedApp) -> String {
    format!(
        r#"{{"resource":"{}","authorization_servers":["https://issuer.test/"],"scopes_supported":["admin","docs.read","docs.write","files.private","mcp","prompts.secret","search.read"],"bearer_methods_supported":["header"]}}"#,
        app.resource
    )
}

#[tokio::test]
async fn metadata_is_served_at_both_well_known_paths_with_exact_json() {
    let app = ScopedApp::start(policy()).await;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        // No token: the metadata is public even though the router's routes are protected.
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["cache-control"], "public, max-age=3600");
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert_eq!(response.text().await.unwrap(), expected_document(&app));
    }
}

#[tokio::test]
async fn scopes_supported_is_the_policy_union() {
    let app = ScopedApp::start(policy()).await;
    let url = format!("{}/.well-known/oauth-protected-resource/mcp", app.base);
    let document: Value = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let supported: Vec<String> =
        serde_json::from_value(document["scopes_supported"].clone()).unwrap();
    assert_eq!(supported, app.policy.all_scopes());
}

#[tokio::test]
async fn head_answers_headers_without_body() {
    let app = ScopedApp::start(policy()).await;
    let response = app
        .client
        .head(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.headers()["content-length"],
        expected_document(&app).len().to_string().as_str()
    );
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn cors_preflight_is_answered_and_other_methods_are_405() {
    let app = ScopedApp::start(policy()).await;
    let url = format!("{}/.well-known/oauth-protected-resource/mcp", app.base);
    let response = app
        .client
        .request(http::Method::OPTIONS, &url)
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "mcp-protocol-version")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(
        headers["access-control-allow-methods"],
        "GET, HEAD, OPTIONS"
    );
    assert_eq!(
        headers["access-control-allow-headers"],
        "mcp-protocol-version"
    );
    assert_eq!(headers["access-control-max-age"], "86400");

    for method in [http::Method::POST, http::Method::PUT, http::Method::DELETE] {
        let response = app
            .client
            .request(method.clone(), &url)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
        assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
    }
}

#[tokio::test]
async fn resource_at_the_root_is_served_only_at_the_root_path() {
    let policy = ScopePolicy::builder()
        .default_scopes(["mcp"])
        .build()
        .unwrap();
    let prm = PrmRoute::new(
        ProtectedResourceMetadata::new("https://api.example.com"),
        &policy,
    )
    .unwrap()
    .cache_max_age(Duration::from_secs(60));
    assert_eq!(prm.paths(), ["/.well-known/oauth-protected-resource"]);
    assert_eq!(
        prm.metadata_url(),
        "https://api.example.com/.well-known/oauth-protected-resource"
    );
    let (base, server) = serve(Router::new().fallback_service(prm)).await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{base}/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({
            "resource": "https://api.example.com",
            "scopes_supported": ["mcp"],
            "bearer_methods_supported": ["header"]
        })
    );
    let response = client
        .get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    server.abort();
}

#[tokio::test]
async fn other_paths_fall_back_to_the_inner_service() {
    let policy = ScopePolicy::allow_all();
    let inner = tower::service_fn(|req: Request<Full<Bytes>>| async move {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
            req.uri().path().to_owned(),
        ))))
    });
    let prm = PrmRoute::new(
        ProtectedResourceMetadata::new("https://api.example.com/mcp"),
        &policy,
    )
    .unwrap()
    .with_fallback(inner);
    let response = prm
        .clone()
        .oneshot(Request::get("/mcp").body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "/mcp"
    );
    let response = prm
        .oneshot(
            Request::get("/.well-known/oauth-protected-resource/mcp")
                .body(Full::default())
                .unwrap(),
        )
        .await
        .unwrap();
    let document: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    // No scopes in the policy: no scopes_supported rather than an empty list.
    assert_eq!(
        document,
        json!({"resource": "https://api.example.com/mcp", "bearer_methods_supported": ["header"]})
    );
}

#[tokio::test]
async fn authorization_server_metadata_mirror_fetches_once_and_is_off_by_default() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let (issuer_base, issuer_server) = serve(Router::new().route(
        "/.well-known/openid-configuration",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { axum::Json(json!({"issuer": "x", "token_endpoint": "https://x/oauth/token"})) }
        }),
    ))
    .await;
    let issuer = format!("{issuer_base}/");
    let policy = ScopePolicy::allow_all();
    let metadata = ProtectedResourceMetadata::new("https://api.example.com/mcp");

    let plain = PrmRoute::new(metadata.clone(), &policy).unwrap();
    let (base, server) = serve(Router::new().fallback_service(plain)).await;
    let client = reqwest::Client::new();
    let url = format!("{base}/.well-known/oauth-authorization-server");
    assert_eq!(
        client.get(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    server.abort();

    let mirrored = PrmRoute::new(metadata, &policy)
        .unwrap()
        .mirror_authorization_server(&issuer)
        .unwrap();
    let (base, server) = serve(Router::new().fallback_service(mirrored)).await;
    let url = format!("{base}/.well-known/oauth-authorization-server");
    let (a, b) = tokio::join!(client.get(&url).send(), client.get(&url).send());
    for response in [
        a.unwrap(),
        b.unwrap(),
        client.get(&url).send().await.unwrap(),
    ] {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"issuer": "x", "token_endpoint": "https://x/oauth/token"})
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    server.abort();
    issuer_server.abort();
}

#[tokio::test]
async fn unreachable_issuer_is_502() {
    let closed = ClosedPort::new();
    let issuer = closed.url("/");
    let prm = PrmRoute::new(
        ProtectedResourceMetadata::new("https://api.example.com/mcp"),
        &ScopePolicy::allow_all(),
    )
    .unwrap()
    .mirror_authorization_server(&issuer)
    .unwrap();
    let response = prm
        .oneshot(
            Request::get("/.well-known/oauth-authorization-server")
                .body(Full::<Bytes>::default())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn failed_fetch_is_not_kept_and_is_retried_on_the_next_request() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let (issuer, issuer_server) = serve(Router::new().route(
        "/.well-known/openid-configuration",
        get(move || {
            let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    (StatusCode::SERVICE_UNAVAILABLE, "down").into_response()
                } else {
                    axum::Json(json!({"issuer": "x"})).into_response()
                }
            }
        }),
    ))
    .await;
    let prm = PrmRoute::new(
        ProtectedResourceMetadata::new("https://api.example.com/mcp"),
        &ScopePolicy::allow_all(),
    )
    .unwrap()
    .mirror_authorization_server(&issuer)
    .unwrap();
    let request = || {
        Request::get("/.well-known/oauth-authorization-server")
            .body(Full::<Bytes>::default())
            .unwrap()
    };
    let response = prm.clone().oneshot(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let response = prm.oneshot(request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body, json!({"issuer": "x"}));
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    issuer_server.abort();
}
