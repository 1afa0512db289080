//! Auth0 specifics (cargo feature `auth0`, on by default): the log-stream webhook that promotes
//! every client ChatGPT registers by Dynamic Client Registration, and the Management API client
//! it uses.
//!
//! - [`ManagementClient`]: token cache with single flight, typed calls, retries.
//! - [`DcrPromoter`]: the idempotent promotion of one client.
//! - [`Auth0LogWebhookService`]: the tower `Service` a log stream POSTs batches to.
//! - [`Auth0Health`]: shared health state for a `/health/auth0` endpoint.
//! - [`TenantSetup`]: the tenant-wide set-up (API, domain-level connection, default grant,
//!   tenant settings, CIMD clients) planned and applied from the scope policy.

pub mod health;
pub mod log_event;
pub mod management;
pub mod promoter;
pub mod promotion;
mod recent_log_ids;
mod secret;
pub mod summary;
pub mod tenant_setup;
pub mod webhook;

pub use health::{Auth0Health, Auth0HealthSnapshot, ManagementCallRecord};
pub use management::{ManagementClient, ManagementClientBuilder, ManagementError, RetryPolicy};
pub use promoter::{DcrPromoter, DcrPromoterBuilder};
pub use promotion::{NameFilter, PromotionChanges, PromotionOutcome, PromotionTarget, SkipReason};
pub use summary::{ClientList, EntryCounts, WebhookSummary};
pub use tenant_setup::{Plan, TenantSetup, TenantSetupBuilder, TenantSetupError};
pub use webhook::{Auth0LogWebhookService, Auth0LogWebhookServiceBuilder};
