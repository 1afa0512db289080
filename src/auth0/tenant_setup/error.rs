//! Why a plan could not be made or applied. No variant holds a token or a secret.

use super::plan::{Change, MissingScope};
use crate::auth0::ManagementError;

/// A failed [`TenantSetup`](super::TenantSetup) plan or apply.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TenantSetupError {
    /// The configuration cannot describe a working set-up (empty resource, bad CIMD URL, …).
    #[error("tenant set-up configuration: {0}")]
    Config(String),
    /// The M2M application lacks Management API scopes; nothing was written.
    #[error("the Management API application lacks {}: grant them (Applications → APIs → Auth0 Management API → Machine to Machine Applications); nothing was written", list(.missing))]
    MissingScopes {
        /// Each missing scope and the call that needs it.
        missing: Vec<MissingScope>,
    },
    /// A configured connection does not exist in the tenant.
    #[error(
        "no Auth0 connection named {name:?}: set the connection name to an existing connection (Authentication → Social or Database)"
    )]
    ConnectionNotFound {
        /// The configured name.
        name: String,
    },
    /// Reading the tenant failed.
    #[error("reading the tenant failed: {0}")]
    Read(ManagementError),
    /// A write failed. The changes before it were made; applying again completes the rest.
    #[error("applying `{}` failed after {} change(s) were made: {source}; run the set-up again to complete it", failed.target, done.len())]
    Apply {
        /// The changes made before the failure.
        done: Vec<Change>,
        /// The change that failed.
        failed: Box<Change>,
        /// Auth0's answer.
        source: ManagementError,
    },
}

fn list(missing: &[MissingScope]) -> String {
    missing
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl TenantSetupError {
    /// A stable machine-readable code: `config`, `missing_scopes`, `connection_not_found`,
    /// `read_failed`, `apply_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "config",
            Self::MissingScopes { .. } => "missing_scopes",
            Self::ConnectionNotFound { .. } => "connection_not_found",
            Self::Read(_) => "read_failed",
            Self::Apply { .. } => "apply_failed",
        }
    }
}
