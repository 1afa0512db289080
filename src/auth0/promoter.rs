//! [`DcrPromoter`]: turns one client that ChatGPT registered by DCR into one that works with the
//! protected API, idempotently.
//!
//! For one `client_id`:
//!
//! 1. read the client (`GET /api/v2/clients/{id}`); a client that no longer exists is skipped;
//! 2. skip it unless its name passes the filter (default: contains `chatgpt`, any case), and skip
//!    a first-party client that does not carry this promoter's marker: a hand-made application;
//! 3. PATCH only the target fields that differ (`app_type`, `grant_types`,
//!    `token_endpoint_auth_method`, `is_first_party`), together with the marker
//!    `client_metadata.tower_mcp_auth` = `dcr-promoted`;
//! 4. read the client's enabled connections (`GET /api/v2/clients/{id}/connections`) and enable
//!    it on each configured connection missing there with the per-client endpoint
//!    `PATCH /api/v2/connections/{id}/clients`, which changes no other client;
//! 5. ensure a client grant for the audience holding every required scope: create it, or PATCH in
//!    the missing scopes (keeping any others); a 409 on create (a concurrent writer) is answered
//!    by reading the grant and patching it.
//!
//! **"Already promoted"** means: the target fields already hold, the marker is there, the client
//! is enabled on every connection and its grant has every scope. Then only reads are sent, and
//! the outcome is [`PromotionOutcome::AlreadyPromoted`].
//!
//! ```no_run
//! use tower_mcp_auth::auth0::{DcrPromoter, ManagementClient};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mgmt = ManagementClient::builder("dev-xxxxxx.us.auth0.com", "M2M_ID", "M2M_SECRET").build()?;
//! let promoter = DcrPromoter::builder(mgmt, "https://api.example.com", ["tools:read", "tools:write"])
//!     .connections(["google-oauth2"])
//!     .build();
//! let outcome = promoter.promote("new_dcr_client_id").await?;
//! println!("{outcome:?}");
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::Mutex;

use super::management::{Client, ClientPatch, ManagementClient, ManagementError, NewClientGrant};
use super::promotion::{
    NameFilter, PROMOTED_MARKER_KEY, PROMOTED_MARKER_VALUE, PromotionChanges, PromotionOutcome,
    PromotionTarget, SkipReason,
};

/// Promotes DCR clients; see the [module docs](self). Cheap to clone.
#[derive(Clone, Debug)]
pub struct DcrPromoter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    mgmt: ManagementClient,
    audience: String,
    scopes: Vec<String>,
    connections: Vec<String>,
    target: PromotionTarget,
    filter: NameFilter,
    // Connection ids by name: looked up once, they never change for a name.
    connection_ids: Mutex<HashMap<String, String>>,
}

/// Configures a [`DcrPromoter`].
#[derive(Debug)]
pub struct DcrPromoterBuilder {
    mgmt: ManagementClient,
    audience: String,
    scopes: Vec<String>,
    connections: Vec<String>,
    target: PromotionTarget,
    filter: NameFilter,
}

impl DcrPromoterBuilder {
    /// The connections to enable the client on (`GOOGLE_CONNECTION_NAME`); default none.
    pub fn connections(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.connections = names.into_iter().map(Into::into).collect();
        self
    }

    /// The client settings to apply (default [`PromotionTarget::default`]).
    pub fn target(mut self, target: PromotionTarget) -> Self {
        self.target = target;
        self
    }

