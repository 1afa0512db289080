//! Bodies of the tenant-wide Management API calls the set-up needs ([`TenantSetup`]), with the
//! field names of Auth0's Management API reference (OAS `management-api-oas.json`, 2026-06-25,
//! via `auth0/docs-v2`): tenant settings, resource servers, default client grants, CIMD
//! registration and preview. Unknown response fields are ignored; absent ones take defaults.
//!
//! [`TenantSetup`]: crate::auth0::TenantSetup

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::types::SubjectType;

/// `GET /api/v2/tenants/settings`, reduced to what the set-up reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TenantSettings {
    /// The tenant's flags.
    pub flags: TenantFlags,
    /// `audience` (only `audience` selects the API) or `compatibility` (RFC 8707 `resource`
    /// selects it when no `audience` is sent). The docs and the OAS disagree on the default for
    /// new tenants, so it is read, never assumed.
    pub resource_parameter_profile: Option<String>,
    /// RFC 9207: `iss` in authorization responses (ChatGPT then uses its stable redirect and
    /// its stable CIMD URL).
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// Whether the authorization server metadata advertises Client ID Metadata Documents
    /// (early access in the 2026-06 OAS).
    pub client_id_metadata_document_supported: Option<bool>,
    /// `strict` or `permissive`: the kind of third-party client DCR creates. A new tenant's GET
    /// has been seen omitting it while creating strict clients.
    pub dynamic_client_registration_security_mode: Option<String>,
    /// The API a token is for when a request names none.
    pub default_audience: Option<String>,
}

/// The `flags` object of the tenant settings, reduced to what the set-up reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TenantFlags {
    /// Open Dynamic Client Registration at `/oidc/register`.
    pub enable_dynamic_client_registration: Option<bool>,
}

/// The body of `PATCH /api/v2/tenants/settings`: only the fields being changed are sent (Auth0
/// refuses some read-only flags echoed back from a GET).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TenantSettingsPatch {
    /// Flags to change; Auth0 merges them into the existing flags (the DCR guide patches
    /// `{"flags": {"enable_dynamic_client_registration": true}}` alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<TenantFlags>,
    /// New `resource_parameter_profile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_parameter_profile: Option<String>,
    /// New `authorization_response_iss_parameter_supported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// New `client_id_metadata_document_supported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id_metadata_document_supported: Option<bool>,
}

/// One permission of an API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceServerScope {
    /// The scope, e.g. `search.read`.
    pub value: String,
    /// What it allows (shown on the consent screen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An API (`GET /api/v2/resource-servers/{id or identifier}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ResourceServer {
    /// Auth0's id of the API.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// The Identifier: the `audience` (and, with the compatibility profile, the `resource`).
    pub identifier: String,
    /// `RS256`, `HS256` or `PS256`.
    pub signing_alg: Option<String>,
    /// Its permissions.
    pub scopes: Vec<ResourceServerScope>,
}

/// The body of `POST /api/v2/resource-servers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewResourceServer {
    /// Display name.
    pub name: String,
    /// Identifier (cannot be changed later).
    pub identifier: String,
    /// Signing algorithm.
    pub signing_alg: String,
    /// Permissions.
    pub scopes: Vec<ResourceServerScope>,
}

/// The body of `PATCH /api/v2/resource-servers/{id}`: only the fields being changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ResourceServerPatch {
    /// New signing algorithm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_alg: Option<String>,
    /// The complete new permission list (Auth0 replaces it: send the existing ones too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<ResourceServerScope>>,
}

/// The body of `POST /api/v2/client-grants` for the tenant's default permissions for
/// third-party applications: `default_for` instead of `client_id` (mutually exclusive), and
/// `subject_type: "user"` — omitted, Auth0 creates a machine-to-machine (`client`) grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewDefaultClientGrant {
    /// Always `third_party_clients` (the only accepted value).
    pub default_for: String,
    /// The API identifier.
    pub audience: String,
    /// The scopes every third-party client may ask users for.
    pub scope: Vec<String>,
    /// `user`: the grant covers user-delegated flows.
    pub subject_type: SubjectType,
}

/// The result Auth0 gives of validating a Client ID Metadata Document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CimdValidation {
    /// Whether the document passed.
    pub valid: bool,
    /// Rules it breaks.
    pub violations: Vec<String>,
    /// What Auth0 ignored or adjusted (e.g. unsupported properties).
    pub warnings: Vec<String>,
}

/// The answer of `POST /api/v2/clients/cimd/register`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CimdRegistration {
    /// The Auth0 client id (`tpc_…`).
    pub client_id: String,
    /// The document's fields as mapped to the client (`name`, `callbacks`, …).
    pub mapped_fields: Map<String, Value>,
    /// Auth0's validation of the document.
    pub validation: CimdValidation,
    /// `true` when Auth0 answered 201 (created), `false` for 200 (an existing client updated).
    #[serde(skip)]
    pub created: bool,
}

/// The answer of `POST /api/v2/clients/cimd/preview`: what registering would do, without doing
/// it. `errors` is set instead of `validation` when the document could not be fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CimdPreview {
    /// The existing client with this `external_client_id`, if any.
    pub client_id: Option<String>,
    /// The document's fields as they would be mapped.
    pub mapped_fields: Map<String, Value>,
    /// Auth0's validation, when the document was fetched.
    pub validation: Option<CimdValidation>,
    /// Why the document could not be fetched or read.
    pub errors: Vec<Value>,
}

/// The body of the CIMD register and preview calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct CimdRequest<'a> {
    pub(crate) external_client_id: &'a str,
}

/// The body of `PATCH /api/v2/connections/{id}` that promotes a connection to domain level;
/// nothing else is sent (a PATCH with `options` replaces the whole `options` object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DomainLevelPatch {
    pub(crate) is_domain_connection: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_patch_sends_only_what_changes() {
        let patch = TenantSettingsPatch {
            flags: Some(TenantFlags {
                enable_dynamic_client_registration: Some(true),
            }),
            ..TenantSettingsPatch::default()
        };
        assert_eq!(
            serde_json::to_value(&patch).expect("serialises"),
            serde_json::json!({"flags": {"enable_dynamic_client_registration": true}})
        );
    }

    #[test]
    fn a_default_grant_names_default_for_and_user_subject() {
        let grant = NewDefaultClientGrant {
            default_for: "third_party_clients".into(),
            audience: "https://api.example.com/mcp".into(),
            scope: vec!["search.read".into()],
            subject_type: SubjectType::User,
        };
        assert_eq!(
            serde_json::to_value(&grant).expect("serialises"),
            serde_json::json!({"default_for": "third_party_clients",
                "audience": "https://api.example.com/mcp", "scope": ["search.read"],
                "subject_type": "user"})
        );
    }

    #[test]
    fn the_recorded_cimd_answer_parses() {
        // terraform-provider-auth0 `test/data/recordings/TestAccClientCIMD.yaml` (2026).
        let answer: CimdRegistration = serde_json::from_str(
            r#"{"client_id":"tpc_bU3H7iEFPD3nVwc6a6yoa2","mapped_fields":{"external_client_id":"https://tinywiki.xyz/client.json","name":"TinyWiki","callbacks":["https://tinywiki.xyz/"],"grant_types":["authorization_code"],"app_type":"native","token_endpoint_auth_method":"none"},"validation":{"valid":true,"violations":[],"warnings":["Ignoring unsupported properties: client_uri. These properties are not validated or mapped to the Auth0 client configuration."]}}"#,
        )
        .expect("parses");
        assert!(answer.validation.valid);
        assert_eq!(answer.mapped_fields["name"], "TinyWiki");
    }
}
