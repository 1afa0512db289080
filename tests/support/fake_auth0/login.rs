//! The decision the tests care about: *can this client obtain a user token for this audience,
//! with these scopes, through this connection?* — Auth0's documented rule, not an endpoint.
//!
//! - First-party client: the connection must be enabled for the client.
//! - Third-party client: "Third-party applications can only authenticate users through
//!   domain-level connections" (`configure-third-party-applications.mdx`); and, for strict and
//!   CIMD clients ("Can only access APIs through explicit client grants",
//!   `dynamic-client-registration.mdx`), a `subject_type: "user"` grant for the client, else a
//!   `default_for: "third_party_clients"` user grant, must cover the scopes — "per-application
//!   permissions take precedence over default permissions", so a per-client user grant that
//!   exists decides alone. Without one, Auth0 answers `unauthorized_client` ("The third-party
//!   application does not have a client grant for the requested API", `troubleshooting.mdx`).
//!   Whether precedence is per subject type is not documented; the fake assumes it is (a
//!   `client` grant never hides the default `user` grant).

use super::populations::{is_strict, is_third_party};
use super::state::FakeState;

/// Why a login would fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefusal {
    NoSuchClient,
    NoSuchConnection,
    /// First-party client, connection not enabled for it.
    ConnectionNotEnabled,
    /// Third-party client, connection not domain-level.
    ConnectionNotDomainLevel,
    /// `unauthorized_client`: no user grant for the audience.
    NoUserGrant,
    /// The deciding user grant lacks these scopes.
    ScopesNotGranted(Vec<String>),
}

/// The decision; `Ok(())` when the login would yield a token with every scope asked for.
pub fn can_log_in(
    state: &FakeState,
    client_id: &str,
    audience: &str,
    connection: &str,
    scopes: &[&str],
) -> Result<(), LoginRefusal> {
    let client = state
        .clients
        .get(client_id)
        .ok_or(LoginRefusal::NoSuchClient)?;
    let conn = state
        .connection_by_name(connection)
        .ok_or(LoginRefusal::NoSuchConnection)?;
    if !is_third_party(client) {
        // First-party: enabled connection; API access per the API's user policy (all apps).
        return if conn.enabled.contains(client_id) {
            Ok(())
        } else {
            Err(LoginRefusal::ConnectionNotEnabled)
        };
    }
    if !conn.is_domain_connection {
        return Err(LoginRefusal::ConnectionNotDomainLevel);
    }
    if !is_strict(client) && state.knobs.api_allows_all_non_strict_apps {
        return Ok(());
    }
    let own = state.grant_with_key(Some(client_id), None, audience, "user");
    let default = state.grant_with_key(None, Some("third_party_clients"), audience, "user");
    let grant = own.or(default).ok_or(LoginRefusal::NoUserGrant)?;
    let missing: Vec<String> = scopes
        .iter()
        .filter(|s| !grant.scope.iter().any(|g| g == *s))
        .map(|s| (*s).to_owned())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(LoginRefusal::ScopesNotGranted(missing))
    }
}
