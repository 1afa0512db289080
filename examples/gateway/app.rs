//! The gateway's router, assembled from the library's layers.
//!
//! ```text
//! GET  /healthz                                   liveness, always 200
//! GET  /health/auth0                              JWKS / Auth0 state (200 or 503)
//! GET  /.well-known/oauth-protected-resource[/path]   PrmRoute (RFC 9728), public
//! POST /tools/{tool}   ─┐  canonical path ─► BearerAuthLayer ─► ScopeGuardLayer ─► rate limits
//! ANY  /mcp            ─┘  (tool_path.rs)     (RATE_LIMIT_*) ─► proxy (FUNCTIONS_BASE/{tool}
//!                                             after the tool's own check on the decoded name,
//!                                             or MCP_UPSTREAM)
//! GET  /debug-token       BearerAuthLayer ─► the caller's verified claims (opt-in)
//! POST /auth0-log-webhook Auth0LogWebhookService (shared secret; with MGMT_* set)
//! ```
//! CORS (from `APP_ORIGIN`) and request tracing wrap everything; `server.rs` adds the header,
//! request and concurrency limits around the whole.

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{any, get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;
use tower_mcp_auth::auth0::{Auth0Health, Auth0LogWebhookService};
use tower_mcp_auth::prm::PrmError;
use tower_mcp_auth::scope::ToolsListFilterLayer;
use tower_mcp_auth::token::{IntrospectionVerifier, JwksVerifier};
use tower_mcp_auth::{
    AccessToken, AuthError, BearerAuthLayer, Challenge, PrmRoute, ProtectedResourceMetadata,
    ScopeGuardLayer,
};
use url::Url;

use crate::config::{AllowedOrigins, ClientAuth};
use tower_mcp_auth::health::AuthHealth;

use crate::health::{self, HealthState};
use crate::policy::GatewayPolicy;
use crate::proxy::{self, Proxy};
use crate::rate_limit::{self, RateLimits};
use crate::tool_path;
use crate::verifier::GatewayVerifier;

/// Everything the router is built from, resolved (dev-mode defaults applied).
pub struct Settings {
    pub verifier: JwksVerifier,
    /// With `OAUTH_INTROSPECTION=true`: opaque tokens are introspected.
    pub introspection: Option<IntrospectionVerifier>,
    /// The resource exactly as configured: the metadata's `resource`.
    pub resource: String,
    pub functions_base: Option<Url>,
    pub mcp_upstream: Option<Url>,
    pub proxy: Proxy,
    pub app_origin: Option<AllowedOrigins>,
    pub debug_token_endpoint: bool,
    /// `HEALTH_DETAILS=public`: `/health/auth0` shows its whole report, not only the status.
    pub health_details: bool,
    pub mode: &'static str,
    pub policy: GatewayPolicy,
    /// Callers without a token, the challenge mode, `tools/list` trimming.
    pub client_auth: ClientAuth,
    /// The DCR webhook and its health state, when `MGMT_*` and `LOG_WEBHOOK_SECRET` are set.
    pub webhook: Option<(Auth0LogWebhookService, Auth0Health)>,
    /// Per user, client and tool, when any `RATE_LIMIT_*` is set.
    pub rate_limits: Option<Arc<RateLimits>>,
}

#[derive(Clone)]
struct ProxyState {
    proxy: Proxy,
    functions_base: Option<Arc<Url>>,
    mcp_upstream: Option<Arc<Url>>,
    /// Checks `/tools/{tool}` by the decoded name, and writes its refusals as the guard does.
    policy: Arc<GatewayPolicy>,
    challenge: Arc<Challenge>,
}

/// The RFC 9728 metadata: the resource, its issuer, the policy's scopes, and (as the seeds'
/// MCP servers publish it) the scopes of each tool under `scopes`.
fn metadata_route(settings: &Settings) -> Result<PrmRoute, PrmError> {
    let mut metadata = ProtectedResourceMetadata::new(settings.resource.as_str());
    metadata.authorization_servers = Some(vec![settings.verifier.issuer().to_owned()]);
    metadata.resource_name = Some("tower-mcp-auth gateway".to_owned());
    if !settings.policy.tools.is_empty() {
        metadata.extra.insert(
            "scopes".to_owned(),
            serde_json::to_value(&settings.policy.tools).unwrap_or_default(),
        );
    }
    PrmRoute::new(metadata, &settings.policy.policy)
}

pub fn router(settings: Settings) -> Result<Router, PrmError> {
    let prm = metadata_route(&settings)?;
    // One challenge for both layers, naming the metadata URL this very router serves.
    let mut challenge = prm.challenge();
    let client_auth = &settings.client_auth;
    let policy = Arc::new(settings.policy.policy.clone());
    let mut guard = ScopeGuardLayer::new(Arc::clone(&policy))
        .challenge(challenge.clone())
        .challenge_mode(client_auth.challenge);
    if client_auth.challenge_all_scopes {
        challenge = challenge.scope_hint(policy.all_scopes_hint());
        guard = guard.challenge_all_policy_scopes();
    }
    let verifier = GatewayVerifier::new(settings.verifier.clone(), settings.introspection.clone());
    let bearer = BearerAuthLayer::new(verifier).challenge(challenge.clone());
    // /debug-token always needs a token, whatever is public.
    let debug_bearer = bearer.clone();
    // With public operations, a request without a token goes on to the guard, which lets only
    // the public ones through.
    let bearer = if client_auth.has_public_operations() {
        bearer.optional()
    } else {
        bearer
    };

    let state = ProxyState {
        proxy: settings.proxy,
        functions_base: settings.functions_base.map(Arc::new),
        mcp_upstream: settings.mcp_upstream.map(Arc::new),
        policy: Arc::new(settings.policy.clone()),
        challenge: Arc::new(challenge),
    };
    let mut tools = Router::new().route("/tools/{tool}", post(tool_call));
    if state.mcp_upstream.is_some() {
        tools = tools.route("/mcp", any(mcp_passthrough));
    }
    // On an axum Router the layer added last runs first: bearer, the scope guard, the filter,
    // the rate limits.
    let mut tools = tools.with_state(state);
    if let Some(limits) = settings.rate_limits {
        // Inside the guard: only verified, authorized requests are counted.
        rate_limit::spawn_eviction(Arc::clone(&limits));
        tools = tools.layer(axum::middleware::from_fn_with_state(
            limits,
            rate_limit::enforce,
        ));
    }
    if client_auth.hide_unauthorized_tools {
        tools = tools.layer(ToolsListFilterLayer::new(Arc::clone(&policy)));
    }
    let mut protected = tools.layer(guard).layer(bearer);
    if settings.debug_token_endpoint {
        // Token only, no scope guard: a token that lacks scopes is what one debugs.
        protected = protected.merge(
            Router::new()
                .route("/debug-token", get(crate::debug_token::debug_token))
                .with_state(settings.policy.clone())
                .layer(debug_bearer),
        );
    }
    // Outermost: a path the handlers would decode differently from how it reads is refused
    // before the token is even looked at.
    let protected = protected.layer(axum::middleware::from_fn(tool_path::canonical_paths_only));

    let health = Router::new()
        .route("/health/auth0", get(health::auth0_health))
        .with_state(HealthState {
            health: match settings.webhook.as_ref() {
                Some((_, auth0)) => AuthHealth::new(settings.verifier).with_auth0(auth0.clone()),
                None => AuthHealth::new(settings.verifier),
            },
            mode: settings.mode,
            details: settings.health_details,
        });

    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(health)
        .merge(protected);
    for path in prm.paths() {
        app = app.route_service(path, prm.clone());
    }
    if let Some((webhook, _)) = settings.webhook {
        // Authenticated by the log stream's shared secret, not by a bearer token.
        app = app.route_service("/auth0-log-webhook", webhook);
    }
    let mut app = app.fallback(|| async {
        proxy::error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "No such endpoint on this gateway",
        )
    });
    if let Some(origins) = settings.app_origin {
        app = app.layer(cors(origins));
    }
    Ok(app.layer(TraceLayer::new_for_http()))
}

