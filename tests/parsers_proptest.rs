//! Property tests for the parsers and renderers that see untrusted bytes: the Authorization
//! header, token classification, JWT verification of arbitrary tokens, and the
//! `WWW-Authenticate` rendering of arbitrary descriptions and scopes (which must always parse
//! back as one valid challenge with the same values).

use std::sync::OnceLock;

use http::{HeaderMap, HeaderValue, Uri, header};
use proptest::prelude::*;
use tower_mcp_auth::challenge::{AuthError, Challenge, ErrorCode};
use tower_mcp_auth::token::{TokenShape, bearer_token, classify, require_jws};

/// Parses `Bearer name="value", name="value"` per RFC 9110 §11 (auth-param with quoted-string
/// values only, as we write them); `None` when it is not exactly that.
fn parse_challenge(value: &str) -> Option<Vec<(String, String)>> {
    let rest = value.strip_prefix("Bearer")?;
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    let mut first = true;
    loop {
        if chars.peek().is_none() {
            return Some(params);
        }
        if !first && chars.next()? != ',' {
            return None;
        }
        if chars.next()? != ' ' {
            return None;
        }
        first = false;
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            if !(c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            name.push(c);
            chars.next();
        }
        if name.is_empty() || chars.next()? != '=' || chars.next()? != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => value.push(chars.next()?),
                c if c == ' ' || ('\x21'..='\x7e').contains(&c) => value.push(c),
                _ => return None,
            }
        }
        params.push((name, value));
    }
}

fn rfc6750_clean(value: &str) -> bool {
    value
        .bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn challenge_always_parses_back(description in any::<String>(), realm in any::<String>(),
                                    scopes in proptest::collection::vec(any::<String>(), 0..4)) {
        // A realm with `"` or `\` is refused when the challenge is built (VS Code's parser
        // toggles on every `"`).
        let Ok(challenge) = Challenge::new().realm(realm.clone()) else {
            prop_assert!(realm.contains(['"', '\\']));
            return Ok(());
        };
        let challenge = challenge
            .resource_metadata("https://rs.example/.well-known/oauth-protected-resource");
        let errors = [
            AuthError::new(ErrorCode::MalformedToken, description.clone()),
            AuthError::insufficient_scope(description.clone(), scopes.clone(), scopes.clone()),
            AuthError::missing_token(),
        ];
        for error in &errors {
            let header = challenge.www_authenticate(error);
            let text = header.to_str().expect("visible ASCII");
            let params = parse_challenge(text).unwrap_or_else(|| panic!("unparsable: {text}"));
            let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
            prop_assert_eq!(names[0], "realm");
            prop_assert_eq!(names[1], "resource_metadata");
            // Printable ASCII survives exactly; everything else is replaced, never injected.
            if realm.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
                prop_assert_eq!(&params[0].1, &realm);
            }
            for (name, value) in &params {
                if name == "error_description" || name == "scope" {
                    prop_assert!(rfc6750_clean(value), "{} = {:?}", name, value);
                }
            }
        }
    }

    #[test]
    fn authorization_header_parsing_never_panics(value in proptest::collection::vec(any::<u8>(), 0..300),
                                                 query in any::<String>()) {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            headers.insert(header::AUTHORIZATION, value);
        }
        let uri: Uri = format!("/mcp?{}", query.replace(['#', ' '], ""))
            .parse()
            .unwrap_or_else(|_| Uri::from_static("/mcp"));
        match bearer_token(&headers, &uri, 128) {
            Ok(token) => {
                prop_assert!(!token.is_empty() && token.len() <= 128 + 7);
                prop_assert!(token.bytes().all(|b| b.is_ascii_graphic()));
            }
            Err(error) => prop_assert!(matches!(
                error.code(),
                ErrorCode::MissingToken
                    | ErrorCode::MalformedAuthorizationHeader
                    | ErrorCode::MultipleCredentials
                    | ErrorCode::TokenInQuery
                    | ErrorCode::TokenTooLarge
            )),
        }
    }

    #[test]
    fn well_formed_bearer_headers_round_trip(token in "[A-Za-z0-9._~+/-]{1,100}={0,2}") {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        prop_assert_eq!(bearer_token(&headers, &Uri::from_static("/"), 1024).unwrap(), token.as_str());
    }

    #[test]
    fn classification_is_total_and_consistent(token in any::<String>()) {
        let shape = classify(&token);
        let dots = token.matches('.').count();
        match shape {
            TokenShape::Jws => prop_assert_eq!(dots, 2),
            TokenShape::Jwe => prop_assert_eq!(dots, 4),
            TokenShape::Opaque => {}
        }
        prop_assert_eq!(require_jws(&token).is_ok(), shape == TokenShape::Jws);
    }
}

/// A verifier against an in-memory JWKS, for feeding arbitrary tokens to the whole verification.
fn verifier() -> &'static (tokio::runtime::Runtime, tower_mcp_auth::token::JwksVerifier) {
    static VERIFIER: OnceLock<(tokio::runtime::Runtime, tower_mcp_auth::token::JwksVerifier)> =
        OnceLock::new();
    VERIFIER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let verifier = runtime.block_on(async {
            let signer = tower_mcp_auth::dev::DevIssuer::generate().unwrap();
            let jwks = signer.jwks();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = axum::Router::new().route(
                "/jwks",
                axum::routing::get(move || async move { axum::Json(jwks) }),
            );
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            tower_mcp_auth::token::JwksVerifier::builder()
                .issuer(format!("http://{addr}/"))
                .audience("aud")
                .jwks_uri(format!("http://{addr}/jwks"))
                .build()
                .await
                .unwrap()
        });
        (runtime, verifier)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_jws_shaped_tokens_are_refused_cleanly(
        header in proptest::collection::vec(any::<u8>(), 0..80),
        claims in proptest::collection::vec(any::<u8>(), 0..200),
        signature in "[A-Za-z0-9_-]{0,40}",
        kid in "[a-z0-9-]{0,12}",
        alg in prop_oneof![Just("RS256"), Just("none"), Just("HS256"), Just("ES256"), Just("XX")],
    ) {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use tower_mcp_auth::token::TokenVerifier;
        let (runtime, verifier) = verifier();
        let structured = serde_json::json!({"alg": alg, "kid": kid}).to_string();
        for header in [URL_SAFE_NO_PAD.encode(&header), URL_SAFE_NO_PAD.encode(structured)] {
            let token = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(&claims));
            let error = runtime.block_on(verifier.verify(&token)).map(|_| ()).unwrap_err();
            prop_assert!(error.code().status().is_client_error() || error.code() == ErrorCode::KeysUnavailable,
                "{:?}", error);
        }
    }
}
