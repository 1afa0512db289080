//! The typed Management API calls the promotion needs.

use http::Method;

use super::client::ManagementClient;
use super::error::ManagementError;
use super::types::{
    Client, ClientConnectionsPage, ClientGrant, ClientGrantPatch, ClientPatch, Connection,
    EnabledClientStatus, ListOf, NewClientGrant, SubjectType,
};

/// The only `default_for` value Auth0 accepts: the default permissions of third-party apps.
const DEFAULT_FOR_THIRD_PARTY: &str = "third_party_clients";

/// Auth0 accepts at most this many clients per `PATCH /connections/{id}/clients`.
const ENABLE_CLIENTS_CHUNK: usize = 50;
/// Page size when listing a client's enabled connections.
const CONNECTIONS_PAGE: &str = "50";
/// Bound on pages read when listing a client's enabled connections (5 000 connections).
const MAX_CONNECTION_PAGES: usize = 100;

impl ManagementClient {
    /// `GET /api/v2/clients/{id}`.
    pub async fn get_client(&self, client_id: &str) -> Result<Client, ManagementError> {
        let url = self.url(&["clients", client_id], &[])?;
        self.json("get_client", Method::GET, url, None::<&()>).await
    }

    /// `PATCH /api/v2/clients/{id}` with only the fields set in `patch`.
    pub async fn patch_client(
        &self,
        client_id: &str,
        patch: &ClientPatch,
    ) -> Result<Client, ManagementError> {
        let url = self.url(&["clients", client_id], &[])?;
        self.json("patch_client", Method::PATCH, url, Some(patch))
            .await
    }

    /// `GET /api/v2/connections?name=…`: the connection with that name, if any.
    pub async fn find_connection(&self, name: &str) -> Result<Option<Connection>, ManagementError> {
        let url = self.url(&["connections"], &[("name", name)])?;
        let list: ListOf<Connection> = self
            .json("find_connection", Method::GET, url, None::<&()>)
            .await?;
        Ok(list.into_vec().into_iter().find(|c| c.name == name))
    }

    /// The connections enabled for a client: `GET /api/v2/clients/{id}/connections`, page by
    /// page (checkpoint pagination, bounded). One page in practice: a client has few connections,
    /// where a connection may have thousands of clients.
    pub async fn client_connections(
        &self,
        client_id: &str,
    ) -> Result<Vec<Connection>, ManagementError> {
        let mut all = Vec::new();
        let mut from: Option<String> = None;
        for _ in 0..MAX_CONNECTION_PAGES {
            let mut query = vec![("take", CONNECTIONS_PAGE)];
            if let Some(cursor) = from.as_deref() {
                query.push(("from", cursor));
            }
            let url = self.url(&["clients", client_id, "connections"], &query)?;
            let page: ClientConnectionsPage = self
                .json("client_connections", Method::GET, url, None::<&()>)
                .await?;
            let empty = page.connections.is_empty();
            all.extend(page.connections);
            match page.next {
                Some(next) if !next.is_empty() && !empty => from = Some(next),
                _ => return Ok(all),
            }
        }
        tracing::warn!(client_id, "client connection listing passed its page bound");
        Ok(all)
    }

    /// `PATCH /api/v2/connections/{id}/clients`: enables the connection for these clients only,
    /// leaving every other client as it is (no read-modify-write of `enabled_clients`).
    pub async fn enable_clients(
        &self,
        connection_id: &str,
        client_ids: &[&str],
    ) -> Result<(), ManagementError> {
        for chunk in client_ids.chunks(ENABLE_CLIENTS_CHUNK) {
            let body: Vec<EnabledClientStatus> = chunk
                .iter()
                .map(|id| EnabledClientStatus {
                    client_id: (*id).to_owned(),
                    status: true,
                })
                .collect();
            let url = self.url(&["connections", connection_id, "clients"], &[])?;
            self.send("enable_clients", Method::PATCH, url, Some(&body))
                .await?;
        }
        Ok(())
    }

    /// The client's **user** grants for the API:
    /// `GET /api/v2/client-grants?client_id=…&audience=…&subject_type=user`. The answer is
    /// filtered again, so a grant of the other subject type (a `client` grant, which no login
    /// uses) is never taken for the one a login needs. At most one exists.
    pub async fn list_client_grants(
        &self,
        client_id: &str,
        audience: &str,
    ) -> Result<Vec<ClientGrant>, ManagementError> {
        let url = self.url(
            &["client-grants"],
            &[
                ("client_id", client_id),
                ("audience", audience),
                ("subject_type", SubjectType::User.as_str()),
            ],
        )?;
        let list: ListOf<ClientGrant> = self
            .json("list_client_grants", Method::GET, url, None::<&()>)
            .await?;
        Ok(list
            .into_vec()
            .into_iter()
            .filter(|g| {
                g.client_id == client_id
                    && g.audience == audience
                    && g.subject_type == SubjectType::User
            })
            .collect())
    }

    /// The tenant's default user permissions of third-party apps for the API:
    /// `GET /api/v2/client-grants?default_for=third_party_clients&audience=…&subject_type=user`.
    pub async fn default_third_party_user_grant(
        &self,
        audience: &str,
    ) -> Result<Option<ClientGrant>, ManagementError> {
        let url = self.url(
            &["client-grants"],
            &[
                ("default_for", DEFAULT_FOR_THIRD_PARTY),
                ("audience", audience),
                ("subject_type", SubjectType::User.as_str()),
            ],
        )?;
        let list: ListOf<ClientGrant> = self
            .json("list_default_grants", Method::GET, url, None::<&()>)
            .await?;
        Ok(list.into_vec().into_iter().find(|g| {
            g.default_for.as_deref() == Some(DEFAULT_FOR_THIRD_PARTY)
                && g.audience == audience
                && g.subject_type == SubjectType::User
        }))
    }

    /// `POST /api/v2/client-grants`; a grant for the same client, audience and subject type →
    /// 409 ([`ManagementError::is_conflict`]).
    pub async fn create_client_grant(
        &self,
        grant: &NewClientGrant,
    ) -> Result<ClientGrant, ManagementError> {
        let url = self.url(&["client-grants"], &[])?;
        self.json("create_client_grant", Method::POST, url, Some(grant))
            .await
    }

    /// `PATCH /api/v2/client-grants/{id}` with the complete new scope list.
    pub async fn patch_client_grant(
        &self,
        grant_id: &str,
        scope: Vec<String>,
    ) -> Result<ClientGrant, ManagementError> {
        let url = self.url(&["client-grants", grant_id], &[])?;
        let body = ClientGrantPatch { scope };
        self.json("patch_client_grant", Method::PATCH, url, Some(&body))
            .await
    }
}
