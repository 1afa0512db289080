//! The seeds' promotion, for legacy clients (no security mode) and, on opt-in, permissive
//! ones: patch the target fields that differ, enable the connections per client once the client
//! is first-party, ensure the user grant.

use serde_json::Value;

use super::{DcrPromoter, has_marker};
use crate::auth0::management::{Client, ClientPatch, ManagementError};
use crate::auth0::promotion::{PROMOTED_MARKER_KEY, PROMOTED_MARKER_VALUE, PromotionChanges};

impl DcrPromoter {
    /// Returns the configured connections that are not domain-level when the client stays
    /// third-party (empty for a first-party client).
    pub(super) async fn promote_legacy(
        &self,
        client: &Client,
        changes: &mut PromotionChanges,
    ) -> Result<Vec<String>, ManagementError> {
        let client_id = client.client_id.as_str();
        let patch = self.client_patch(client, has_marker(client));
        if !patch.is_empty() {
            tracing::info!(client_id, client_name = %client.name, "promoting client");
            self.inner.mgmt.patch_client(client_id, &patch).await?;
            changes.client_patched = true;
        }
        let first_party =
            client.is_first_party == Some(true) || self.inner.target.is_first_party == Some(true);
        if first_party {
            // Per-client connections are what a first-party client logs in through; for a
            // third-party client Auth0 does not consult them, so they are not written.
            if !self.inner.connections.is_empty() {
                self.ensure_connections(client_id, changes).await?;
            }
            self.ensure_grant(client_id, false, changes).await?;
            return Ok(Vec::new());
        }
        let blocked = self.connections_not_domain_level().await?;
        self.ensure_grant(client_id, true, changes).await?;
        Ok(blocked)
    }

    /// The fields that differ from the target, plus the marker if it is missing.
    fn client_patch(&self, client: &Client, marked: bool) -> ClientPatch {
        let target = &self.inner.target;
        let differs = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().filter(|w| Some(*w) != have.as_ref()).cloned()
        };
        let mut patch = ClientPatch {
            app_type: differs(&target.app_type, &client.app_type),
            token_endpoint_auth_method: differs(
                &target.token_endpoint_auth_method,
                &client.token_endpoint_auth_method,
            ),
            grant_types: target
                .grant_types
                .as_ref()
                .filter(|want| !same_set(want, &client.grant_types))
                .cloned(),
            is_first_party: target
                .is_first_party
                .filter(|w| Some(*w) != client.is_first_party),
            client_metadata: None,
        };
        if !marked {
            // Auth0 replaces client_metadata on PATCH: keep what is there, add the marker.
            let mut metadata = client.client_metadata.clone();
            metadata.insert(
                PROMOTED_MARKER_KEY.into(),
                Value::from(PROMOTED_MARKER_VALUE),
            );
            patch.client_metadata = Some(metadata);
        }
        patch
    }

    /// Enables the client on every configured connection it is not enabled on yet, reading its
    /// enabled connections once (`GET /clients/{id}/connections`).
    async fn ensure_connections(
        &self,
        client_id: &str,
        changes: &mut PromotionChanges,
    ) -> Result<(), ManagementError> {
        let mgmt = &self.inner.mgmt;
        let enabled = mgmt.client_connections(client_id).await?;
        for name in &self.inner.connections {
            if enabled.iter().any(|c| &c.name == name) {
                continue;
            }
            let connection_id = self.connection_id(name).await?;
            mgmt.enable_clients(&connection_id, &[client_id]).await?;
            tracing::info!(client_id, connection = %name, "enabled connection for client");
            changes.connections_enabled.push(name.clone());
        }
        Ok(())
    }

    async fn connection_id(&self, name: &str) -> Result<String, ManagementError> {
        if let Some(id) = self.inner.connection_ids.lock().await.get(name) {
            return Ok(id.clone());
        }
        let connection = self
            .inner
            .mgmt
            .find_connection(name)
            .await?
            .ok_or_else(|| ManagementError::ConnectionNotFound {
                name: name.to_owned(),
            })?;
        self.inner
            .connection_ids
            .lock()
            .await
            .insert(name.to_owned(), connection.id.clone());
        Ok(connection.id)
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_types_compare_as_sets() {
        let a = vec!["refresh_token".to_owned(), "authorization_code".to_owned()];
        let b = vec!["authorization_code".to_owned(), "refresh_token".to_owned()];
        assert!(same_set(&a, &b));
        assert!(!same_set(&a, &b[..1]));
    }
}
