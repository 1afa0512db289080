//! Applying a plan: the pending changes in plan order (API before the grant that names it,
//! default grant before DCR is turned on, the CIMD toggle before CIMD registrations), each one
//! idempotent, so a run that failed halfway is completed by the next.

use super::TenantSetup;
use super::error::TenantSetupError;
use super::plan::{Change, Plan, Step};
use crate::auth0::ManagementError;
use crate::auth0::management::CimdRegistration;

/// What [`TenantSetup::apply`](super::TenantSetup::apply) did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Applied {
    /// The plan as read before applying.
    pub plan: Plan,
    /// The changes made, in order.
    pub done: Vec<Change>,
    /// Auth0's answers to the CIMD registrations (client id, mapped fields, validation).
    pub cimd: Vec<CimdRegistration>,
}

pub(super) async fn apply(setup: &TenantSetup, plan: Plan) -> Result<Applied, TenantSetupError> {
    if !plan.missing_scopes.is_empty() {
        return Err(TenantSetupError::MissingScopes {
            missing: plan.missing_scopes.clone(),
        });
    }
    let mut done = Vec::new();
    let mut cimd = Vec::new();
    for change in plan.pending() {
        let Some(step) = &change.step else { continue };
        match run(setup, step).await {
            Ok(registration) => {
                tracing::info!(target = %change.target, action = ?change.action, "tenant set-up change made");
                cimd.extend(registration);
                done.push(change.clone());
            }
            Err(source) => {
                tracing::warn!(target = %change.target, error = %source, "tenant set-up change failed");
                return Err(TenantSetupError::Apply {
                    done,
                    failed: Box::new(change.clone()),
                    source,
                });
            }
        }
    }
    Ok(Applied { plan, done, cimd })
}

async fn run(
    setup: &TenantSetup,
    step: &Step,
) -> Result<Option<CimdRegistration>, ManagementError> {
    let mgmt = &setup.mgmt;
    match step {
        Step::TenantSettings(patch) => mgmt.patch_tenant_settings(patch).await?,
        Step::CreateApi(api) => match mgmt.create_resource_server(api).await {
            Ok(_) => {}
            // Created meanwhile (or by an earlier attempt whose answer was lost): the next
            // plan compares its settings.
            Err(e) if e.is_conflict() => {
                tracing::info!(identifier = %api.identifier, "the API exists already (409)");
            }
            Err(e) => return Err(e),
        },
        Step::PatchApi { id, patch } => {
            mgmt.patch_resource_server(id, patch).await?;
        }
        Step::DomainLevel { connection_id } => {
            mgmt.promote_connection_to_domain_level(connection_id)
                .await?;
        }
        Step::CreateDefaultGrant(grant) => match mgmt.create_default_grant(grant).await {
            Ok(_) => {}
            Err(e) if e.is_conflict() => {
                tracing::info!(audience = %grant.audience, "the default grant exists already (409)");
            }
            Err(e) => return Err(e),
        },
        Step::WidenDefaultGrant { grant_id, scope } => {
            mgmt.patch_client_grant(grant_id, scope.clone()).await?;
        }
        Step::RegisterCimd { url } => return mgmt.register_cimd_client(url).await.map(Some),
    }
    Ok(None)
}
