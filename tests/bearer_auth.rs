//! BearerAuthLayer + JwksVerifier end to end: a real issuer (discovery + JWKS) on loopback, a real
//! axum server behind the layer, real HTTP requests.

mod support;
use support::issuer_server;

use std::time::Duration;

use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use issuer_server::{AUDIENCE, IssuerServer, JwksMode, now};
use serde_json::{Value, json};
use tower_mcp_auth::dev::DevIssuer;
use tower_mcp_auth::token::{Algorithm, JwksVerifier, JwksVerifierBuilder, VerifierConfigError};
use tower_mcp_auth::{AccessToken, BearerAuthLayer};

const RESOURCE_METADATA: &str = "https://api.test/.well-known/oauth-protected-resource/mcp";

struct App {
    url: String,
    issuer: IssuerServer,
    client: reqwest::Client,
}

fn builder(issuer: &IssuerServer) -> JwksVerifierBuilder {
    JwksVerifier::builder()
        .issuer(issuer.issuer.clone())
        .audience(AUDIENCE)
}

async fn app_with(issuer: IssuerServer, verifier: JwksVerifier, cache: bool) -> App {
    let mut layer = BearerAuthLayer::new(verifier).resource_metadata(RESOURCE_METADATA);
    if !cache {
        layer = layer.without_token_cache();
    }
    let router = Router::new()
        .route(
            "/mcp",
            post(|Extension(token): Extension<AccessToken>| async move {
                axum::Json(json!({
                    "sub": token.subject(),
                    "scopes": token.scopes(),
                    "client_id": token.client_id(),
                }))
            }),
        )
        .route("/mcp", get(|| async { "get" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    App {
        url,
        issuer,
        client: reqwest::Client::new(),
    }
}

async fn app() -> App {
    let issuer = IssuerServer::start().await;
    let verifier = builder(&issuer).build().await.unwrap();
    app_with(issuer, verifier, true).await
}

impl App {
    async fn call(&self, token: &str) -> reqwest::Response {
        self.client
            .post(&self.url)
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap()
    }
}

/// Asserts a whole refusal: status, exact `WWW-Authenticate`, body `error` and `code`; returns
/// the body.
async fn assert_refused(
    response: reqwest::Response,
    status: u16,
    error: Option<&str>,
    code: &str,
) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let challenge = response
        .headers()
        .get("www-authenticate")
        .expect("a challenge")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "JSON body"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    let description = body["error_description"].as_str().unwrap();
    let expected = match error {
        None => format!(r#"Bearer resource_metadata="{RESOURCE_METADATA}""#),
        Some(error) => format!(
            r#"Bearer resource_metadata="{RESOURCE_METADATA}", error="{error}", error_description="{description}""#
        ),
    };
    assert_eq!(challenge, expected);
    assert_eq!(body["error"], error.unwrap_or("unauthorized"));
    body
}

async fn assert_invalid_token(response: reqwest::Response, code: &str) -> Value {
    assert_refused(response, 401, Some("invalid_token"), code).await
}

#[tokio::test]
async fn valid_token_reaches_the_service_with_its_claims() {
    let app = app().await;
    let response = app.call(&app.issuer.token("search.read docs.write")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["sub"], "auth0|user-1");
    assert_eq!(body["scopes"], json!(["docs.write", "search.read"]));
    assert_eq!(body["client_id"], "chatgpt-client");
}

#[tokio::test]
async fn lowercase_bearer_scheme_is_accepted() {
    let app = app().await;
    let response = app
        .client
        .post(&app.url)
        .header("authorization", format!("bearer {}", app.issuer.token("a")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn missing_token_is_401_with_plain_challenge() {
    let app = app().await;
    let response = app.client.post(&app.url).send().await.unwrap();
    let body = assert_refused(response, 401, None, "MISSING_TOKEN").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Bearer")
    );
}

#[tokio::test]
async fn expired_token_is_invalid_token_with_header() {
    let app = app().await;
    let mut claims = app.issuer.claims("a");
    claims["exp"] = json!(now() - 120); // beyond the 30 s leeway
    let body =
        assert_invalid_token(app.call(&app.issuer.sign(&claims)).await, "TOKEN_EXPIRED").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test]
async fn token_within_leeway_after_exp_is_accepted() {
    let app = app().await;
    let mut claims = app.issuer.claims("a");
    claims["exp"] = json!(now() - 5);
    assert_eq!(app.call(&app.issuer.sign(&claims)).await.status(), 200);
}

#[tokio::test]
async fn not_yet_valid_token_is_refused() {
    let app = app().await;
    let mut claims = app.issuer.claims("a");
    claims["nbf"] = json!(now() + 600);
    assert_invalid_token(
        app.call(&app.issuer.sign(&claims)).await,
        "TOKEN_NOT_YET_VALID",
    )
    .await;
    let mut claims = app.issuer.claims("a");
    claims["iat"] = json!(now() + 600);
    assert_invalid_token(
        app.call(&app.issuer.sign(&claims)).await,
        "TOKEN_NOT_YET_VALID",
    )
    .await;
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let app = app().await;
    let mut claims = app.issuer.claims("a");
    claims["iss"] = json!("https://evil.example/");
    let body =
        assert_invalid_token(app.call(&app.issuer.sign(&claims)).await, "INVALID_ISSUER").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("evil.example")
    );
}

#[tokio::test]
async fn issuer_without_the_trailing_slash_of_its_metadata_is_refused() {
    // Auth0 spells its issuer with a trailing '/': a token whose iss lacks it is not Auth0's.
    let app = app().await;
    assert!(app.issuer.issuer.ends_with('/'));
    let mut claims = app.issuer.claims("a");
    claims["iss"] = json!(app.issuer.issuer.trim_end_matches('/'));
    assert_invalid_token(app.call(&app.issuer.sign(&claims)).await, "INVALID_ISSUER").await;
}

#[tokio::test]
async fn configured_issuer_missing_the_trailing_slash_is_corrected_from_discovery() {
    let issuer = IssuerServer::start().await; // metadata: "http://127.0.0.1:port/"
    let verifier = JwksVerifier::builder()
        .issuer(issuer.issuer.trim_end_matches('/'))
        .audience(AUDIENCE)
        .build()
        .await
        .unwrap();
    assert_eq!(verifier.issuer(), issuer.issuer);
    let app = app_with(issuer, verifier, true).await;
    assert_eq!(app.call(&app.issuer.token("a")).await.status(), 200);
}

#[tokio::test]
async fn configured_issuer_with_an_extra_trailing_slash_is_corrected_from_discovery() {
    let issuer = IssuerServer::start_with_issuer_suffix("").await; // metadata: no trailing '/'
    let verifier = JwksVerifier::builder()
        .issuer(format!("{}/", issuer.issuer))
        .audience(AUDIENCE)
        .build()
        .await
        .unwrap();
    assert_eq!(verifier.issuer(), issuer.issuer);
    let app = app_with(issuer, verifier, true).await;
    assert_eq!(app.call(&app.issuer.token("a")).await.status(), 200);
    let mut claims = app.issuer.claims("a");
    claims["iss"] = json!(format!("{}/", app.issuer.issuer));
    assert_invalid_token(app.call(&app.issuer.sign(&claims)).await, "INVALID_ISSUER").await;
}

#[tokio::test]
async fn issuer_that_differs_from_its_metadata_fails_at_build() {
    let issuer = IssuerServer::start().await;
    let wrong = format!("{}other/", issuer.issuer);
    // The metadata is looked up under the configured issuer's path, which does not exist.
    assert!(matches!(
        JwksVerifier::builder()
            .issuer(wrong)
            .audience(AUDIENCE)
            .build()
            .await,
        Err(VerifierConfigError::Discovery { .. })
    ));
}

#[tokio::test]
async fn non_loopback_http_issuer_is_refused_at_build() {
    let error = JwksVerifier::builder()
        .issuer("http://tenant.example.com/")
        .audience(AUDIENCE)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(error, VerifierConfigError::InsecureUrl { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("https://"));
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let app = app().await;
    let mut claims = app.issuer.claims("a");
    claims["aud"] = json!("https://another.api/");
    assert_invalid_token(
        app.call(&app.issuer.sign(&claims)).await,
        "INVALID_AUDIENCE",
    )
    .await;
    claims["aud"] = json!(["https://another.api/", "https://x/userinfo"]);
    assert_invalid_token(
        app.call(&app.issuer.sign(&claims)).await,
        "INVALID_AUDIENCE",
    )
    .await;
}

#[tokio::test]
async fn audience_as_string_or_array_is_accepted() {
    let app = app().await;
    let mut claims = app.issuer.claims("a");
    claims["aud"] = json!(AUDIENCE);
    assert_eq!(app.call(&app.issuer.sign(&claims)).await.status(), 200);
    claims["aud"] = json!(["https://x/userinfo", AUDIENCE]);
    assert_eq!(app.call(&app.issuer.sign(&claims)).await.status(), 200);
}

#[tokio::test]
async fn missing_exp_is_refused() {
    let app = app().await;
    let mut claims = app.issuer.claims("a");
    claims.as_object_mut().unwrap().remove("exp");
    let body =
        assert_invalid_token(app.call(&app.issuer.sign(&claims)).await, "MISSING_CLAIM").await;
    assert!(body["error_description"].as_str().unwrap().contains("exp"));
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn alg_none_is_refused() {
    let app = app().await;
    let header = json!({"alg": "none", "typ": "JWT", "kid": app.issuer.signer.kid()});
    let token = format!("{}.{}.", encode(&header), encode(&app.issuer.claims("a")));
    let body = assert_invalid_token(app.call(&token).await, "ALGORITHM_NOT_ALLOWED").await;
    assert!(body["error_description"].as_str().unwrap().contains("none"));
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    // The classic confusion: HMAC keyed with the public key's bytes, hoping the server uses the
    // RSA key as an HMAC secret.
    let app = app().await;
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": app.issuer.signer.kid()});
    let message = format!("{}.{}", encode(&header), encode(&app.issuer.claims("a")));
    let jwk = app.issuer.signer.jwk();
    for secret in [
        URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(),
        jwk.to_string().into_bytes(),
    ] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret);
        let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
        let token = format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert_invalid_token(app.call(&token).await, "ALGORITHM_NOT_ALLOWED").await;
    }
}

#[test]
fn hmac_algorithms_cannot_be_allowed() {
    // The accepted algorithms are `token::Algorithm`s, which have no HMAC (nor `none`) member:
    // a configuration can only name them as strings, and those do not parse.
    for name in ["HS256", "HS384", "HS512"] {
        let error = name.parse::<Algorithm>().unwrap_err().to_string();
        assert!(error.contains("HMAC"), "{error}");
    }
    assert!("none".parse::<Algorithm>().is_err());
}

#[tokio::test]
async fn forged_signature_is_refused() {
    let app = app().await;
    let other = DevIssuer::generate()
        .unwrap()
        .with_kid(app.issuer.signer.kid());
    let token = other.sign(&app.issuer.claims("a")).unwrap();
    assert_invalid_token(app.call(&token).await, "INVALID_SIGNATURE").await;
}

#[tokio::test]
async fn unknown_kid_then_rotated_jwks_picks_up_the_new_key() {
    let issuer = IssuerServer::start().await;
    let verifier = builder(&issuer)
        .refresh_cooldown(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let app = app_with(issuer, verifier, true).await;
    assert_eq!(app.issuer.jwks_hits(), 1, "one fetch at start-up");

    let rotated = DevIssuer::generate().unwrap().with_kid("rotated-key");
    let token = rotated.sign(&app.issuer.claims("a")).unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await; // past the start-up fetch's cooldown
    // Not published yet: the refresh finds nothing.
    assert_invalid_token(app.call(&token).await, "UNKNOWN_KEY_ID").await;
    assert_eq!(app.issuer.jwks_hits(), 2);

    app.issuer
        .publish(json!({"keys": [app.issuer.signer.jwk(), rotated.jwk()]}));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(app.call(&token).await.status(), 200);
    assert_eq!(app.issuer.jwks_hits(), 3);
    // Old key still verifies, no further fetch.
    assert_eq!(app.call(&app.issuer.token("b")).await.status(), 200);
    assert_eq!(app.issuer.jwks_hits(), 3);
}

#[tokio::test]
async fn unknown_kid_flood_fetches_the_jwks_at_most_once_per_cooldown() {
    let issuer = IssuerServer::start().await;
    let verifier = builder(&issuer)
        .refresh_cooldown(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let app = std::sync::Arc::new(app_with(issuer, verifier, true).await);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let before = app.issuer.jwks_hits();

    let mut tasks = Vec::new();
    for i in 0..100 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let header = json!({"alg": "RS256", "kid": format!("random-{i}")});
            let token = app
                .issuer
                .signer
                .sign_with_header(&header, &app.issuer.claims("a"))
                .unwrap();
            app.call(&token).await.status().as_u16()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 401);
    }
    let during = app.issuer.jwks_hits() - before;
    assert_eq!(during, 1, "100 random kids within one cooldown: one fetch");

    // After the cooldown another unknown kid may refresh again, once.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let header = json!({"alg": "RS256", "kid": "random-late"});
    let token = app
        .issuer
        .signer
        .sign_with_header(&header, &app.issuer.claims("a"))
        .unwrap();
    assert_invalid_token(app.call(&token).await, "UNKNOWN_KEY_ID").await;
    assert_eq!(app.issuer.jwks_hits() - before, 2);
}

#[tokio::test]
async fn jwks_down_after_first_fetch_keeps_verifying_with_known_keys() {
    let issuer = IssuerServer::start().await;
    let verifier = builder(&issuer)
        .refresh_cooldown(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let app = app_with(issuer, verifier, false).await;
    app.issuer.set_mode(JwksMode::Fail);
    for scope in ["a", "b", "c"] {
        assert_eq!(app.call(&app.issuer.token(scope)).await.status(), 200);
    }
    // A token that needs a key we don't have, while the JWKS is failing: 503, with its code.
    let other = DevIssuer::generate().unwrap().with_kid("not-yet-published");
    let response = app
        .call(&other.sign(&app.issuer.claims("a")).unwrap())
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("www-authenticate").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "JWKS_UNAVAILABLE");
    assert_eq!(body["error"], "temporarily_unavailable");
    // Known keys still work after the failed refresh.
    assert_eq!(app.call(&app.issuer.token("d")).await.status(), 200);
}

#[tokio::test]
async fn jwe_shaped_token_is_refused_with_the_audience_hint() {
    let app = app().await;
    let jwe =
        "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXYtaXYtaXYt.Y2lwaGVydGV4dA.dGFnLXRhZy10YWc";
    let body = assert_invalid_token(app.call(jwe).await, "ACCESS_TOKEN_IS_ENCRYPTED_JWE").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("audience")
    );
}

#[tokio::test]
async fn opaque_token_is_refused_as_not_jws() {
    let app = app().await;
    let body = assert_invalid_token(
        app.call("mF_9.B5f-4.1JqM-opaque").await,
        "ACCESS_TOKEN_NOT_JWS",
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("audience")
    );
    assert_invalid_token(app.call("8xLOxBtZp8").await, "ACCESS_TOKEN_NOT_JWS").await;
}

#[tokio::test]
async fn oversized_token_is_refused_before_parsing() {
    let app = app().await;
    let huge = format!("{}.{}.{}", "a".repeat(9000), "b".repeat(9000), "c");
    assert_invalid_token(app.call(&huge).await, "ACCESS_TOKEN_TOO_LARGE").await;
}

#[tokio::test]
async fn two_authorization_headers_are_invalid_request() {
    let app = app().await;
    let token = app.issuer.token("a");
    let response = app
        .client
        .post(&app.url)
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_refused(
        response,
        400,
        Some("invalid_request"),
        "MULTIPLE_CREDENTIALS",
    )
    .await;
}

#[tokio::test]
async fn token_in_query_string_is_invalid_request() {
    let app = app().await;
    let token = app.issuer.token("a");
    let response = app
        .client
        .post(format!("{}?access_token={token}", app.url))
        .send()
        .await
        .unwrap();
    assert_refused(response, 400, Some("invalid_request"), "TOKEN_IN_QUERY").await;
    let response = app
        .client
        .post(format!("{}?access_token={token}", app.url))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_refused(
        response,
        400,
        Some("invalid_request"),
        "MULTIPLE_CREDENTIALS",
    )
    .await;
}

#[tokio::test]
async fn cache_hit_after_expiry_is_refused() {
    let issuer = IssuerServer::start().await;
    let verifier = builder(&issuer)
        .leeway(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let app = app_with(issuer, verifier, true).await;
    let mut claims = app.issuer.claims("a");
    claims["exp"] = json!(now() + 1);
    let token = app.issuer.sign(&claims);
    assert_eq!(app.call(&token).await.status(), 200);
    assert_eq!(app.call(&token).await.status(), 200); // served from the cache
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_invalid_token(app.call(&token).await, "TOKEN_EXPIRED").await;
}

#[tokio::test]
async fn explicit_jwks_uri_skips_discovery() {
    let issuer = IssuerServer::start().await;
    let verifier = builder(&issuer)
        .jwks_uri(issuer.jwks_uri())
        .build()
        .await
        .unwrap();
    assert_eq!(verifier.jwks_uri(), issuer.jwks_uri());
    assert_eq!(verifier.jwks_status().key_count, 1);
    let app = app_with(issuer, verifier, true).await;
    assert_eq!(app.call(&app.issuer.token("a")).await.status(), 200);
}
