//! The server side of the load run: one process per app, started by re-executing the bench binary
//! with [`ROLE_ENV`] set, so each server can be pinned to its own core and its peak RSS read from
//! `/proc/<pid>/status`.
//!
//! Every role serves the same small MCP-like app (`POST /mcp` → a fixed JSON-RPC answer); they
//! differ only in what stands in front of it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, Method, StatusCode, header};
use tower_mcp_auth::token::JwksVerifier;
use tower_mcp_auth::{BearerAuthLayer, ScopeGuardLayer, ScopePolicy};

/// Selects the server role in the child process.
pub const ROLE_ENV: &str = "TOWER_MCP_AUTH_LOAD_ROLE";
/// The issuer the tokens name (`http://127.0.0.1:<port>/`).
pub const ISSUER_ENV: &str = "TOWER_MCP_AUTH_LOAD_ISSUER";
/// The JWKS URL of the parent's issuer.
pub const JWKS_ENV: &str = "TOWER_MCP_AUTH_LOAD_JWKS";
/// The RSA modulus and exponent (base64url), for the naive middleware.
pub const KEY_N_ENV: &str = "TOWER_MCP_AUTH_LOAD_N";
/// See [`KEY_N_ENV`].
pub const KEY_E_ENV: &str = "TOWER_MCP_AUTH_LOAD_E";

pub const AUDIENCE: &str = "https://api.bench/mcp";
/// The JWKS refresh cooldown of the protected servers: short, so the random-`kid` flood spans
/// several cooldowns and the bound on JWKS fetches is visible.
pub const REFRESH_COOLDOWN: Duration = Duration::from_secs(2);
/// How long the RSA-rate child verifies, in seconds (a float).
pub const RSA_SECS_ENV: &str = "TOWER_MCP_AUTH_LOAD_RSA_SECS";
/// The token whose signature the RSA-rate child verifies.
pub const TOKEN_ENV: &str = "TOWER_MCP_AUTH_LOAD_TOKEN";

/// Token cache of the server that measures the miss path: far smaller than the reuse distance
/// of the token pool, so no request can hit.
pub const SMALL_CACHE: usize = 16;

const ANSWER: &str =
    r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}"#;

