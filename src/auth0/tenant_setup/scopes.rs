//! Which Management API scope each call of the set-up needs (the OAS `security` of each
//! operation, Management API reference 2026), so missing ones are named before anything is
//! written.

use super::plan::{MissingScope, Step};

/// Reading the tenant settings.
pub(super) const READ_SETTINGS: MissingScope = MissingScope {
    scope: "read:tenant_settings",
    needed_for: "GET /api/v2/tenants/settings",
};
/// Reading the API.
pub(super) const READ_API: MissingScope = MissingScope {
    scope: "read:resource_servers",
    needed_for: "GET /api/v2/resource-servers/{id}",
};
/// Reading the connections.
pub(super) const READ_CONNECTIONS: MissingScope = MissingScope {
    scope: "read:connections",
    needed_for: "GET /api/v2/connections?name=…",
};
/// Reading the default grant.
pub(super) const READ_GRANTS: MissingScope = MissingScope {
    scope: "read:client_grants",
    needed_for: "GET /api/v2/client-grants",
};
/// Looking up and previewing CIMD clients.
pub(super) const READ_CLIENTS: MissingScope = MissingScope {
    scope: "read:clients",
    needed_for: "GET /api/v2/clients?external_client_id=… and POST /api/v2/clients/cimd/preview",
};

/// Every scope the reads need; `cimd` when CIMD URLs are configured, `grants` when the default
/// grant is managed.
pub(super) fn reads(cimd: bool, grants: bool) -> Vec<MissingScope> {
    let mut all = vec![READ_SETTINGS, READ_API, READ_CONNECTIONS];
    if grants {
        all.push(READ_GRANTS);
    }
    if cimd {
        all.push(READ_CLIENTS);
    }
    all
}

/// The scope one write needs.
pub(super) fn for_step(step: &Step) -> MissingScope {
    match step {
        Step::TenantSettings(_) => MissingScope {
            scope: "update:tenant_settings",
            needed_for: "PATCH /api/v2/tenants/settings",
        },
        Step::CreateApi(_) => MissingScope {
            scope: "create:resource_servers",
            needed_for: "POST /api/v2/resource-servers",
        },
        Step::PatchApi { .. } => MissingScope {
            scope: "update:resource_servers",
            needed_for: "PATCH /api/v2/resource-servers/{id}",
        },
        Step::DomainLevel { .. } => MissingScope {
            scope: "update:connections",
            needed_for: "PATCH /api/v2/connections/{id}",
        },
        Step::CreateDefaultGrant(_) => MissingScope {
            scope: "create:client_grants",
            needed_for: "POST /api/v2/client-grants",
        },
        Step::WidenDefaultGrant { .. } => MissingScope {
            scope: "update:client_grants",
            needed_for: "PATCH /api/v2/client-grants/{id}",
        },
        // Applying registers only URLs that are not registered yet: a create (201). An update
        // (200) would need `update:clients`.
        Step::RegisterCimd { .. } => MissingScope {
            scope: "create:clients",
            needed_for: "POST /api/v2/clients/cimd/register",
        },
    }
}

/// The entries of `needed` whose scope is not in `granted`, each scope once.
pub(super) fn missing(needed: &[MissingScope], granted: &[String]) -> Vec<MissingScope> {
    let mut out: Vec<MissingScope> = Vec::new();
    for need in needed {
        if !granted.iter().any(|g| g == need.scope) && !out.iter().any(|m| m.scope == need.scope) {
            out.push(need.clone());
        }
    }
    out
}

/// Every scope any set-up can need, for the README and the error that lists what to grant.
pub const ALL_SETUP_SCOPES: [&str; 12] = [
    "read:tenant_settings",
    "update:tenant_settings",
    "read:resource_servers",
    "create:resource_servers",
    "update:resource_servers",
    "read:connections",
    "update:connections",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
    "read:clients",
    "create:clients",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_names_each_absent_scope_once() {
        let granted = vec!["read:tenant_settings".to_owned()];
        let needed = [READ_SETTINGS, READ_API, READ_API];
        assert_eq!(missing(&needed, &granted), vec![READ_API]);
    }
}
