//! Everything the Auth0 Management API is used for.

mod call;
mod calls;
mod client;
mod error;
mod retry;
mod tenant_calls;
mod tenant_types;
mod token;
mod transport;
mod types;

pub use client::{
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_TOKEN_REFRESH_MARGIN, ManagementClient,
    ManagementClientBuilder,
};
pub use error::{ManagementConfigError, ManagementError};
pub use retry::RetryPolicy;
pub use tenant_calls::THIRD_PARTY_CLIENTS;
pub use tenant_types::{
    CimdPreview, CimdRegistration, CimdValidation, NewDefaultClientGrant, NewResourceServer,
    ResourceServer, ResourceServerPatch, ResourceServerScope, TenantFlags, TenantSettings,
    TenantSettingsPatch,
};
pub use types::{
    Client, ClientConnectionsPage, ClientGrant, ClientGrantPatch, ClientPatch, Connection,
    EnabledClientStatus, NewClientGrant, SubjectType,
};