/// The server roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The app alone.
    Plain,
    /// The app behind a middleware that runs `jsonwebtoken::decode` on every request.
    Naive,
    /// The app behind `BearerAuthLayer` (default 10 000-token cache) + `ScopeGuardLayer`.
    Protected,
    /// Same, with a 16-token cache: every request of the distinct-token pool is a miss.
    ProtectedSmallCache,
    /// `BearerAuthLayer` alone (default cache), to split the cost between the two layers.
    BearerOnly,
    /// `BearerAuthLayer` alone with a 16-token cache: every distinct token is verified, and
    /// nothing else is done (what the naive middleware does too, so the two compare like for
    /// like).
    BearerOnlySmallCache,
    /// [`Role::Protected`] with the Prometheus recorder installed, scraped every
    /// [`SCRAPE_INTERVAL`] by a thread of the server itself.
    ProtectedPrometheus,
    /// [`Role::Protected`] served by another build of this bench, one without the `metrics`
    /// feature ([`BASELINE_EXE_ENV`]): the baseline of the metrics' cost.
    Baseline,
    /// A bare server answering every request with the very 401 [`Role::Protected`] gives a
    /// malformed token (status, headers and body captured once at start, then served as static
    /// bytes): the cost of saying why, without the cost of deciding.
    Bare401,
    /// [`Role::Protected`] (default 10 000-token cache), used only for the distinct-token flood
    /// that fills its cache, so its RSS shows the cache and nothing else.
    ProtectedFlood,
    /// A floor, not an authenticator: the app behind a middleware whose only work is the RS256
    /// signature check of the bearer token (key parsed once, as `JwksVerifier` holds it; no
    /// claim is read). Every verifier of a fresh token does at least this, so what this server
    /// reaches bounds what any can.
    SignatureOnly,
    /// A floor, not a guard: the app behind a middleware whose only work is to read the body
    /// and check it is one strict JSON value (serde_json, as the scope guard parses), handing
    /// the same bytes on. Every guard that refuses what it cannot parse (fail closed) does at
    /// least this.
    StrictParseOnly,
    /// A floor, not a verifier: [`Role::SignatureOnly`] plus what any verifier must read besides
    /// the signature, the JOSE header (`alg`, `kid`, `crit`) and the claims (`exp`, `aud`,
    /// `iss`), each base64url-decoded and parsed as one strict JSON value (serde_json, as the
    /// crate parses them), with nothing extracted and nothing checked. No verifier that reads
    /// the claims with serde_json does less.
    ClaimsFloor,
    /// A floor, not a guard: the app behind one middleware that does the least a per-tool guard
    /// behind a bearer check must, for exactly this app and its one token. The token compared
    /// with the one it knows in constant time (a static bearer compare, the floor of any auth
    /// layer on a repeated token); for `GET`, the route's scope looked up in the token's
    /// scopes; for `POST`, the body read and parsed strictly (serde_json, one value) into its
    /// `method` and `params.name` alone, the tool's scope looked up, checked, and the same bytes
    /// handed on. No cache, no policy beyond one table, no content type, session, header or
    /// batch checks. Every per-tool guard does at least this.
    ToolGuardFloor,
    /// A floor, not a guard: [`Role::ToolGuardFloor`] plus the checks the crate's guard must
    /// make on the same requests to refuse what it must (see `FloorChecks`): the token's
    /// expiry, session binding, the body's content type and coding, and the SEP-2243 headers.
    /// No guard that makes these checks does less.
    CheckedToolGuardFloor,
    /// A floor, not a verifier: [`Role::ClaimsFloor`] with the claims checked instead of only
    /// parsed: the header's `alg`, `kid` and `crit`, the claims' `iss`, `aud`, `exp` and `nbf`,
    /// and `sub` and `scope` handed on as an owned principal (what a scope guard behind the
    /// verifier reads). No verifier that accepts only valid tokens and feeds a scope guard
    /// does less.
    CheckedClaimsFloor,
    /// A floor, not a guard: [`Role::CheckedToolGuardFloor`]'s `GET` work split into two
    /// layers the way the crate's design splits it (see `split_floor.rs`): the principal handed
    /// on in the extensions, a body wrapper each way. No two-layer design with a generic body
    /// does less. `GET` only.
    SplitCheckedFloor,
    /// A second [`Role::Plain`] process, not a floor: measured against the first, the same app
    /// on the same core, it shows how far this host alone moves a ratio (an A/A control).
    PlainTwin,
    /// A second [`Role::Protected`] process, not a floor: the crate's own server measured
    /// against itself, on the GET target's requests and the malformed token. With a fresh
    /// process per measurement (the default) the two differ only as two processes do; with
    /// `LOAD_FRESH=0` the first serves every protected scenario and the twin only these two, so
    /// they differ in history too. The protected-server targets are judged on the first.
    ProtectedTwin,
}

/// The path of a load-bench binary built with `--no-default-features --features auth0,axum` (the defaults without `metrics`).
pub const BASELINE_EXE_ENV: &str = "LOAD_BASELINE_EXE";
/// How often the Prometheus server renders its metrics, as a scraper would ask.
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(2);

