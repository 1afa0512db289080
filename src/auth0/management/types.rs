//! Request and response bodies of the Management API calls the promotion needs, with Auth0's
//! documented field names. Unknown response fields are ignored; absent ones take defaults.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An application (`GET /api/v2/clients/{id}`), reduced to the fields the promotion reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Client {
    /// The client's id.
    pub client_id: String,
    /// Its display name (DCR sets it from the registration's `client_name`).
    pub name: String,
    /// `native`, `spa`, `regular_web`, `non_interactive`, …; absent on some DCR clients.
    pub app_type: Option<String>,
    /// The OAuth grant types the client may use.
    pub grant_types: Vec<String>,
    /// `none` (public client, PKCE), `client_secret_post` or `client_secret_basic`.
    pub token_endpoint_auth_method: Option<String>,
    /// Whether the client is first-party; DCR creates third-party clients.
    pub is_first_party: Option<bool>,
    /// Free-form string metadata (at most 10 keys in Auth0).
    pub client_metadata: Map<String, Value>,
    /// The allowed redirect URIs (DCR sets them from the registration's `redirect_uris`).
    pub callbacks: Vec<String>,
    /// `strict` (every DCR client since April 2026) or `permissive`; absent on first-party,
    /// legacy and CIMD clients. Set on creation, never changeable.
    pub third_party_security_mode: Option<String>,
    /// `dcr` for clients registered by Dynamic Client Registration, `cimd` for clients made from
    /// a Client ID Metadata Document; absent on others.
    pub external_metadata_type: Option<String>,
    /// `client` when the client registered itself (DCR), `admin` when an admin did (CIMD).
    pub external_metadata_created_by: Option<String>,
    /// A CIMD client's URL (its `client_id` towards the authorization server).
    pub external_client_id: Option<String>,
}

/// The body of `PATCH /api/v2/clients/{id}`: only the fields that are set are sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ClientPatch {
    /// New `app_type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_type: Option<String>,
    /// New `grant_types`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// New `token_endpoint_auth_method`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// New `is_first_party`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_first_party: Option<bool>,
    /// New `client_metadata` (Auth0 replaces the whole object: send the merged map).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<Map<String, Value>>,
}

impl ClientPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A connection (`GET /api/v2/connections?name=…`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Connection {
    /// The connection id (`con_…`), used in the per-client endpoints.
    pub id: String,
    /// Its name, e.g. `google-oauth2`.
    pub name: String,
    /// Its strategy, e.g. `google-oauth2`, `auth0`.
    pub strategy: Option<String>,
    /// Whether it is domain-level: usable by every third-party application of the tenant, the
    /// only connections third-party applications can log in with.
    pub is_domain_connection: bool,
}

/// One item of `PATCH /api/v2/connections/{id}/clients` (1 to 50 per request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EnabledClientStatus {
    /// The client whose status changes.
    pub client_id: String,
    /// `true` enables the connection for it, `false` disables it.
    pub status: bool,
}

/// One page of `GET /api/v2/clients/{id}/connections` (checkpoint pagination).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClientConnectionsPage {
    /// The connections on this page.
    pub connections: Vec<Connection>,
    /// The cursor of the next page; absent on the last one.
    pub next: Option<String>,
}

/// Whom a client grant is for: Auth0 keeps one grant per client, API and subject type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    /// User-delegated access: every flow whose token is about an end user (a ChatGPT login).
    User,
    /// Machine access (client credentials). Auth0's default when a request names none.
    #[default]
    Client,
}

impl SubjectType {
    /// The wire value, `user` or `client`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Client => "client",
        }
    }
}

/// A client grant: which API (`audience`) a client may get tokens for, with which scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ClientGrant {
    /// The grant id (`cgr_…`).
    pub id: String,
    /// The client; empty for a `default_for` grant.
    pub client_id: String,
    /// `third_party_clients` for the tenant's default permissions of third-party apps.
    pub default_for: Option<String>,
    /// The API identifier.
    pub audience: String,
    /// The granted scopes.
    pub scope: Vec<String>,
    /// `user` or `client`; a grant that names none is Auth0's default, `client`.
    pub subject_type: SubjectType,
}

/// The body of `POST /api/v2/client-grants` for one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewClientGrant {
    /// The client.
    pub client_id: String,
    /// The API identifier.
    pub audience: String,
    /// The scopes to grant.
    pub scope: Vec<String>,
    /// Always sent: when omitted Auth0 creates a `client` (machine) grant, which no login uses.
    pub subject_type: SubjectType,
}

/// The body of `PATCH /api/v2/client-grants/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientGrantPatch {
    /// The complete new scope list (Auth0 replaces it).
    pub scope: Vec<String>,
}

/// Auth0's error body: `{statusCode, error, message, errorCode}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ErrorBody {
    pub(crate) error: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) error_code: Option<String>,
    /// The token endpoint answers OAuth-style errors instead.
    #[serde(rename = "error_description")]
    pub(crate) error_description: Option<String>,
}

/// A list endpoint answers a bare array, or an object with totals when asked for them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum ListOf<T> {
    Array(Vec<T>),
    Grants { client_grants: Vec<T> },
    Connections { connections: Vec<T> },
}

impl<T> ListOf<T> {
    pub(crate) fn into_vec(self) -> Vec<T> {
        match self {
            Self::Array(v)
            | Self::Grants { client_grants: v }
            | Self::Connections { connections: v } => v,
        }
    }
}

/// The token endpoint's answer. Not `Debug`: it holds the bearer token.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
    /// The granted scopes, space-separated (Auth0 sends them with `client_credentials`).
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ignores_unknown_fields_and_defaults_missing_ones() {
        let client: Client = serde_json::from_value(serde_json::json!({
            "client_id": "abc", "name": "ChatGPT", "callbacks": ["https://x"], "global": false
        }))
        .expect("parses");
        assert_eq!(client.client_id, "abc");
        assert!(client.grant_types.is_empty());
        assert_eq!(client.is_first_party, None);
    }

    #[test]
    fn client_patch_sends_only_set_fields() {
        let patch = ClientPatch {
            app_type: Some("regular_web".into()),
            ..ClientPatch::default()
        };
        assert_eq!(
            serde_json::to_value(&patch).expect("serialises"),
            serde_json::json!({"app_type": "regular_web"})
        );
        assert!(ClientPatch::default().is_empty());
    }

    #[test]
    fn grant_lists_parse_as_array_or_paged_object() {
        let a: ListOf<ClientGrant> = serde_json::from_str(
            r#"[{"id":"cgr_1","client_id":"c","audience":"a","scope":["x"]}]"#,
        )
        .expect("array");
        let b: ListOf<ClientGrant> = serde_json::from_str(
            r#"{"client_grants":[{"id":"cgr_1","client_id":"c","audience":"a","scope":[]}],"total":1}"#,
        )
        .expect("object");
        assert_eq!(a.into_vec()[0].scope, vec!["x"]);
        assert_eq!(b.into_vec()[0].id, "cgr_1");
    }

    #[test]
    fn error_body_reads_auth0_fields() {
        let e: ErrorBody = serde_json::from_str(
            r#"{"statusCode":409,"error":"Conflict","message":"exists","errorCode":"conflict"}"#,
        )
        .expect("parses");
        assert_eq!(e.error_code.as_deref(), Some("conflict"));
        assert_eq!(e.message.as_deref(), Some("exists"));
    }
}
