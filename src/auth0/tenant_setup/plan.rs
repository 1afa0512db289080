//! What [`TenantSetup::plan`](super::TenantSetup::plan) returns: one [`Change`] per piece of the
//! set-up, each with what the tenant has now, what it will have, and why.

use std::fmt;

use serde::Serialize;

use crate::auth0::management::{
    NewDefaultClientGrant, NewResourceServer, ResourceServerPatch, TenantSettingsPatch,
};

/// What applying does to one piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// It does not exist: it will be created (`+`).
    Create,
    /// It exists but differs: it will be changed (`~`).
    Change,
    /// Nothing to do (`=`).
    AlreadyRight,
}

impl Action {
    /// The one-character mark of the readable plan: `+`, `~` or `=`.
    pub fn mark(self) -> char {
        match self {
            Self::Create => '+',
            Self::Change => '~',
            Self::AlreadyRight => '=',
        }
    }
}

/// One piece of the set-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Change {
    /// What it is about, e.g. `tenant setting resource_parameter_profile`, `API https://…`.
    pub target: String,
    /// Create, change, or nothing.
    pub action: Action,
    /// What the tenant has now (`absent` when there is nothing).
    pub now: String,
    /// What it will have after applying.
    pub will_be: String,
    /// Why the set-up wants it.
    pub why: String,
    /// The Management API scope the write needs; `None` when nothing is written.
    pub needs_scope: Option<&'static str>,
    #[serde(skip)]
    pub(super) step: Option<Step>,
}

impl Change {
    pub(super) fn right(target: String, now: String, why: &str) -> Self {
        Self {
            target,
            action: Action::AlreadyRight,
            will_be: now.clone(),
            now,
            why: why.to_owned(),
            needs_scope: None,
            step: None,
        }
    }

    /// Whether applying writes something for it.
    pub fn is_pending(&self) -> bool {
        self.action != Action::AlreadyRight
    }
}

impl fmt::Display for Change {
    /// `+ create API https://…: absent → RS256, 2 scopes (why)`, one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.action {
            Action::Create => "create",
            Action::Change => "change",
            Action::AlreadyRight => "already right",
        };
        write!(f, "{} {verb} {}: ", self.action.mark(), self.target)?;
        if self.is_pending() {
            write!(f, "{} → {}", self.now, self.will_be)?;
        } else {
            write!(f, "{}", self.now)?;
        }
        write!(f, " ({})", self.why)
    }
}

/// The write behind a pending change; kept out of the public API so a plan can only be applied
/// as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    TenantSettings(TenantSettingsPatch),
    CreateApi(NewResourceServer),
    PatchApi {
        id: String,
        patch: ResourceServerPatch,
    },
    DomainLevel {
        connection_id: String,
    },
    CreateDefaultGrant(NewDefaultClientGrant),
    WidenDefaultGrant {
        grant_id: String,
        scope: Vec<String>,
    },
    RegisterCimd {
        url: String,
    },
}

/// How clients can register with the tenant, as its settings show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RegistrationModes {
    /// Open Dynamic Client Registration (`flags.enable_dynamic_client_registration`).
    pub dcr: bool,
    /// `strict` or `permissive`: the kind of client DCR creates (absent in the settings =
    /// `strict`, as a 2026 tenant showed).
    pub dcr_security_mode: String,
    /// Whether the metadata advertises CIMD (`client_id_metadata_document_supported`).
    pub cimd_advertised: bool,
    /// How many of the configured CIMD URLs are registered.
    pub cimd_registered: usize,
}

impl fmt::Display for RegistrationModes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dcr {
            write!(f, "DCR on ({} third-party clients)", self.dcr_security_mode)?;
        } else {
            write!(f, "DCR off")?;
        }
        if self.cimd_advertised {
            write!(
                f,
                "; CIMD advertised ({} configured URL(s) registered). Dynamic CIMD (early access) \
                 is not shown by the Management API: where the tenant has it, CIMD clients \
                 register themselves and need the same domain-level connection and default grant",
                self.cimd_registered
            )
        } else {
            write!(f, "; CIMD not advertised")
        }
    }
}

/// A Management API scope the M2M application lacks, and what it is needed for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MissingScope {
    /// The scope, e.g. `update:connections`.
    pub scope: &'static str,
    /// Which call needs it, e.g. `PATCH /api/v2/connections/{id}`.
    pub needed_for: &'static str,
}

impl fmt::Display for MissingScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (for {})", self.scope, self.needed_for)
    }
}

/// The tenant as read, against what the set-up wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// Every piece, in the order applying takes them.
    pub changes: Vec<Change>,
    /// How clients register with the tenant (before the plan is applied).
    pub registration: RegistrationModes,
    /// Scopes the pending writes need and the M2M app lacks. Applying refuses to start while
    /// this is not empty.
    pub missing_scopes: Vec<MissingScope>,
    /// `false` when neither the token answer nor the token said which scopes were granted:
    /// then missing write scopes show only as 403s while applying.
    pub granted_scopes_known: bool,
    /// What the operator should know that is not a change (e.g. CIMD advertised with no URL
    /// registered).
    pub warnings: Vec<String>,
}

impl Plan {
    /// The changes applying will make.
    pub fn pending(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.is_pending())
    }

    /// Whether the tenant is already set up: nothing to create or change.
    pub fn is_empty(&self) -> bool {
        self.pending().next().is_none()
    }
}

impl fmt::Display for Plan {
    /// The plan a person reads: the registration modes, one line per change, the missing
    /// scopes and the warnings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "registration: {}", self.registration)?;
        // Up front: applying refuses to start while any is missing.
        for missing in &self.missing_scopes {
            writeln!(f, "! missing Management API scope {missing}")?;
        }
        for change in &self.changes {
            writeln!(f, "{change}")?;
        }
        for warning in &self.warnings {
            writeln!(f, "! {warning}")?;
        }
        let pending = self.pending().count();
        if pending == 0 {
            write!(f, "nothing to change")
        } else {
            write!(f, "{pending} change(s) to make")
        }
    }
}