impl Role {
    pub const ALL: [Role; 19] = [
        Role::Plain,
        Role::Naive,
        Role::Protected,
        Role::ProtectedSmallCache,
        Role::BearerOnly,
        Role::BearerOnlySmallCache,
        Role::ProtectedPrometheus,
        Role::Baseline,
        Role::Bare401,
        Role::ProtectedFlood,
        Role::SignatureOnly,
        Role::StrictParseOnly,
        Role::ClaimsFloor,
        Role::ToolGuardFloor,
        Role::CheckedToolGuardFloor,
        Role::CheckedClaimsFloor,
        Role::SplitCheckedFloor,
        Role::PlainTwin,
        Role::ProtectedTwin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Plain => "plain",
            Role::Naive => "naive",
            Role::Protected => "protected",
            Role::ProtectedSmallCache => "protected-small-cache",
            Role::BearerOnly => "bearer-only",
            Role::BearerOnlySmallCache => "bearer-only-small-cache",
            Role::ProtectedPrometheus => "protected-prometheus",
            // Run as `protected` by the baseline binary.
            Role::Baseline => "protected-no-metrics",
            Role::Bare401 => "bare-401",
            Role::ProtectedFlood => "protected-flood",
            Role::SignatureOnly => "signature-only",
            Role::StrictParseOnly => "strict-parse-only",
            Role::ClaimsFloor => "claims-floor",
            Role::ToolGuardFloor => "tool-guard-floor",
            Role::CheckedToolGuardFloor => "checked-tool-guard-floor",
            Role::CheckedClaimsFloor => "checked-claims-floor",
            Role::SplitCheckedFloor => "split-checked-floor",
            Role::PlainTwin => "plain-twin",
            Role::ProtectedTwin => "protected-twin",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// `POST /mcp` (answers without reading the JSON), `GET /data` (a route rule protects it) and
/// `POST /mcp/parse` (an MCP server's handler: it parses the JSON-RPC body, then answers).
pub fn app() -> Router {
    let answer = || async { ([(header::CONTENT_TYPE, "application/json")], ANSWER) };
    Router::new()
        .route("/mcp", post(move |_body: Bytes| answer()))
        .route("/data", get(answer))
        .route(
            "/mcp/parse",
            post(move |body: Bytes| async move {
                let call: serde_json::Value = match serde_json::from_slice(&body) {
                    Ok(call) => call,
                    Err(_) => return StatusCode::BAD_REQUEST.into_response(),
                };
                let named = call["params"]["name"].as_str() == Some("search");
                if !named {
                    return StatusCode::BAD_REQUEST.into_response();
                }
                answer().await.into_response()
            }),
        )
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// Runs the server of `role` until the parent closes our stdin.
pub fn serve(role: &str) {
    let role = Role::from_name(role).unwrap_or_else(|| panic!("unknown role {role}"));
    // One thread serves, like one core of a real deployment.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let app = match role {
            Role::Plain | Role::PlainTwin => app(),
            Role::Naive => naive(app()),
            Role::Protected | Role::ProtectedTwin => protected(app(), None, true).await,
            Role::ProtectedSmallCache => protected(app(), Some(SMALL_CACHE), true).await,
            Role::BearerOnly => protected(app(), None, false).await,
            Role::BearerOnlySmallCache => protected(app(), Some(SMALL_CACHE), false).await,
            Role::ProtectedPrometheus => {
                install_prometheus();
                protected(app(), None, true).await
            }
            Role::Baseline => protected(app(), None, true).await,
            Role::Bare401 => bare_401(protected(app(), None, true).await).await,
            Role::ProtectedFlood => protected(app(), None, true).await,
            Role::SignatureOnly => signature_only(app(), parsed_key()),
            Role::StrictParseOnly => strict_parse_only(app()),
            Role::ClaimsFloor => claims_floor(app(), parsed_key()),
            Role::ToolGuardFloor => tool_guard_floor(app(), &env(TOKEN_ENV)),
            Role::CheckedToolGuardFloor => checked_tool_guard_floor(app(), &env(TOKEN_ENV)),
            Role::SplitCheckedFloor => split_checked_floor(app(), &env(TOKEN_ENV)),
            Role::CheckedClaimsFloor => checked_claims_floor(
                app(),
                CheckedClaims::new(parsed_key(), &env(TOKEN_ENV), env(ISSUER_ENV)),
            ),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("listening {}", listener.local_addr().expect("addr"));
        std::thread::spawn(|| {
            // The parent closes our stdin when the run is over (or dies).
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0);
        });
        axum::serve(listener, app).await.expect("serve");
    });
}

/// The recorder a gateway with `METRICS_ADDR` installs, rendered as often as a scraper asks.
fn install_prometheus() {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    use tower_mcp_auth::metrics::{TOKEN_VERIFICATION_SECONDS, VERIFICATION_SECONDS_BUCKETS};
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(TOKEN_VERIFICATION_SECONDS.to_owned()),
            VERIFICATION_SECONDS_BUCKETS,
        )
        .expect("buckets")
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only recorder");
    tower_mcp_auth::metrics::describe();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(SCRAPE_INTERVAL);
            handle.run_upkeep();
            std::hint::black_box(handle.render());
        }
    });
}

async fn protected(app: Router, cache: Option<usize>, scope_guard: bool) -> Router {
    let verifier = JwksVerifier::builder()
        .issuer(env(ISSUER_ENV))
        .audience(AUDIENCE)
        .jwks_uri(env(JWKS_ENV))
        .refresh_cooldown(REFRESH_COOLDOWN)
        .build()
        .await
        .expect("verifier");
    layers(app, verifier, cache, scope_guard)
}

/// The scope the load run's policy asks for, on `tools/call search` and on `GET /data` (the
/// tool-guard floor knows it too).
const SEARCH_READ: &str = "search.read";

/// The load run's policy: `tools/call search` and `GET /data` need `search.read`.
pub fn policy() -> ScopePolicy {
    ScopePolicy::builder()
        .tool("search", [SEARCH_READ])
        .route(Method::GET, "/data", [SEARCH_READ])
        .build()
        .expect("policy")
}

/// The load run's bearer layer, with `cache` tokens (the default when `None`).
pub fn bearer(verifier: JwksVerifier, cache: Option<usize>) -> BearerAuthLayer<JwksVerifier> {
    let bearer = BearerAuthLayer::new(verifier)
        .resource_metadata("http://127.0.0.1/.well-known/oauth-protected-resource/mcp");
    match cache {
        Some(capacity) => bearer.token_cache_capacity(capacity),
        None => bearer,
    }
}

