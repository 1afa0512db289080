//! *Can this client log a user in for this audience, with these scopes, through this
//! connection?* — Auth0's documented rule, as a decision tests assert (not an endpoint).
//!
//! INTERIM: issue 12 is rebuilding the fake with the same decision (`fake_auth0/login.rs`);
//! once it is on `main` this module gives way to it. Same rule, same signature:
//!
//! - First-party client: the connection must be enabled for the client.
//! - Third-party client: "Third-party applications can only authenticate users through
//!   domain-level connections" (`configure-third-party-applications.mdx`); and (strict and CIMD
//!   clients "Can only access APIs through explicit client grants",
//!   `dynamic-client-registration.mdx`) a `subject_type: "user"` grant for the client, else a
//!   `default_for: "third_party_clients"` user grant, must cover the scopes ("per-application
//!   permissions take precedence over default permissions"). Without one Auth0 answers
//!   `unauthorized_client` (`troubleshooting.mdx`). Whether precedence is per subject type is
//!   not documented; this assumes it is (a `client` grant never hides the default `user` one).

use serde_json::{Value, json};

use super::FakeState;

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
        .connections
        .iter()
        .find(|c| c.name == connection)
        .ok_or(LoginRefusal::NoSuchConnection)?;
    if client["is_first_party"] == true {
        return if conn.enabled.contains(client_id) {
            Ok(())
        } else {
            Err(LoginRefusal::ConnectionNotEnabled)
        };
    }
    if !conn.is_domain_connection {
        return Err(LoginRefusal::ConnectionNotDomainLevel);
    }
    let user_grant = |client: &str, default_for: Option<&str>| {
        state.grants.iter().find(|g| {
            g.client_id == client
                && g.default_for.as_deref() == default_for
                && g.audience == audience
                && g.subject_type == "user"
        })
    };
    let grant = user_grant(client_id, None)
        .or_else(|| user_grant("", Some("third_party_clients")))
        .ok_or(LoginRefusal::NoUserGrant)?;
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

/// A `tpc_` client id: `tpc_` + 22 characters, as recorded (`tpc_vbc2Y77hGZfbhkSi7y3gTh`,
/// terraform `TestAccClient_ThirdPartySecurityMode.yaml`), derived from `seed`.
pub fn tpc_id(seed: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::from("tpc_");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    for _ in 0..22 {
        h = h
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        id.push(ALPHABET[(h >> 33) as usize % ALPHABET.len()] as char);
    }
    id
}

/// A client `POST /oidc/register` makes on a strict tenant (`dynamic-client-registration.mdx`:
/// `tpc_` id, PKCE, only `authorization_code` + `refresh_token`; fields as recorded for a
/// strict client plus the 2026 OAS `external_metadata_*`).
pub fn strict_dcr_client(id: &str, name: &str, callbacks: &[&str]) -> Value {
    json!({
        "client_id": id, "tenant": "tenant", "name": name, "app_type": "regular_web",
        "is_first_party": false, "third_party_security_mode": "strict",
        "redirection_policy": "open_redirect_protection", "external_metadata_type": "dcr",
        "external_metadata_created_by": "client", "oidc_conformant": true,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "callbacks": callbacks,
        "jwt_configuration": {"alg": "RS256", "lifetime_in_seconds": 3600},
        "refresh_token": {"rotation_type": "rotating", "expiration_type": "expiring"},
        "client_metadata": {}
    })
}
