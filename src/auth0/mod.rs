//! Auth0 specifics (cargo feature `auth0`, on by default): the log-stream webhook that makes
//! every client ChatGPT registers work with your API — within what Auth0 allows for that kind
//! of client — and the Management API client it uses.
//!
//! - [`ManagementClient`]: token cache with single flight, typed calls, retries.
//! - [`DcrPromoter`]: the idempotent promotion of one client, by [`ClientPopulation`], only for
//!   clients whose callbacks are on the [`CallbackAllowList`].
//! - [`Auth0LogWebhookService`]: the tower `Service` a log stream POSTs batches to.
//! - [`Auth0Health`]: shared health state for a `/health/auth0` endpoint.
//! - [`TenantSetup`]: the tenant-wide set-up (API, domain-level connection, default grant,
//!   tenant settings, CIMD clients) planned and applied from the scope policy.

mod acknowledge;
pub mod callbacks;
pub mod health;
// Public for the fuzz targets and tooling only (they parse log-stream payloads as the webhook
// does); hidden from the docs and not part of the stable API.
#[doc(hidden)]
pub mod log_event;
pub mod management;
pub mod population;
pub mod promoter;
pub mod promotion;
mod promotion_budget;
mod recent_log_ids;
mod secret;
pub mod summary;
pub mod tenant_setup;
pub mod webhook;

pub use callbacks::{
    CHATGPT_CALLBACKS, CLAUDE_CALLBACK, CallbackAllowList, InvalidCallbackPattern,
};
pub use health::{Auth0Health, Auth0HealthSnapshot, ClientProblem, ManagementCallRecord};
pub use log_event::DcrSignal;
pub use management::{
    ManagementClient, ManagementClientBuilder, ManagementConfigError, ManagementError, RetryPolicy,
};
pub use population::ClientPopulation;
pub use promoter::{DcrPromoter, DcrPromoterBuilder};
pub use promotion::{
    LoginBlocked, NameFilter, PromotionChanges, PromotionOutcome, PromotionTarget, SkipReason,
};
pub use summary::{ClientList, EntryCounts, WebhookSummary};
pub use tenant_setup::{Plan, TenantSetup, TenantSetupBuilder, TenantSetupError};
pub use webhook::{Auth0LogWebhookService, Auth0LogWebhookServiceBuilder};