/// `app` behind `BearerAuthLayer` (with `cache` tokens, the default when `None`) and, with
/// `scope_guard`, `ScopeGuardLayer` ([`policy`]).
pub fn layers(
    app: Router,
    verifier: JwksVerifier,
    cache: Option<usize>,
    scope_guard: bool,
) -> Router {
    let bearer = bearer(verifier, cache);
    // Both layers in one stack, as the crate's docs mount them (`McpAuth` does the same): axum
    // boxes the service, its future and its answer's body once per `Router::layer` call and
    // request, so two calls pay that twice (`get_layered_twice` in benches/paths.rs).
    if scope_guard {
        app.layer(
            tower::ServiceBuilder::new()
                .layer(bearer)
                .layer(ScopeGuardLayer::new(policy())),
        )
    } else {
        app.layer(bearer)
    }
}

struct Naive {
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

/// What a hand-written middleware typically does: decode and validate on every request.
fn naive(app: Router) -> Router {
    let key = jsonwebtoken::DecodingKey::from_rsa_components(&env(KEY_N_ENV), &env(KEY_E_ENV))
        .expect("key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[env(ISSUER_ENV)]);
    validation.set_audience(&[AUDIENCE]);
    let state = Arc::new(Naive { key, validation });
    app.layer(middleware::from_fn_with_state(state, naive_decode))
}

async fn naive_decode(State(naive): State<Arc<Naive>>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let claims = token.and_then(|token| {
        jsonwebtoken::decode::<serde_json::Value>(token, &naive.key, &naive.validation).ok()
    });
    match claims {
        Some(data) => {
            req.extensions_mut().insert(data.claims);
            next.run(req).await
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

pub type ParsedKey = aws_lc_rs::signature::ParsedPublicKey;

/// The key of [`Role::SignatureOnly`] and of the RSA-rate child, parsed once from the parent's
/// JWK (RS256), as `JwksVerifier` holds it.
fn parsed_key() -> ParsedKey {
    parsed_key_of(&env(KEY_N_ENV), &env(KEY_E_ENV))
}

/// An RS256 key parsed once from its JWK's base64url `n` and `e`.
pub fn parsed_key_of(n: &str, e: &str) -> ParsedKey {
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |part| URL_SAFE_NO_PAD.decode(part).expect("base64url");
    RsaPublicKeyComponents {
        n: decode(n),
        e: decode(e),
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .expect("key")
}

/// See [`Role::SignatureOnly`].
pub fn signature_only(app: Router, key: ParsedKey) -> Router {
    app.layer(middleware::from_fn_with_state(
        Arc::new(key),
        check_signature,
    ))
}

async fn check_signature(State(key): State<Arc<ParsedKey>>, req: Request, next: Next) -> Response {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let verified = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .and_then(|token| {
            let dot = token.iter().rposition(|b| *b == b'.')?;
            let signature = URL_SAFE_NO_PAD.decode(&token[dot + 1..]).ok()?;
            key.verify_sig(&token[..dot], &signature).ok()
        });
    match verified {
        Some(()) => next.run(req).await,
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// See [`Role::ClaimsFloor`].
pub fn claims_floor(app: Router, key: ParsedKey) -> Router {
    app.layer(middleware::from_fn_with_state(Arc::new(key), check_claims))
}

async fn check_claims(State(key): State<Arc<ParsedKey>>, req: Request, next: Next) -> Response {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let strict_json = |part: &[u8]| {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .is_some_and(|json| serde_json::from_slice::<serde::de::IgnoredAny>(&json).is_ok())
    };
    let verified = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .and_then(|token| {
            let first = token.iter().position(|b| *b == b'.')?;
            let last = token.iter().rposition(|b| *b == b'.')?;
            let signature = URL_SAFE_NO_PAD.decode(&token[last + 1..]).ok()?;
            (strict_json(&token[..first])
                && key.verify_sig(&token[..last], &signature).is_ok()
                && strict_json(&token[first + 1..last]))
            .then_some(())
        });
    match verified {
        Some(()) => next.run(req).await,
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// What [`Role::CheckedClaimsFloor`] knows: the key, the `kid` it is published under, and the
/// issuer and audience every token must name.
pub struct CheckedClaims {
    key: ParsedKey,
    kid: String,
    issuer: String,
}

/// What [`Role::CheckedClaimsFloor`] hands the app of a verified token: what a scope guard
/// behind it reads, and nothing else.
#[derive(Clone)]
// Built and handed on as a guard would read it; the app behind the floor has no guard to read it.
#[allow(dead_code)]
pub struct FloorPrincipal {
    pub subject: Box<str>,
    pub scopes: Arc<[Box<str>]>,
}

/// The JOSE header members a verifier must look at (RFC 7515 §4.1.1, §4.1.4, §4.1.11).
#[derive(serde::Deserialize)]
struct FloorHeader<'a> {
    #[serde(borrow)]
    alg: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    kid: Option<std::borrow::Cow<'a, str>>,
    crit: Option<serde::de::IgnoredAny>,
}

/// The claims a verifier must check (`iss`, `aud`, `exp`, `nbf`) or hand on (`sub`, `scope`).
#[derive(serde::Deserialize)]
struct FloorClaims<'a> {
    #[serde(borrow)]
    iss: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    aud: FloorAudience<'a>,
    exp: u64,
    nbf: Option<u64>,
    #[serde(borrow)]
    sub: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    scope: Option<std::borrow::Cow<'a, str>>,
}

/// `aud`: one string or an array of them (RFC 7519 §4.1.3); whether `AUDIENCE` is among them.
struct FloorAudience<'a>(bool, std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for FloorAudience<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = bool;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E>(self, v: &str) -> Result<bool, E> {
                Ok(v == AUDIENCE)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
                let mut found = false;
                while let Some(aud) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                    found |= aud == AUDIENCE;
                }
                Ok(found)
            }
        }
        deserializer
            .deserialize_any(Visitor)
            .map(|found| FloorAudience(found, std::marker::PhantomData))
    }
}

impl CheckedClaims {
    /// `token` is any token the issuer signed: the `kid` is read from its header, once.
    pub fn new(key: ParsedKey, token: &str, issuer: String) -> Self {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = token.split('.').next().expect("a JWS");
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url"))
                .expect("JSON");
        let kid = header["kid"].as_str().expect("kid").to_owned();
        Self { key, kid, issuer }
    }

    /// The principal of `token` when it is a compact JWS with three parts whose header names
    /// RS256 and the known `kid` (and no `crit`), whose signature verifies, and whose claims
    /// name the issuer and the audience and are within their time; `None` otherwise.
    fn verify(&self, token: &[u8]) -> Option<FloorPrincipal> {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let first = token.iter().position(|b| *b == b'.')?;
        let last = token.iter().rposition(|b| *b == b'.')?;
        if first == last || token[first + 1..last].contains(&b'.') {
            return None;
        }
        let header_json = URL_SAFE_NO_PAD.decode(&token[..first]).ok()?;
        let header: FloorHeader = serde_json::from_slice(&header_json).ok()?;
        if header.alg != "RS256"
            || header.kid.as_deref() != Some(&*self.kid)
            || header.crit.is_some()
        {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(&token[last + 1..]).ok()?;
        self.key.verify_sig(&token[..last], &signature).ok()?;
        let claims_json = URL_SAFE_NO_PAD.decode(&token[first + 1..last]).ok()?;
        let claims: FloorClaims = serde_json::from_slice(&claims_json).ok()?;
        let now = now_secs();
        let valid = claims.iss == self.issuer
            && claims.aud.0
            && now < claims.exp
            && claims.nbf.is_none_or(|nbf| nbf <= now);
        valid.then(|| FloorPrincipal {
            subject: claims.sub.into(),
            scopes: claims
                .scope
                .as_deref()
                .unwrap_or_default()
                .split(' ')
                .filter(|scope| !scope.is_empty())
                .map(Box::from)
                .collect(),
        })
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// See [`Role::CheckedClaimsFloor`].
pub fn checked_claims_floor(app: Router, floor: CheckedClaims) -> Router {
    app.layer(middleware::from_fn_with_state(
        Arc::new(floor),
        check_claims_fully,
    ))
}

async fn check_claims_fully(
    State(floor): State<Arc<CheckedClaims>>,
    mut req: Request,
    next: Next,
) -> Response {
    let principal = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .and_then(|token| floor.verify(token));
    match principal {
        Some(principal) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// See [`Role::StrictParseOnly`].
pub fn strict_parse_only(app: Router) -> Router {
    app.layer(middleware::from_fn(strict_parse))
}

async fn strict_parse(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1024 * 1024).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let strict = std::str::from_utf8(&bytes)
        .ok()
        .is_some_and(|text| serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok());
    if !strict {
        return StatusCode::BAD_REQUEST.into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// What [`Role::ToolGuardFloor`] knows: the one token it admits, the scopes that token holds,
/// the scope each tool needs, and the scope of the `GET` route (those of [`policy`]).
struct ToolGuardFloor {
    token: Box<[u8]>,
    scopes: Vec<String>,
    tools: std::collections::HashMap<&'static str, &'static str>,
    route_scope: &'static str,
    /// [`Role::CheckedToolGuardFloor`]'s checks; `None` for [`Role::ToolGuardFloor`].
    checks: Option<FloorChecks>,
}

/// What [`Role::CheckedToolGuardFloor`] checks besides [`Role::ToolGuardFloor`]'s work: the
/// checks the crate's guard makes on the same requests, without which it would pass what it
/// must refuse, each in the least form it can take here:
/// - the token's `exp` against the clock (a cached verdict outlives nothing);
/// - at most one `Mcp-Session-Id`, and a named session issued to this token's subject (404
///   otherwise); a session id on a `POST`'s answer is bound to the subject;
/// - on a `POST`: at most one `Content-Type`, JSON in UTF-8 (415 otherwise), no
///   `Content-Encoding` but `identity`, no transfer coding but `chunked`, no `Connection`
///   naming a header the decision reads (the fail-closed checks of issue 7);
/// - `Mcp-Method` and `Mcp-Name` (MCP SEP-2243), each at most once and equal to the body's
///   `method` and `params.name` when sent.
struct FloorChecks {
    exp: u64,
    subject: Box<str>,
    sessions: std::sync::Mutex<std::collections::HashMap<Bytes, Box<str>>>,
}

const SESSION_ID: http::HeaderName = http::HeaderName::from_static("mcp-session-id");
const MCP_METHOD: http::HeaderName = http::HeaderName::from_static("mcp-method");
const MCP_NAME: http::HeaderName = http::HeaderName::from_static("mcp-name");

/// The one value of `name`: `Ok(None)` when absent, `Err` when repeated.
fn at_most_one<'h>(
    headers: &'h HeaderMap,
    name: &http::HeaderName,
) -> Result<Option<&'h [u8]>, ()> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (first, None) => Ok(first.map(|v| v.as_bytes())),
        (Some(_), Some(_)) | (None, Some(_)) => Err(()),
    }
}

impl FloorChecks {
    fn fresh(&self) -> bool {
        now_secs() < self.exp
    }

    /// The request names no session, or one issued to this subject.
    fn session_allowed(&self, headers: &HeaderMap) -> bool {
        match at_most_one(headers, &SESSION_ID) {
            Ok(None) => true,
            Ok(Some(id)) => self
                .sessions
                .lock()
                .unwrap()
                .get(id)
                .is_some_and(|subject| *subject == self.subject),
            Err(()) => false,
        }
    }

    /// Binds a session the answer issues to the subject.
    fn learn(&self, headers: &HeaderMap) {
        if let Some(id) = headers.get(&SESSION_ID) {
            self.sessions
                .lock()
                .unwrap()
                .entry(Bytes::copy_from_slice(id.as_bytes()))
                .or_insert_with(|| self.subject.clone());
        }
    }

    /// The body is JSON in UTF-8, sent as is.
    fn body_headers_allowed(headers: &HeaderMap) -> bool {
        let (mut content_types, mut json) = (0, true);
        for (name, value) in headers {
            let value = value.as_bytes();
            if name == header::CONTENT_TYPE {
                content_types += 1;
                json = is_json_utf8(value);
            } else if name == header::CONTENT_ENCODING {
                json &= value.eq_ignore_ascii_case(b"identity");
            } else if name == header::TRANSFER_ENCODING {
                json &= value.eq_ignore_ascii_case(b"chunked");
            } else if name == header::CONNECTION {
                json &= !value.split(|b| *b == b',').any(|option| {
                    let option = option.trim_ascii();
                    [
                        "content-type",
                        "content-encoding",
                        "content-length",
                        "transfer-encoding",
                        "mcp-method",
                        "mcp-name",
                        "mcp-session-id",
                        "mcp-protocol-version",
                        "authorization",
                    ]
                    .iter()
                    .any(|checked| option.eq_ignore_ascii_case(checked.as_bytes()))
                });
            }
        }
        content_types <= 1 && json
    }

    /// The SEP-2243 headers, when sent, say what the body does.
    fn mcp_headers_agree(headers: &HeaderMap, call: &FloorCall<'_>) -> bool {
        let name = call.params.as_ref().and_then(|p| p.name.as_deref());
        match (
            at_most_one(headers, &MCP_METHOD),
            at_most_one(headers, &MCP_NAME),
        ) {
            (Ok(method), Ok(named)) => {
                method.is_none_or(|m| m == call.method.as_bytes())
                    && named.is_none_or(|n| Some(n) == name.map(str::as_bytes))
            }
            _ => false,
        }
    }
}

/// `application/json`, with no charset or `utf-8`.
fn is_json_utf8(value: &[u8]) -> bool {
    let mut parts = value.split(|b| *b == b';');
    let media = parts.next().unwrap_or_default().trim_ascii();
    media.eq_ignore_ascii_case(b"application/json")
        && parts.all(|param| {
            let param = param.trim_ascii();
            param.len() < 8
                || !param[..8].eq_ignore_ascii_case(b"charset=")
                || param[8..].trim_ascii().eq_ignore_ascii_case(b"utf-8")
        })
}

impl ToolGuardFloor {
    fn holds(&self, scope: &str) -> bool {
        self.scopes.iter().any(|held| held == scope)
    }
}

/// Constant time in the bytes' values, as the crate's token cache compares. (`subtle`'s slice
/// comparison, tried first, ran ~12 800 more instructions per request on the 1 117-byte token:
/// no floor.) Not inlined: inlined into the floor's `call`, the block loop ran ~160 more
/// instructions per request.
#[inline(never)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    crate_same_bytes::same_bytes(a, b)
}

/// The crate's comparison, compiled from its source: the floor compares as the crate does.
#[path = "../../src/token/same_bytes.rs"]
mod crate_same_bytes;

/// See [`Role::ToolGuardFloor`]. `token` is the one token it admits; its scopes are read from
/// its claims here, once.
pub fn tool_guard_floor(app: Router, token: &str) -> Router {
    tool_guard_floor_with(app, token, false)
}

/// See [`Role::CheckedToolGuardFloor`]: [`tool_guard_floor`] with [`FloorChecks`].
pub fn checked_tool_guard_floor(app: Router, token: &str) -> Router {
    tool_guard_floor_with(app, token, true)
}

/// See [`Role::SplitCheckedFloor`].
pub fn split_checked_floor(app: Router, token: &str) -> Router {
    split_floor::split_checked_floor(app, tool_guard_floor_of(token, true))
}

#[path = "split_floor.rs"]
mod split_floor;

fn tool_guard_floor_with(app: Router, token: &str, checked: bool) -> Router {
    let floor = tool_guard_floor_of(token, checked);
    app.layer(ToolGuardFloorLayer(Arc::new(floor)))
}

fn tool_guard_floor_of(token: &str, checked: bool) -> ToolGuardFloor {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = token.split('.').nth(1).expect("a JWS");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).expect("base64url")).expect("JSON");
    let scopes = claims["scope"].as_str().expect("scope");
    ToolGuardFloor {
        token: token.as_bytes().into(),
        scopes: scopes.split(' ').map(str::to_owned).collect(),
        tools: [("search", SEARCH_READ)].into_iter().collect(),
        route_scope: SEARCH_READ,
        checks: checked.then(|| FloorChecks {
            exp: claims["exp"].as_u64().expect("exp"),
            subject: claims["sub"].as_str().expect("sub").into(),
            sessions: Default::default(),
        }),
    }
}

/// The layer of [`Role::ToolGuardFloor`]: a hand-written tower service, as the crate's layers
/// are (axum's `from_fn` would box a `Next` and a future per request on top).
#[derive(Clone)]
struct ToolGuardFloorLayer(Arc<ToolGuardFloor>);

impl<S> tower::Layer<S> for ToolGuardFloorLayer {
    type Service = ToolGuardFloorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ToolGuardFloorService {
            inner,
            floor: Arc::clone(&self.0),
        }
    }
}

#[derive(Clone)]
struct ToolGuardFloorService<S> {
    inner: S,
    floor: Arc<ToolGuardFloor>,
}

type Answer = Result<Response, std::convert::Infallible>;
type FloorFuture<F> = futures_util::future::Either<
    futures_util::future::Either<std::future::Ready<Answer>, F>,
    std::pin::Pin<Box<dyn std::future::Future<Output = Answer> + Send>>,
>;

impl<S> tower::Service<Request> for ToolGuardFloorService<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = FloorFuture<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::convert::Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        use futures_util::future::Either;
        let refuse = |status: StatusCode| {
            Either::Left(Either::Left(std::future::ready(Ok(status.into_response()))))
        };
        let admitted = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .is_some_and(|token| same_bytes(token, &self.floor.token));
        if !admitted {
            return refuse(StatusCode::UNAUTHORIZED);
        }
        if let Some(checks) = &self.floor.checks {
            if !checks.fresh() {
                return refuse(StatusCode::UNAUTHORIZED);
            }
            if !checks.session_allowed(req.headers()) {
                return refuse(StatusCode::NOT_FOUND);
            }
        }
        if req.method() != Method::POST {
            return if self.floor.holds(self.floor.route_scope) {
                Either::Left(Either::Right(self.inner.call(req)))
            } else {
                refuse(StatusCode::FORBIDDEN)
            };
        }
        // The ready service handles this request; the clone waits for the next `poll_ready`.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let floor = Arc::clone(&self.floor);
        Either::Right(Box::pin(async move {
            let (parts, body) = req.into_parts();
            let checked = floor.checks.is_some();
            if checked && !FloorChecks::body_headers_allowed(&parts.headers) {
                return Ok(StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response());
            }
            let Ok(bytes) = axum::body::to_bytes(body, 1024 * 1024).await else {
                return Ok(StatusCode::PAYLOAD_TOO_LARGE.into_response());
            };
            let refused = match FloorCall::parse(&bytes) {
                None => Some(StatusCode::BAD_REQUEST),
                Some(call) if checked && !FloorChecks::mcp_headers_agree(&parts.headers, &call) => {
                    Some(StatusCode::BAD_REQUEST)
                }
                Some(call) => (!floor.allows(&call)).then_some(StatusCode::FORBIDDEN),
            };
            if let Some(status) = refused {
                return Ok(status.into_response());
            }
            let response = inner
                .call(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await?;
            if let Some(checks) = &floor.checks
                && response.status().is_success()
            {
                checks.learn(response.headers());
            }
            Ok(response)
        }))
    }
}

/// The part of a JSON-RPC message a per-tool guard reads: `method` and `params.name`, borrowed.
/// serde's derive refuses a repeated field, so a message naming two methods or two tools is
/// refused, as the crate refuses it.
#[derive(serde::Deserialize)]
struct FloorCall<'a> {
    #[serde(borrow)]
    method: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    params: Option<FloorParams<'a>>,
}

