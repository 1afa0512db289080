//! The client populations of a 2026 tenant, shaped after recorded traffic and the docs
//! (`../shared/research/auth0-2026.md` §3.1). Each test picks the population it is about.

use serde_json::{Value, json};

/// ChatGPT's documented DCR redirect URI (developers.openai.com/plugins/build/auth).
pub const CHATGPT_CALLBACK: &str = "https://chatgpt.com/connector_platform_oauth_redirect";
/// ChatGPT's per-connector redirect URI form, with a recorded callback id.
pub const CHATGPT_CONNECTOR_CALLBACK: &str = "https://chatgpt.com/connector/oauth/IbUR3zxyNQ16";
/// ChatGPT's stable CIMD URL (developers.openai.com/plugins/build/auth).
pub const CHATGPT_CIMD_URL: &str = "https://chatgpt.com/oauth/client.json";

/// Which kind of client a test is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Population {
    /// Made by DCR on a tenant with enhanced security (every tenant since April 2026).
    StrictDcr,
    /// Made by DCR on an eligible tenant whose DCR mode is `permissive`.
    PermissiveDcr,
    /// Made by DCR on the 2025 platform: no security mode, ownership changeable.
    LegacyDcr,
    /// Registered by an admin from a Client ID Metadata Document.
    Cimd,
}

/// A `tpc_` client id: `tpc_` + 22 characters, as recorded (`tpc_vbc2Y77hGZfbhkSi7y3gTh`,
/// terraform `TestAccClient_ThirdPartySecurityMode.yaml`), derived from `seed` so tests can
/// name their clients.
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

/// A client of `population` named `name` with `callbacks`. `id` is used as is (give strict
/// and CIMD clients a [`tpc_id`]).
pub fn client(population: Population, id: &str, name: &str, callbacks: &[&str]) -> Value {
    match population {
        Population::StrictDcr => strict_dcr_client(id, name, callbacks),
        Population::PermissiveDcr => permissive_dcr_client(id, name, callbacks),
        Population::LegacyDcr => {
            let mut c = legacy_dcr_client(id, name);
            c["callbacks"] = json!(callbacks);
            c
        }
        Population::Cimd => cimd_client(id, name, callbacks),
    }
}

/// A client `POST /oidc/register` makes on a strict tenant: "third-party applications with
/// enhanced security controls … `tpc_` client ID prefix; Require PKCE; Support only
/// `authorization_code` and `refresh_token`" (`dynamic-client-registration.mdx`); fields as
/// recorded for a strict client (`TestAccClient_ThirdPartySecurityMode.yaml`) plus the 2026 OAS
/// `external_metadata_type: "dcr"` / `external_metadata_created_by: "client"`. `app_type` of a
/// DCR client is shown by no source; `regular_web` is a guess.
pub fn strict_dcr_client(id: &str, name: &str, callbacks: &[&str]) -> Value {
    json!({
        "client_id": id,
        "tenant": "tenant",
        "name": name,
        "app_type": "regular_web",
        "is_first_party": false,
        "third_party_security_mode": "strict",
        "redirection_policy": "open_redirect_protection",
        "external_metadata_type": "dcr",
        "external_metadata_created_by": "client",
        "oidc_conformant": true,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "callbacks": callbacks,
        "jwt_configuration": {"alg": "RS256", "lifetime_in_seconds": 3600},
        "refresh_token": {"rotation_type": "rotating", "expiration_type": "expiring"},
        "client_metadata": {}
    })
}

/// A DCR client on a permissive tenant: "Standard Client ID format (no `tpc_` prefix)"
/// (`permissive-mode.mdx`), `third_party_security_mode: "permissive"`, third-party.
pub fn permissive_dcr_client(id: &str, name: &str, callbacks: &[&str]) -> Value {
    json!({
        "client_id": id,
        "tenant": "tenant",
        "name": name,
        "app_type": "regular_web",
        "is_first_party": false,
        "third_party_security_mode": "permissive",
        "external_metadata_type": "dcr",
        "external_metadata_created_by": "client",
        "oidc_conformant": true,
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code", "refresh_token"],
        "callbacks": callbacks,
        "jwt_configuration": {"alg": "RS256", "lifetime_in_seconds": 36000},
        "client_metadata": {}
    })
}

/// A client as the 2025 platform's DCR left it (the seeds' world): third-party, confidential,
/// no security mode, no external metadata, ChatGPT's callback. Matches none of the 2026
/// populations — hence the name.
pub fn legacy_dcr_client(id: &str, name: &str) -> Value {
    json!({
        "client_id": id,
        "tenant": "tenant",
        "name": name,
        "description": "",
        "app_type": "regular_web",
        "is_first_party": false,
        "is_token_endpoint_ip_header_trusted": false,
        "oidc_conformant": true,
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code", "implicit"],
        "callbacks": [CHATGPT_CALLBACK],
        "jwt_configuration": {"alg": "RS256", "lifetime_in_seconds": 36000},
        "client_metadata": {},
        "custom_login_page_on": true
    })
}

/// A client an admin registered from a CIMD URL (`POST /api/v2/clients/cimd/register`):
/// `tpc_…`, `external_client_id`, `external_metadata_type: "cimd"`,
/// `external_metadata_created_by: "admin"` and **no** `third_party_security_mode` field, as in
/// both real recordings (terraform `TestAccClientCIMD.yaml`, go-auth0
/// `TestClient_CIMDFields.yaml`); "CIMD clients always register with
/// `third_party_security_mode: "strict"`" (`register-applications-with-cimd.mdx`).
pub fn cimd_client(id: &str, name: &str, callbacks: &[&str]) -> Value {
    json!({
        "client_id": id,
        "tenant": "tenant",
        "name": name,
        "app_type": "native",
        "is_first_party": false,
        "external_client_id": CHATGPT_CIMD_URL,
        "external_metadata_type": "cimd",
        "external_metadata_created_by": "admin",
        "oidc_conformant": true,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "callbacks": callbacks,
        "jwt_configuration": {"alg": "RS256", "lifetime_in_seconds": 3600},
        "refresh_token": {"rotation_type": "rotating", "expiration_type": "expiring"},
        "client_metadata": {}
    })
}

/// Whether Auth0 treats `client` as a strict third-party app: a strict security mode, or a
/// CIMD client (always strict, though the field is absent).
pub fn is_strict(client: &Value) -> bool {
    client["third_party_security_mode"] == "strict" || client["external_metadata_type"] == "cimd"
}

/// Whether `client` is third-party (`is_first_party` false or absent).
pub fn is_third_party(client: &Value) -> bool {
    client["is_first_party"] != true
}

/// The client ChatGPT registers: of `population`, named `ChatGPT`, with its callback.
pub fn chatgpt_client(population: Population, id: &str) -> Value {
    client(population, id, "ChatGPT", &[CHATGPT_CALLBACK])
}
