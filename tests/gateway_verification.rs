//! The example gateway's token verification settings, run as a real process: several issuers
//! and audiences (`OAUTH_ISSUER` / `OAUTH_AUDIENCE` comma lists), an origin-only `RESOURCE_URL`
//! advertised exactly as configured, `OAUTH_ALGORITHMS`, `OAUTH_TOKEN_TYP`, `OAUTH_INTROSPECTION`,
//! and `doctor --token` explaining the new refusals.
#![cfg(feature = "auth0")]

mod support;
use support::{gateway::backends, gateway::process, introspection_server, issuer_server};

use backends::*;
use introspection_server::{CLIENT_ID, CLIENT_SECRET, IntrospectionServer};
use issuer_server::{IssuerServer, now};
use process::command;
use serde_json::{Value, json};

const ORIGIN: &str = "https://gateway.test";

fn claims(iss: &str, aud: &str) -> Value {
    json!({"iss": iss, "sub": "user-1", "aud": aud, "iat": now(), "exp": now() + 600,
           "scope": "search.read"})
}

async fn call(gateway: &process::GatewayProcess, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(gateway.url("/tools/search"))
        .bearer_auth(token)
        .json(&json!({"q": "x"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    if status == 201 {
        // The backend's answer: the call reached it, signed by the gateway.
        assert_eq!(body, json!({"signature_verified": true, "tool": "search"}));
    }
    (status, body)
}

fn base_env<'a>(
    issuers: &'a str,
    audiences: &'a str,
    up: &'a Upstreams,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("OAUTH_ISSUER", issuers),
        ("OAUTH_AUDIENCE", audiences),
        ("FUNCTIONS_BASE", up.functions_base.as_str()),
        ("GATEWAY_HMAC_SECRET", HMAC_SECRET),
        ("BIND_ADDR", "127.0.0.1"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_only_resource_is_advertised_exactly_and_both_spellings_are_accepted() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let mut vars = base_env(&issuer.issuer, ORIGIN, &up);
    vars.push(("RESOURCE_URL", ORIGIN));
    let gateway = start(vars);
    let metadata = json_of(
        reqwest::get(gateway.url("/.well-known/oauth-protected-resource"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(metadata["resource"], ORIGIN, "not https://gateway.test/");
    // Claude and the TypeScript SDK ask for `https://gateway.test/`; others for the bare origin.
    for aud in [ORIGIN, "https://gateway.test/", "HTTPS://Gateway.Test/"] {
        let (status, body) = call(&gateway, &issuer.sign(&claims(&issuer.issuer, aud))).await;
        assert_eq!(status, 201, "{aud}: {body}");
    }
    let (status, body) = call(
        &gateway,
        &issuer.sign(&claims(&issuer.issuer, "https://gateway.test/mcp")),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("INVALID_AUDIENCE"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comma_lists_accept_every_issuer_and_audience_and_the_first_is_advertised() {
    let canonical = IssuerServer::start().await;
    let custom = IssuerServer::start().await;
    let stranger = IssuerServer::start().await;
    let up = upstreams().await;
    let issuers = format!("{}, {}", canonical.issuer, custom.issuer);
    let audiences = "https://new.example/mcp,https://old.example/mcp";
    let gateway = start(base_env(&issuers, audiences, &up));
    let metadata = json_of(
        reqwest::get(gateway.url("/.well-known/oauth-protected-resource/mcp"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(metadata["resource"], "https://new.example/mcp");
    for issuer in [&canonical, &custom] {
        for aud in ["https://new.example/mcp", "https://old.example/mcp"] {
            let (status, body) = call(&gateway, &issuer.sign(&claims(&issuer.issuer, aud))).await;
            assert_eq!(status, 201, "{} {aud}: {body}", issuer.issuer);
        }
    }
    let (status, body) = call(
        &gateway,
        &stranger.sign(&claims(&stranger.issuer, "https://new.example/mcp")),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("INVALID_ISSUER"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_lets_opaque_tokens_in_and_jwts_still_use_the_keys() {
    let server = IntrospectionServer::start().await;
    let up = upstreams().await;
    let audience = "https://api.test/mcp";
    let mut vars = base_env(&server.issuer, audience, &up);
    vars.extend([
        ("OAUTH_INTROSPECTION", "true"),
        ("OAUTH_INTROSPECTION_CLIENT_ID", CLIENT_ID),
        ("OAUTH_INTROSPECTION_CLIENT_SECRET", CLIENT_SECRET),
    ]);
    server.issue(
        "opaque-token-1",
        json!({"sub": "user-9", "aud": audience, "scope": "search.read", "exp": now() + 600}),
    );
    let gateway = start(vars);
    let (status, body) = call(&gateway, "opaque-token-1").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = call(&gateway, "never-issued").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("TOKEN_INACTIVE"))
    );
    let jwt = server
        .signer
        .sign(&claims(&server.issuer, audience))
        .unwrap();
    let (status, body) = call(&gateway, &jwt).await;
    assert_eq!(status, 201, "{body}");
    assert!(!gateway.stderr().contains(CLIENT_SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn algorithms_and_typ_are_enforced_as_configured() {
    let issuer = IssuerServer::start().await;
    let up = upstreams().await;
    let aud = "https://api.test/mcp";
    let mut vars = base_env(&issuer.issuer, aud, &up);
    vars.extend([("OAUTH_ALGORITHMS", "PS256"), ("OAUTH_TOKEN_TYP", "at+jwt")]);
    let gateway = start(vars);
    // The issuer's RS256 token: the algorithm is not listed.
    let (status, body) = call(&gateway, &issuer.sign(&claims(&issuer.issuer, aud))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("ALGORITHM_NOT_ALLOWED"))
    );

    let rs256 = IssuerServer::start().await;
    let mut vars = base_env(&rs256.issuer, aud, &up);
    vars.push(("OAUTH_TOKEN_TYP", "at+jwt"));
    let gateway = start(vars);
    let header = json!({"alg": "RS256", "kid": rs256.signer.kid(), "typ": "JWT"});
    let jwt_typ = rs256
        .signer
        .sign_with_header(&header, &claims(&rs256.issuer, aud))
        .unwrap();
    let (status, body) = call(&gateway, &jwt_typ).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("INVALID_TOKEN_TYPE"))
    );
    let (status, _) = call(&gateway, &rs256.sign(&claims(&rs256.issuer, aud))).await;
    assert_eq!(status, 201);
}

fn doctor(vars: &[(&str, &str)], token: &str) -> String {
    let output = command(vars, &["doctor", "--token", token])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_explains_the_new_refusals() {
    let first = IssuerServer::start().await;
    let second = IssuerServer::start().await;
    let stranger = IssuerServer::start().await;
    let server = IntrospectionServer::start().await;
    let aud = "https://api.test/mcp";
    let issuers = format!("{},{}", first.issuer, second.issuer);
    let vars = vec![
        ("OAUTH_ISSUER", issuers.as_str()),
        ("OAUTH_AUDIENCE", aud),
        ("FUNCTIONS_BASE", "https://functions.example.com"),
        ("GATEWAY_HMAC_SECRET", HMAC_SECRET),
        ("OAUTH_TOKEN_TYP", "at+jwt"),
    ];
    let stranger_token = stranger.sign(&claims(&stranger.issuer, aud));
    let out = tokio::task::block_in_place(|| doctor(&vars, &stranger_token));
    assert!(out.contains("[FAIL] token: INVALID_ISSUER"), "{out}");
    assert!(out.contains("none of the 2 accepted issuers"), "{out}");
    assert!(
        out.contains("a custom domain is an issuer of its own"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "accepted issuers: {}, {}",
            first.issuer, second.issuer
        )),
        "{out}"
    );

    let header = json!({"alg": "RS256", "kid": second.signer.kid(), "typ": "JWT"});
    let typed = second
        .signer
        .sign_with_header(&header, &claims(&second.issuer, aud))
        .unwrap();
    let out = tokio::task::block_in_place(|| doctor(&vars, &typed));
    assert!(out.contains("[FAIL] token: INVALID_TOKEN_TYPE"), "{out}");
    assert!(out.contains("typ=\"JWT\""), "{out}");
    assert!(out.contains("RFC 9068"), "{out}");

    let es256 = {
        let header = json!({"alg": "ES256", "kid": first.signer.kid(), "typ": "at+jwt"});
        first
            .signer
            .sign_with_header(&header, &claims(&first.issuer, aud))
            .unwrap()
    };
    let out = tokio::task::block_in_place(|| doctor(&vars, &es256));
    assert!(out.contains("[FAIL] token: ALGORITHM_NOT_ALLOWED"), "{out}");
    assert!(out.contains("OAUTH_ALGORITHMS"), "{out}");

    let introspecting = vec![
        ("OAUTH_ISSUER", server.issuer.as_str()),
        ("OAUTH_AUDIENCE", aud),
        ("FUNCTIONS_BASE", "https://functions.example.com"),
        ("GATEWAY_HMAC_SECRET", HMAC_SECRET),
        ("OAUTH_INTROSPECTION", "true"),
        ("OAUTH_INTROSPECTION_CLIENT_ID", CLIENT_ID),
        ("OAUTH_INTROSPECTION_CLIENT_SECRET", CLIENT_SECRET),
    ];
    let out = tokio::task::block_in_place(|| doctor(&introspecting, "revoked-opaque-token"));
    assert!(
        out.contains(&format!("[ok]   introspection: {}", server.endpoint)),
        "{out}"
    );
    assert!(out.contains("[FAIL] token: TOKEN_INACTIVE"), "{out}");
    assert!(out.contains("revoked or expired"), "{out}");
    assert!(!out.contains(CLIENT_SECRET), "{out}");
}
