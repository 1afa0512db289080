//! The tenant-wide Management API calls of the set-up ([`TenantSetup`]). Paths, bodies and
//! scopes from Auth0's Management API reference (OAS, `auth0/docs-v2`
//! `main/docs/oas/management/v2/management-api-oas.json`), the scope of each named on its call.
//!
//! [`TenantSetup`]: crate::auth0::TenantSetup

use http::{Method, StatusCode};
use serde::Deserialize;

use super::client::ManagementClient;
use super::error::ManagementError;
use super::tenant_types::{
    CimdPreview, CimdRegistration, CimdRequest, DomainLevelPatch, NewDefaultClientGrant,
    NewResourceServer, ResourceServer, ResourceServerPatch, TenantSettings, TenantSettingsPatch,
};
use super::types::{Client, ClientGrant, Connection};

/// `default_for` value of the tenant's default grant for third-party applications.
pub const THIRD_PARTY_CLIENTS: &str = "third_party_clients";

/// `GET /clients` answers a bare array, or `{clients: […], …}` when asked for totals.
#[derive(Deserialize)]
#[serde(untagged)]
enum ClientList {
    Array(Vec<Client>),
    Paged { clients: Vec<Client> },
}

impl ManagementClient {
    /// `GET /api/v2/tenants/settings` (`read:tenant_settings`).
    pub async fn tenant_settings(&self) -> Result<TenantSettings, ManagementError> {
        let url = self.url(&["tenants", "settings"], &[])?;
        self.json("tenant_settings", Method::GET, url, None::<&()>)
            .await
    }

    /// `PATCH /api/v2/tenants/settings` with only the fields set in `patch`
    /// (`update:tenant_settings`).
    pub async fn patch_tenant_settings(
        &self,
        patch: &TenantSettingsPatch,
    ) -> Result<(), ManagementError> {
        let url = self.url(&["tenants", "settings"], &[])?;
        self.send("patch_tenant_settings", Method::PATCH, url, Some(patch))
            .await
            .map(drop)
    }

    /// `GET /api/v2/resource-servers/{id}`, where `{id}` may be the API's Identifier (the OAS:
    /// "ID or audience of the resource server"); `None` on 404 (`read:resource_servers`).
    pub async fn find_resource_server(
        &self,
        identifier: &str,
    ) -> Result<Option<ResourceServer>, ManagementError> {
        let url = self.url(&["resource-servers", identifier], &[])?;
        match self
            .json("find_resource_server", Method::GET, url, None::<&()>)
            .await
        {
            Ok(api) => Ok(Some(api)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /api/v2/resource-servers` (`create:resource_servers`); an existing Identifier → 409.
    pub async fn create_resource_server(
        &self,
        api: &NewResourceServer,
    ) -> Result<ResourceServer, ManagementError> {
        let url = self.url(&["resource-servers"], &[])?;
        self.json("create_resource_server", Method::POST, url, Some(api))
            .await
    }

    /// `PATCH /api/v2/resource-servers/{id}` (`update:resource_servers`).
    pub async fn patch_resource_server(
        &self,
        id: &str,
        patch: &ResourceServerPatch,
    ) -> Result<ResourceServer, ManagementError> {
        let url = self.url(&["resource-servers", id], &[])?;
        self.json("patch_resource_server", Method::PATCH, url, Some(patch))
            .await
    }

    /// `PATCH /api/v2/connections/{id}` `{"is_domain_connection": true}` and nothing else
    /// (`update:connections`): third-party applications can use domain-level connections only.
    pub async fn promote_connection_to_domain_level(
        &self,
        connection_id: &str,
    ) -> Result<Connection, ManagementError> {
        let url = self.url(&["connections", connection_id], &[])?;
        let body = DomainLevelPatch {
            is_domain_connection: true,
        };
        self.json("promote_connection", Method::PATCH, url, Some(&body))
            .await
    }

    /// `POST /api/v2/client-grants` for the default permissions of third-party applications
    /// (`create:client_grants`); a duplicate → 409, unknown audience → 404.
    pub async fn create_default_grant(
        &self,
        grant: &NewDefaultClientGrant,
    ) -> Result<ClientGrant, ManagementError> {
        let url = self.url(&["client-grants"], &[])?;
        self.json("create_default_grant", Method::POST, url, Some(grant))
            .await
    }

    /// `GET /api/v2/clients?external_client_id=…`: the CIMD client registered for this
    /// document URL, if any (`read:clients`).
    pub async fn find_cimd_client(&self, url: &str) -> Result<Option<Client>, ManagementError> {
        let request = self.url(&["clients"], &[("external_client_id", url)])?;
        let list: ClientList = self
            .json("find_cimd_client", Method::GET, request, None::<&()>)
            .await?;
        let clients = match list {
            ClientList::Array(v) | ClientList::Paged { clients: v } => v,
        };
        Ok(clients
            .into_iter()
            .find(|c| c.external_client_id.as_deref() == Some(url)))
    }

    /// `POST /api/v2/clients/cimd/preview`: fetches and validates the document without
    /// registering anything (`read:clients`).
    pub async fn preview_cimd_client(&self, url: &str) -> Result<CimdPreview, ManagementError> {
        let request = self.url(&["clients", "cimd", "preview"], &[])?;
        let body = CimdRequest {
            external_client_id: url,
        };
        self.json("preview_cimd_client", Method::POST, request, Some(&body))
            .await
    }

    /// `POST /api/v2/clients/cimd/register`: the idempotent upsert keyed on the document URL —
    /// 201 when it creates the client (`create:clients`), 200 when it updates it
    /// (`update:clients`); [`CimdRegistration::created`] says which.
    pub async fn register_cimd_client(
        &self,
        url: &str,
    ) -> Result<CimdRegistration, ManagementError> {
        let request = self.url(&["clients", "cimd", "register"], &[])?;
        let body = CimdRequest {
            external_client_id: url,
        };
        let (status, bytes) = self
            .send_with_status("register_cimd_client", Method::POST, request, Some(&body))
            .await?;
        let mut registration: CimdRegistration =
            serde_json::from_slice(&bytes).map_err(|e| ManagementError::Decode {
                operation: "register_cimd_client",
                detail: e.to_string(),
            })?;
        registration.created = status == StatusCode::CREATED;
        Ok(registration)
    }
}