    /// Which clients to touch (default [`NameFilter::default`]).
    pub fn name_filter(mut self, filter: NameFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Builds the promoter.
    pub fn build(self) -> DcrPromoter {
        DcrPromoter {
            inner: Arc::new(Inner {
                mgmt: self.mgmt,
                audience: self.audience,
                scopes: self.scopes,
                connections: self.connections,
                target: self.target,
                filter: self.filter,
                connection_ids: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl DcrPromoter {
    /// A promoter granting `scopes` on the API `audience` (`OAUTH_AUDIENCE`). Pass the scope
    /// policy's complete list, e.g. `ScopePolicy::all_scopes()`.
    pub fn builder(
        mgmt: ManagementClient,
        audience: impl Into<String>,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> DcrPromoterBuilder {
        let mut list: Vec<String> = Vec::new();
        for scope in scopes {
            let scope = scope.into();
            if !scope.is_empty() && !list.contains(&scope) {
                list.push(scope);
            }
        }
        DcrPromoterBuilder {
            mgmt,
            audience: audience.into(),
            scopes: list,
            connections: Vec::new(),
            target: PromotionTarget::default(),
            filter: NameFilter::default(),
        }
    }

    /// The API audience grants are made for.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// The scopes every grant must hold.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// Promotes one client; see the [module docs](self) for the steps.
    pub async fn promote(&self, client_id: &str) -> Result<PromotionOutcome, ManagementError> {
        let inner = &self.inner;
        let client = match inner.mgmt.get_client(client_id).await {
            Ok(c) => c,
            Err(e) if e.is_not_found() => return Ok(self.skip(client_id, SkipReason::NotFound)),
            Err(e) => return Err(e),
        };
        if client.client_id != client_id {
            // `Client` fields all have defaults, so `{}` or `[]` decode; an answer that does not
            // name the client asked for is no answer (it would read as a nameless client and be
            // skipped for good).
            return Err(ManagementError::Inconsistent {
                operation: "get_client",
                detail: format!(
                    "asked for client {client_id:?}, the answer names {:?}",
                    client.client_id
                ),
            });
        }
        if !inner.filter.matches(&client.name) {
            let reason = SkipReason::NameNotMatched { name: client.name };
            return Ok(self.skip(client_id, reason));
        }
        let marked = has_marker(&client);
        if client.is_first_party == Some(true) && !marked {
            return Ok(self.skip(client_id, SkipReason::HandMadeFirstParty));
        }

        let mut changes = PromotionChanges::default();
        if let Err(error) = self.apply(client_id, &client, marked, &mut changes).await {
            // Steps already done stay done (each is idempotent, a redelivery redoes the rest):
            // say which, so a half-promoted client is never a silent state.
            if changes != PromotionChanges::default() {
                tracing::warn!(client_id, changes = ?changes, error = %error,
                    "client partially promoted; a redelivery of the batch finishes it");
            }
            return Err(error);
        }

        if changes == PromotionChanges::default() {
            tracing::debug!(client_id, "client already promoted");
            return Ok(PromotionOutcome::AlreadyPromoted);
        }
        tracing::info!(
            client_id,
            audience = %inner.audience,
            scopes = ?inner.scopes,
            "promoted+enabled+granted"
        );
        Ok(PromotionOutcome::Promoted(changes))
    }

    /// The three writes of a promotion, each recorded in `changes` once done.
    async fn apply(
        &self,
        client_id: &str,
        client: &Client,
        marked: bool,
        changes: &mut PromotionChanges,
    ) -> Result<(), ManagementError> {
        let patch = self.client_patch(client, marked);
        if !patch.is_empty() {
            tracing::info!(client_id, client_name = %client.name, "promoting client");
            self.inner.mgmt.patch_client(client_id, &patch).await?;
            changes.client_patched = true;
        }
        if !self.inner.connections.is_empty() {
            self.ensure_connections(client_id, changes).await?;
        }
        self.ensure_grant(client_id, changes).await
    }

    fn skip(&self, client_id: &str, reason: SkipReason) -> PromotionOutcome {
        tracing::info!(client_id, reason = %reason, "skipped client");
        PromotionOutcome::Skipped(reason)
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

    async fn ensure_grant(
        &self,
        client_id: &str,
        changes: &mut PromotionChanges,
    ) -> Result<(), ManagementError> {
        let inner = &self.inner;
        let mgmt = &inner.mgmt;
        let mut existing = mgmt.list_client_grants(client_id, &inner.audience).await?;
        if existing.is_empty() {
            let grant = NewClientGrant {
                client_id: client_id.to_owned(),
                audience: inner.audience.clone(),
                scope: inner.scopes.clone(),
            };
            match mgmt.create_client_grant(&grant).await {
                Ok(_) => {
                    tracing::info!(client_id, audience = %inner.audience, scopes = ?inner.scopes, "created client grant");
                    changes.grant_created = true;
                    return Ok(());
                }
                // Someone created it between our read and our write: patch theirs instead.
                Err(e) if e.is_conflict() => {
                    tracing::info!(client_id, audience = %inner.audience, "client grant exists (409); merging scopes");
                    existing = mgmt.list_client_grants(client_id, &inner.audience).await?;
                }
                Err(e) => return Err(e),
            }
        }
        let Some(grant) = existing.into_iter().next() else {
            return Err(ManagementError::Inconsistent {
                operation: "create_client_grant",
                detail: "409 on create, yet no grant for this client and audience is listed".into(),
            });
        };
        let missing: Vec<String> = inner
            .scopes
            .iter()
            .filter(|s| !grant.scope.contains(s))
            .cloned()
            .collect();
        if !missing.is_empty() {
            // Union, never a replacement: scopes someone else granted stay.
            let mut scope = grant.scope.clone();
            scope.extend(missing.iter().cloned());
            mgmt.patch_client_grant(&grant.id, scope).await?;
            tracing::info!(client_id, audience = %inner.audience, scopes = ?missing, "added scopes to client grant");
            changes.scopes_added = missing;
        }
        Ok(())
    }
}

fn has_marker(client: &Client) -> bool {
    client
        .client_metadata
        .get(PROMOTED_MARKER_KEY)
        .and_then(Value::as_str)
        == Some(PROMOTED_MARKER_VALUE)
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_dedupes_scopes_and_drops_empty_ones() {
        let mgmt = ManagementClient::builder("t.example.com", "id", "s")
            .build()
            .expect("valid");
        let promoter = DcrPromoter::builder(mgmt, "https://api", ["a", "b", "a", ""]).build();
        assert_eq!(promoter.scopes(), ["a", "b"]);
        assert_eq!(promoter.audience(), "https://api");
    }

    #[test]
    fn grant_types_compare_as_sets() {
        let a = vec!["refresh_token".to_owned(), "authorization_code".to_owned()];
        let b = vec!["authorization_code".to_owned(), "refresh_token".to_owned()];
        assert!(same_set(&a, &b));
        assert!(!same_set(&a, &b[..1]));
    }
}
