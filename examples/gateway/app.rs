//! The gateway's router, assembled from the library's layers.
//!
//! ```text
//! GET  /healthz                                   liveness, always 200
//! GET  /health/auth0                              JWKS / Auth0 state (200 or 503)
//! POST /tools/{tool}   ─┐
//! ANY  /mcp            ─┴─ BearerAuthLayer ─► proxy (FUNCTIONS_BASE/{tool}, MCP_UPSTREAM)
//! GET  /debug-token       BearerAuthLayer ─► the caller's verified claims (opt-in)
//! POST /auth0-log-webhook Auth0LogWebhookService (shared secret; with MGMT_* set)
//! ```
//! CORS (from `APP_ORIGIN`) and request tracing wrap everything.

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::{any, get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;
use tower_mcp_auth::auth0::{Auth0Health, Auth0LogWebhookService};
use tower_mcp_auth::token::JwksVerifier;
use tower_mcp_auth::{AccessToken, BearerAuthLayer, Challenge};
use url::Url;

use crate::config::AllowedOrigins;
use crate::health::{self, HealthState};
use crate::proxy::{self, Proxy};

/// Everything the router is built from, resolved (dev-mode defaults applied).
pub struct Settings {
    pub verifier: JwksVerifier,
    pub resource_url: Url,
    pub functions_base: Option<Url>,
    pub mcp_upstream: Option<Url>,
    pub proxy: Proxy,
    pub app_origin: Option<AllowedOrigins>,
    pub debug_token_endpoint: bool,
    pub mode: &'static str,
    /// The DCR webhook and its health state, when `MGMT_*` and `LOG_WEBHOOK_SECRET` are set.
    pub webhook: Option<(Auth0LogWebhookService, Auth0Health)>,
}

#[derive(Clone)]
struct ProxyState {
    proxy: Proxy,
    functions_base: Option<Arc<Url>>,
    mcp_upstream: Option<Arc<Url>>,
}

/// RFC 9728 §3.1: the metadata URL inserts the well-known segment between host and path.
pub fn resource_metadata_url(resource: &Url) -> String {
    let mut url = resource.clone();
    let path = resource.path().trim_end_matches('/');
    url.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

pub fn router(settings: Settings) -> Router {
    let challenge =
        Challenge::new().resource_metadata(resource_metadata_url(&settings.resource_url));
    let bearer = BearerAuthLayer::new(settings.verifier.clone()).challenge(challenge);

    let state = ProxyState {
        proxy: settings.proxy,
        functions_base: settings.functions_base.map(Arc::new),
        mcp_upstream: settings.mcp_upstream.map(Arc::new),
    };
    let mut tools = Router::new().route("/tools/{tool}", post(tool_call));
    if state.mcp_upstream.is_some() {
        tools = tools.route("/mcp", any(mcp_passthrough));
    }
    let mut protected = tools.with_state(state);
    if settings.debug_token_endpoint {
        protected = protected.route("/debug-token", get(crate::debug_token::debug_token));
    }
    let protected = protected.layer(bearer);

    let health = Router::new()
        .route("/health/auth0", get(health::auth0_health))
        .with_state(HealthState {
            verifier: settings.verifier,
            mode: settings.mode,
            auth0: settings.webhook.as_ref().map(|(_, health)| health.clone()),
        });

    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(health)
        .merge(protected);
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
    app.layer(TraceLayer::new_for_http())
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
    Extension(token): Extension<AccessToken>,
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
    state.proxy.forward(request, target, &token).await
}

async fn mcp_passthrough(
    State(state): State<ProxyState>,
    Extension(token): Extension<AccessToken>,
    request: Request,
) -> Response {
    match &state.mcp_upstream {
        Some(upstream) => {
            state
                .proxy
                .forward(request, (**upstream).clone(), &token)
                .await
        }
        None => proxy::error(StatusCode::NOT_FOUND, "NOT_FOUND", "No MCP upstream"),
    }
}
