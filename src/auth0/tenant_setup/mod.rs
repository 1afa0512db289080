//! [`TenantSetup`]: the one-time, tenant-wide Auth0 set-up a ChatGPT or Claude connector needs
//! on the 2026 platform, as code. From the [`ScopePolicy`], the resource URL, the login
//! connection and the CIMD URLs, it reads the tenant and returns a [`Plan`] (each change with what
//! is there now, what it will be and why), then applies it:
//!
//! 1. the API whose Identifier is exactly the resource URL, RS256, with every policy scope;
//! 2. the login connection(s) promoted to domain level — third-party apps can use no other;
//! 3. the default permissions for third-party apps: one `default_for: third_party_clients`,
//!    `subject_type: user` grant with every policy scope ("Without default permissions, DCR
//!    clients will not be able to access any API", Auth0 docs, Dynamic Client Registration);
//! 4. tenant settings: `resource_parameter_profile: compatibility`,
//!    `authorization_response_iss_parameter_supported`, `client_id_metadata_document_supported`
//!    when CIMD URLs are given, and Dynamic Client Registration on (or off, as configured);
//! 5. the CIMD URLs registered (`POST /api/v2/clients/cimd/register`, an idempotent upsert).
//!
//! Applying is idempotent — after a successful apply the next plan is empty — and a run that
//! failed halfway is completed by the next one. It never removes anything: extra API scopes,
//! other grants and other connections stay as they are, and a tenant setting changes only when
//! the plan says so and why. Missing Management API scopes are named before any write.
//!
//! ```no_run
//! use tower_mcp_auth::{ClientSecret, ScopePolicy};
//! use tower_mcp_auth::auth0::{ManagementClient, TenantSetup};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = ScopePolicy::builder().tool("search", ["search.read"]).build()?;
//! let mgmt = ManagementClient::builder("dev-x.us.auth0.com")
//!     .client_credentials("M2M_ID", ClientSecret::new("M2M_SECRET"))
//!     .build()?;
//! let setup = TenantSetup::builder(mgmt, &policy, "https://gateway.example.com/mcp")
//!     .connection("google-oauth2")
//!     .cimd_client_id("https://chatgpt.com/oauth/client.json")
//!     .build()?;
//! let plan = setup.plan().await?;
//! println!("{plan}");
//! if !plan.is_empty() {
//!     let applied = setup.apply().await?;
//!     println!("{} change(s) made", applied.done.len());
//! }
//! # Ok(()) }
//! ```

mod apply;
mod cimd_url;
mod error;
mod plan;
mod read;
mod scopes;

pub use apply::Applied;
pub use cimd_url::{CimdUrlRule, MAX_CIMD_URL_BYTES, check_cimd_url};
pub use error::TenantSetupError;
pub use plan::{Action, Change, MissingScope, Plan, RegistrationModes};
pub use scopes::ALL_SETUP_SCOPES;

use url::Url;

use crate::ScopePolicy;
use crate::auth0::ManagementClient;

/// ChatGPT's CIMD URL for authorization servers with RFC 9207 issuer identification (OpenAI,
/// "Authentication" for apps and connectors).
pub const CHATGPT_CIMD_URL: &str = "https://chatgpt.com/oauth/client.json";
/// Claude's CIMD URL (Anthropic, "Authentication" for connectors).
pub const CLAUDE_CIMD_URL: &str = "https://claude.ai/oauth/mcp-oauth-client-metadata";

/// The tenant-wide set-up; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct TenantSetup {
    mgmt: ManagementClient,
    resource: String,
    api_name: String,
    scopes: Vec<String>,
    connections: Vec<String>,
    cimd_urls: Vec<String>,
    dcr: bool,
    default_grant: bool,
}

/// Configures a [`TenantSetup`]; see [`TenantSetup::builder`].
#[derive(Debug, Clone)]
pub struct TenantSetupBuilder {
    setup: TenantSetup,
}

