//! What a promotion aims for and what it reports: the target client settings, the name filter
//! that picks ChatGPT's DCR clients, and the outcome of one [`DcrPromoter::promote`] call.
//!
//! [`DcrPromoter::promote`]: super::DcrPromoter::promote

use std::sync::Arc;

/// The `client_metadata` key this promoter writes on every client it promotes.
pub const PROMOTED_MARKER_KEY: &str = "tower_mcp_auth";
/// The value of [`PROMOTED_MARKER_KEY`].
pub const PROMOTED_MARKER_VALUE: &str = "dcr-promoted";

/// The client settings a promoted client gets. `None` leaves a field as DCR set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionTarget {
    /// Default `Some("regular_web")`.
    pub app_type: Option<String>,
    /// Default `Some(["authorization_code", "refresh_token"])`.
    pub grant_types: Option<Vec<String>>,
    /// Default `Some("none")`: a public client using PKCE.
    pub token_endpoint_auth_method: Option<String>,
    /// Default `Some(true)`; `None` keeps DCR's third-party clients third-party (for tenants
    /// that use domain-level connections instead).
    pub is_first_party: Option<bool>,
}

impl Default for PromotionTarget {
    fn default() -> Self {
        Self {
            app_type: Some("regular_web".into()),
            grant_types: Some(vec!["authorization_code".into(), "refresh_token".into()]),
            token_endpoint_auth_method: Some("none".into()),
            is_first_party: Some(true),
        }
    }
}

/// Decides by its name whether a client is one DCR made for ChatGPT.
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
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("client not found"),
            Self::NameNotMatched { name } => write!(f, "name {name:?} does not match the filter"),
            Self::HandMadeFirstParty => {
                f.write_str("first-party client without the promotion marker (hand-made)")
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