#[derive(serde::Deserialize)]
struct FloorParams<'a> {
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
}

impl<'a> FloorCall<'a> {
    /// `body` as one strict JSON value that is such a message.
    fn parse(body: &'a [u8]) -> Option<Self> {
        use serde::Deserialize;
        let text = std::str::from_utf8(body).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let call = FloorCall::deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(call)
    }
}

impl ToolGuardFloor {
    /// True when `call` is a `tools/call` of a tool whose scope the token holds.
    fn allows(&self, call: &FloorCall<'_>) -> bool {
        let name = call
            .params
            .as_ref()
            .and_then(|params| params.name.as_deref());
        let required = match (&*call.method, name) {
            ("tools/call", Some(name)) => self.tools.get(name).copied(),
            _ => None,
        };
        required.is_some_and(|scope| self.holds(scope))
    }
}

/// The bare 401 server: asks `protected` once, in process, how it refuses an opaque token, then
/// serves those bytes to every request on the same routes.
pub async fn bare_401(protected: Router) -> Router {
    use tower::ServiceExt;
    let request = http::Request::post("/mcp")
        .header(header::AUTHORIZATION, format!("Bearer {MALFORMED_TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from("{}"))
        .expect("request");
    let response = protected.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    let answer = Arc::new((parts.headers, body));
    let refuse = move || {
        let answer = Arc::clone(&answer);
        async move {
            let (headers, body): &(HeaderMap, Bytes) = &answer;
            (StatusCode::UNAUTHORIZED, headers.clone(), body.clone()).into_response()
        }
    };
    Router::new()
        .route("/mcp", post(refuse.clone()))
        .route("/data", get(refuse))
}

/// The opaque token of the malformed-token scenario.
pub const MALFORMED_TOKEN: &str = "mF_9B5f-4_1JqM-opaque-reference-token";

/// The RSA-rate child: RS256 verifications per second of the load run's token with the key
/// parsed once (as `JwksVerifier` holds it), on the core it is pinned to.
pub fn rsa_rate() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = parsed_key();
    let token = env(TOKEN_ENV);
    let (message, signature) = token.rsplit_once('.').expect("JWS");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    let secs: f64 = env(RSA_SECS_ENV).parse().expect("seconds");
    let start = std::time::Instant::now();
    let mut verified = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..64 {
            key.verify_sig(message.as_bytes(), &signature)
                .expect("the token verifies");
        }
        verified += 64;
    }
    println!("{}", verified as f64 / start.elapsed().as_secs_f64());
}