impl TenantSetup {
    /// A set-up of the API `resource` (the resource URL: Identifier, `audience` and RFC 8707
    /// `resource` alike) with every scope of `policy`, through `mgmt`.
    pub fn builder(
        mgmt: ManagementClient,
        policy: &ScopePolicy,
        resource: impl Into<String>,
    ) -> TenantSetupBuilder {
        let resource = resource.into();
        TenantSetupBuilder {
            setup: TenantSetup {
                mgmt,
                api_name: format!("MCP server {resource}"),
                resource,
                scopes: policy.all_scopes().to_vec(),
                connections: Vec::new(),
                cimd_urls: Vec::new(),
                dcr: true,
                default_grant: true,
            },
        }
    }

    /// Reads the tenant and says what applying would change. Sends only reads (and the CIMD
    /// preview, which registers nothing).
    pub async fn plan(&self) -> Result<Plan, TenantSetupError> {
        read::plan(self).await
    }

    /// Reads the tenant again and makes every pending change, in plan order. Refuses before
    /// any write when the M2M application lacks a scope a change needs.
    pub async fn apply(&self) -> Result<Applied, TenantSetupError> {
        let plan = self.plan().await?;
        apply::apply(self, plan).await
    }

    /// Makes the pending changes of a plan this set-up made (e.g. the one just shown to the
    /// operator) without reading the tenant again. Each write is still idempotent, and a plan
    /// that went stale fails at Auth0 (e.g. 409) rather than doing something else.
    pub async fn apply_plan(&self, plan: Plan) -> Result<Applied, TenantSetupError> {
        apply::apply(self, plan).await
    }

    /// The resource URL (the API Identifier).
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The scopes the API, the default grant and the tokens must carry.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

impl TenantSetupBuilder {
    /// A login connection (e.g. `google-oauth2`) to promote to domain level; at least one.
    pub fn connection(mut self, name: impl Into<String>) -> Self {
        self.setup.connections.push(name.into());
        self
    }

    /// Several login connections.
    pub fn connections(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.setup
            .connections
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// A CIMD URL to register, e.g. [`CHATGPT_CIMD_URL`]. Any CIMD URL also turns on
    /// `client_id_metadata_document_supported`.
    pub fn cimd_client_id(mut self, url: impl Into<String>) -> Self {
        self.setup.cimd_urls.push(url.into());
        self
    }

    /// Several CIMD URLs.
    pub fn cimd_client_ids(mut self, urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.setup
            .cimd_urls
            .extend(urls.into_iter().map(Into::into));
        self
    }

    /// Whether open Dynamic Client Registration should be on (default `true`).
    pub fn dynamic_client_registration(mut self, on: bool) -> Self {
        self.setup.dcr = on;
        self
    }

    /// Whether the set-up manages the tenant's default grant for third-party apps (default
    /// `true`). Turn it off when clients get their grants one by one — from the DCR webhook with
    /// its callback allow-list — since a default grant lets every registered client ask for
    /// every scope. An existing default grant is then left as it is.
    pub fn default_grant(mut self, on: bool) -> Self {
        self.setup.default_grant = on;
        self
    }

    /// The API's display name when it is created (default `MCP server <resource>`).
    pub fn api_name(mut self, name: impl Into<String>) -> Self {
        self.setup.api_name = name.into();
        self
    }

    /// Checks the configuration; no request is sent.
    pub fn build(mut self) -> Result<TenantSetup, TenantSetupError> {
        let setup = &mut self.setup;
        match Url::parse(&setup.resource) {
            Ok(url) if url.scheme() == "https" => {}
            _ => {
                return Err(TenantSetupError::Config(format!(
                    "the resource `{}` must be an absolute https URL: RFC 8707 `resource` and \
                     the API Identifier are the same string",
                    setup.resource
                )));
            }
        }
        setup.connections.retain(|c| !c.trim().is_empty());
        if setup.connections.is_empty() {
            return Err(TenantSetupError::Config(
                "name the login connection (e.g. google-oauth2): third-party clients need a \
                 domain-level connection to log in"
                    .into(),
            ));
        }
        setup.cimd_urls.retain(|u| !u.trim().is_empty());
        setup.cimd_urls.dedup();
        for url in &setup.cimd_urls {
            check_cimd_url(url).map_err(|rule| {
                TenantSetupError::Config(format!("CIMD URL `{url}` is refused by Auth0: {rule}"))
            })?;
        }
        Ok(self.setup)
    }
}
