//! [`ClientPopulation`]: what kind of client the Management API says a client is, which decides
//! what a promotion may write to it; and whether Dynamic Client Registration made it.
//!
//! Since April 2026 every client made by DCR is a **strict** third-party app: `tpc_` id,
//! `third_party_security_mode: "strict"`, ownership and security mode immutable ("You cannot
//! convert an existing application between first-party and third-party", Auth0 docs,
//! third-party applications troubleshooting). Customers who had third-party apps before may run
//! DCR in **permissive** mode. Clients without a security mode are **legacy** (the 2025
//! platform). **CIMD** clients are made by an admin from a Client ID Metadata Document and are
//! always strict, though they carry no security-mode field.

use super::log_event::DcrSignal;
use super::management::Client;

/// What kind of client a client is, from `GET /api/v2/clients/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientPopulation {
    /// `third_party_security_mode: "strict"`: nothing about ownership may change, logins only
    /// through domain-level connections, API access only through client grants.
    Strict,
    /// `third_party_security_mode: "permissive"`.
    Permissive,
    /// `external_metadata_type: "cimd"`: registered from a Client ID Metadata Document; strict.
    Cimd,
    /// No security mode: the 2025 platform, whose DCR clients could be made first-party.
    Legacy,
    /// A security mode this crate does not know: treated as the strictest (nothing written).
    Unknown(String),
}

impl ClientPopulation {
    /// The population of `client`.
    pub fn of(client: &Client) -> Self {
        if client.external_metadata_type.as_deref() == Some("cimd") {
            return Self::Cimd;
        }
        match client.third_party_security_mode.as_deref() {
            Some("strict") => Self::Strict,
            Some("permissive") => Self::Permissive,
            Some(other) => Self::Unknown(other.to_owned()),
            None => Self::Legacy,
        }
    }

    /// A short name for logs and skip reasons.
    pub fn name(&self) -> &str {
        match self {
            Self::Strict => "strict",
            Self::Permissive => "permissive",
            Self::Cimd => "cimd",
            Self::Legacy => "legacy",
            Self::Unknown(mode) => mode,
        }
    }
}

/// Whether the client was made the way ChatGPT makes its clients: by DCR — read from
/// `external_metadata_type: "dcr"` with `external_metadata_created_by: "client"` where Auth0
/// sets them, else from the log event (a registration, not a `POST /api/v2/clients` by an
/// admin) — or registered from a CIMD document (`external_metadata_type: "cimd"`), which an
/// admin does on purpose for ChatGPT's or Claude's URL.
pub fn made_by_registration(client: &Client, signal: DcrSignal) -> bool {
    match client.external_metadata_type.as_deref() {
        Some("dcr") => client.external_metadata_created_by.as_deref() == Some("client"),
        Some("cimd") => true,
        Some(_) => false,
        None => matches!(signal, DcrSignal::SapiDescription | DcrSignal::RegisterPath),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(json: serde_json::Value) -> Client {
        serde_json::from_value(json).expect("client")
    }

    #[test]
    fn populations_are_read_from_the_2026_fields() {
        let strict = client(serde_json::json!({"client_id": "tpc_x",
            "third_party_security_mode": "strict", "external_metadata_type": "dcr",
            "external_metadata_created_by": "client"}));
        assert_eq!(ClientPopulation::of(&strict), ClientPopulation::Strict);
        let cimd = client(serde_json::json!({"client_id": "tpc_y",
            "external_metadata_type": "cimd", "external_metadata_created_by": "admin"}));
        assert_eq!(ClientPopulation::of(&cimd), ClientPopulation::Cimd);
        let legacy = client(serde_json::json!({"client_id": "abc"}));
        assert_eq!(ClientPopulation::of(&legacy), ClientPopulation::Legacy);
        let odd = client(serde_json::json!({"client_id": "abc", "third_party_security_mode": "x"}));
        assert_eq!(
            ClientPopulation::of(&odd),
            ClientPopulation::Unknown("x".into())
        );
    }

    #[test]
    fn admin_created_clients_are_not_registrations() {
        let legacy = client(serde_json::json!({"client_id": "abc"}));
        assert!(made_by_registration(&legacy, DcrSignal::SapiDescription));
        assert!(made_by_registration(&legacy, DcrSignal::RegisterPath));
        assert!(!made_by_registration(&legacy, DcrSignal::CreateClientCall));
        let admin_dcr = client(serde_json::json!({"client_id": "tpc_x",
            "external_metadata_type": "dcr", "external_metadata_created_by": "admin"}));
        assert!(!made_by_registration(
            &admin_dcr,
            DcrSignal::SapiDescription
        ));
    }
}
