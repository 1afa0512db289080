//! What a promotion aims for and what it reports: the target settings of a legacy client, the
//! optional name filter, and the outcome of one [`DcrPromoter::promote`] call.
//!
//! [`DcrPromoter::promote`]: super::DcrPromoter::promote

use std::sync::Arc;

/// The `client_metadata` key this promoter writes on every client it promotes.
pub const PROMOTED_MARKER_KEY: &str = "tower_mcp_auth";
/// The value of [`PROMOTED_MARKER_KEY`].
pub const PROMOTED_MARKER_VALUE: &str = "dcr-promoted";

/// The client settings a promoted **legacy** client gets (and a permissive one, when the
/// operator opts in to it): strict and CIMD clients are never patched. `None` leaves a field as
/// DCR set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionTarget {
    /// Default `Some("regular_web")`.
    pub app_type: Option<String>,
    /// Default `Some(["authorization_code", "refresh_token"])`.
    pub grant_types: Option<Vec<String>>,
    /// Default `Some("none")`: a public client using PKCE.
    pub token_endpoint_auth_method: Option<String>,
    /// Default `None`: DCR's third-party clients stay third-party (they log in through a
    /// domain-level connection). `Some(true)` is the seeds' first-party promotion, which removes
    /// the consent screen: opt in only if every client that can reach the webhook is one you
    /// trust ([`DcrPromoterBuilder::promote_first_party`](super::DcrPromoterBuilder::promote_first_party)).
    pub is_first_party: Option<bool>,
}

impl Default for PromotionTarget {
    fn default() -> Self {
        Self {
            app_type: Some("regular_web".into()),
            grant_types: Some(vec!["authorization_code".into(), "refresh_token".into()]),
            token_endpoint_auth_method: Some("none".into()),
            is_first_party: None,
        }
    }
}

/// An extra condition on the client's name. Not an identity (anyone registering a client picks
/// its name): the callbacks decide, the name can only narrow further.
#[derive(Clone)]
pub struct NameFilter(Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl NameFilter {
    /// Names containing `needle`, ignoring case.
    pub fn contains(needle: impl Into<String>) -> Self {
        let needle = needle.into().to_lowercase();
        Self(Arc::new(move |name: &str| {
            name.to_lowercase().contains(&needle)
        }))
    }

    /// Any predicate on the client's name.
    pub fn custom(f: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Whether `name` passes.
    pub fn matches(&self, name: &str) -> bool {
        (self.0)(name)
    }
}

impl Default for NameFilter {
    /// `contains("chatgpt")`, as the seeds' Post-Login Action matches ChatGPT clients.
    fn default() -> Self {
        Self::contains("chatgpt")
    }
}

impl std::fmt::Debug for NameFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NameFilter(..)")
    }
}

/// What [`DcrPromoter::promote`](super::DcrPromoter::promote) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PromotionOutcome {
    /// At least one write was needed and done.
    Promoted(PromotionChanges),
    /// Everything already held: only reads were sent.
    AlreadyPromoted,
    /// The client was left alone.
    Skipped(SkipReason),
    /// What Auth0 allows for this client was done (see `changes`), but a user still cannot log
    /// in through it: the tenant needs a change redelivery cannot make (see [`LoginBlocked`]).
    LoginBlocked(LoginBlocked),
}

/// A third-party client that cannot log in through the configured connections, because none
/// is domain-level: "Third-party applications can only authenticate users through domain-level
/// connections". The fix is tenant-wide (Authentication → the connection → Settings → Advanced
/// → *Promote Connection to Domain Level*, or `PATCH /api/v2/connections/{id}`
/// `{"is_domain_connection": true}`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginBlocked {
    /// The writes made anyway (the grant, so login works once the connection is promoted).
    pub changes: PromotionChanges,
    /// The configured connections that are not domain-level.
    pub connections_not_domain_level: Vec<String>,
}

/// Which writes a promotion made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PromotionChanges {
    /// The client itself was patched.
    pub client_patched: bool,
    /// Connections it was newly enabled on.
    pub connections_enabled: Vec<String>,
    /// A client grant was created.
    pub grant_created: bool,
    /// Scopes added to an existing grant.
    pub scopes_added: Vec<String>,
}

/// Why a client was left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The client does not exist (any more).
    NotFound,
    /// Its name does not pass the [`NameFilter`].
    NameNotMatched {
        /// The client's name.
        name: String,
    },
    /// It is first-party but not marked by this promoter: a hand-made application.
    HandMadeFirstParty,
    /// Neither Dynamic Client Registration nor a CIMD registration made it (e.g. an admin
    /// created it through `POST /api/v2/clients`).
    NotRegistered {
        /// Its population.
        population: String,
    },
    /// One of its callbacks is not on the allow-list: possibly someone else's client named
    /// like ChatGPT's.
    CallbacksNotAllowed {
        /// Every callback it has.
        callbacks: Vec<String>,
    },
    /// Its `third_party_security_mode` is one this crate does not know.
    UnknownSecurityMode {
        /// The mode.
        mode: String,
    },
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("client not found"),
            Self::NameNotMatched { name } => write!(f, "name {name:?} does not match the filter"),
            Self::HandMadeFirstParty => {
                f.write_str("first-party client without the promotion marker (hand-made)")
            }
            Self::NotRegistered { population } => write!(
                f,
                "{population} client not made by Dynamic Client Registration or CIMD registration"
            ),
            Self::CallbacksNotAllowed { callbacks } => {
                write!(f, "callbacks {callbacks:?} are not all on the allow-list")
            }
            Self::UnknownSecurityMode { mode } => {
                write!(f, "unknown third_party_security_mode {mode:?}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filter_matches_chatgpt_in_any_case() {
        let filter = NameFilter::default();
        assert!(filter.matches("ChatGPT"));
        assert!(filter.matches("my CHATGPT connector"));
        assert!(!filter.matches("Claude"));
        assert!(!filter.matches(""));
    }
}
