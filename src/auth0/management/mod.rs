//! Everything the Auth0 Management API is used for.

mod client;
mod error;
mod retry;
mod types;

pub use client::{
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_TOKEN_REFRESH_MARGIN, ManagementClient,
    ManagementClientBuilder,
};
pub use error::ManagementError;
pub use retry::RetryPolicy;
pub use types::{
    Client, ClientConnectionsPage, ClientGrant, ClientGrantPatch, ClientPatch, Connection,
    EnabledClientStatus, NewClientGrant,
};