fn cors(origins: AllowedOrigins) -> CorsLayer {
    let allow_origin = match origins {
        AllowedOrigins::Any => AllowOrigin::any(),
        AllowedOrigins::List(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        ),
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("mcp-method"),
            HeaderName::from_static("mcp-name"),
            HeaderName::from_static("last-event-id"),
        ])
        // Browser clients must read the challenge to find the metadata and the scopes to ask.
        .expose_headers([
            header::WWW_AUTHENTICATE,
            HeaderName::from_static("mcp-session-id"),
        ])
}

async fn tool_call(
    State(state): State<ProxyState>,
    Path(tool): Path<String>,
    // None: a public tool called without a token (the guard let only those through).
    token: Option<Extension<AccessToken>>,
    request: Request,
) -> Response {
    let Some(base) = &state.functions_base else {
        return proxy::error(
            StatusCode::NOT_FOUND,
            "TOOLS_NOT_CONFIGURED",
            "This gateway has no FUNCTIONS_BASE: tools are served through /mcp",
        );
    };
    let Some(target) = proxy::tool_url(base, &tool) else {
        return proxy::error(
            StatusCode::NOT_FOUND,
            "UNKNOWN_TOOL",
            "Tool names are made of letters, digits, `-`, `_` and `.`",
        );
    };
    // The name checked is the decoded one: the very string forwarded and signed.
    if !state.policy.tools.contains_key(&tool)
        && let Some(named) = state
            .policy
            .tools
            .keys()
            .find(|named| named.eq_ignore_ascii_case(&tool))
    {
        return proxy::error(
            StatusCode::BAD_REQUEST,
            "NON_CANONICAL_TOOL_NAME",
            &format!("Tool names are case-sensitive: `{tool}` is not the tool `{named}`"),
        );
    }
    // Checked here, not by a route rule: the guard sees the raw path, this is the decoded name.
    // Without a token only a public tool passes (the bearer layer is optional only when the
    // policy has public operations).
    let policy = &state.policy.policy;
    let verdict = match token.as_ref() {
        Some(Extension(token)) => policy.check_tool(token, &tool),
        None if policy.is_public_tool(&tool) => Ok(()),
        None => Err(AuthError::token_required(
            format!("POST /tools/{tool}"),
            policy.required_scopes_for_tool(&tool).unwrap_or_default(),
        )),
    };
    if let Err(refusal) = verdict {
        tracing::debug!(code = %refusal.code(), tool, missing_scopes = ?refusal.missing_scopes(), "tool call refused");
        return state
            .challenge
            .response::<Body>(&refusal, request.headers())
            .map(Body::new);
    }
    state
        .proxy
        .forward(request, target, token.as_ref().map(|t| &t.0))
        .await
}

async fn mcp_passthrough(
    State(state): State<ProxyState>,
    // None: a public MCP call without a token (the guard let only those through).
    token: Option<Extension<AccessToken>>,
    request: Request,
) -> Response {
    match &state.mcp_upstream {
        Some(upstream) => {
            state
                .proxy
                .forward(request, (**upstream).clone(), token.as_ref().map(|t| &t.0))
                .await
        }
        None => proxy::error(StatusCode::NOT_FOUND, "NOT_FOUND", "No MCP upstream"),
    }
}
