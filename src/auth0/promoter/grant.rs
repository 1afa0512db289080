//! The user grant: Auth0 keeps one grant per (client, API, subject type), and a login uses the
//! `user` one — or, for a third-party client without one, the tenant's default third-party
//! `user` grant. "Per-application permissions take precedence over default permissions", so
//! once a client has its own user grant, that grant alone decides.

use super::DcrPromoter;
use crate::auth0::management::{ManagementError, NewClientGrant, SubjectType};
use crate::auth0::promotion::PromotionChanges;

impl DcrPromoter {
    /// Ensures the client's user grant for the audience holds every scope: merge the missing
    /// ones into its own user grant; else, for a third-party client whose default grant holds
    /// them all, write nothing; else create the grant (`subject_type: "user"`), and on a 409 (a
    /// concurrent writer) merge into the user grant that writer made.
    pub(super) async fn ensure_grant(
        &self,
        client_id: &str,
        third_party: bool,
        changes: &mut PromotionChanges,
    ) -> Result<(), ManagementError> {
        let inner = &self.inner;
        let mgmt = &inner.mgmt;
        let mut existing = mgmt.list_client_grants(client_id, &inner.audience).await?;
        if existing.is_empty() && third_party {
            let default = mgmt.default_third_party_user_grant(&inner.audience).await?;
            if default.is_some_and(|g| inner.scopes.iter().all(|s| g.scope.contains(s))) {
                tracing::debug!(client_id, audience = %inner.audience,
                    "the default third-party user grant holds every scope; no client grant written");
                return Ok(());
            }
        }
        if existing.is_empty() {
            let grant = NewClientGrant {
                client_id: client_id.to_owned(),
                audience: inner.audience.clone(),
                scope: inner.scopes.clone(),
                subject_type: SubjectType::User,
            };
            match mgmt.create_client_grant(&grant).await {
                Ok(_) => {
                    tracing::info!(client_id, audience = %inner.audience, scopes = ?inner.scopes, "created client grant");
                    changes.grant_created = true;
                    return Ok(());
                }
                // Someone created it between our read and our write: merge into theirs.
                Err(e) if e.is_conflict() => {
                    tracing::info!(client_id, audience = %inner.audience, "user grant exists (409); merging scopes");
                    existing = mgmt.list_client_grants(client_id, &inner.audience).await?;
                }
                Err(e) => return Err(e),
            }
        }
        let Some(grant) = existing.into_iter().next() else {
            return Err(ManagementError::Inconsistent {
                operation: "create_client_grant",
                detail: "409 on create, yet no user grant for this client and audience is listed"
                    .into(),
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
