//! [`ScopeClaims`]: which claims of a JWT name the scopes it grants.

/// Which claims of a verified JWT count as its granted scopes
/// ([`AccessToken::scopes`](crate::AccessToken::scopes)); set with
/// [`JwksVerifierBuilder::scope_claims`](crate::token::JwksVerifierBuilder::scope_claims).
///
/// The standard claim is `scope`, a space-separated string (RFC 9068 §2.2.3, RFC 8693 §4.2).
/// Auth0 with RBAC's "Add Permissions in the Access Token" also sends the API permissions the
/// user was given as a `permissions` array, and those are what the user may do: for Auth0, both
/// count. Another issuer may use a claim of that name for something else, and counting it would
/// grant scopes the issuer never meant; for such issuers choose [`ScopeClaims::ScopeOnly`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ScopeClaims {
    /// `scope` ∪ Auth0's `permissions` array (the default: Auth0 is this crate's issuer).
    #[default]
    ScopeAndAuth0Permissions,
    /// `scope` only: a `permissions` claim, whatever it holds, grants nothing.
    ScopeOnly,
}

impl ScopeClaims {
    /// Whether the `permissions` array counts.
    pub(crate) fn counts_permissions(self) -> bool {
        matches!(self, Self::ScopeAndAuth0Permissions)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dev::DevIssuer;
    use crate::token::{JwksVerifier, TokenVerifier};

    const AUDIENCE: &str = "https://api.example/mcp";

    async fn scopes_granted(issuer: &DevIssuer, claims: ScopeClaims) -> Vec<String> {
        let verifier = JwksVerifier::builder()
            .issuer(issuer.issuer())
            .audience(AUDIENCE)
            .jwks_document(issuer.jwks().to_string())
            .scope_claims(claims)
            .build()
            .await
            .unwrap();
        let token = issuer
            .token(AUDIENCE)
            .scope("docs:read")
            .claim("permissions", json!(["docs:write", "admin"]))
            .sign()
            .unwrap();
        verifier.verify(&token).await.unwrap().scopes().to_vec()
    }

    #[tokio::test]
    async fn auth0_permissions_count_by_default_and_not_with_scope_only() {
        let issuer = DevIssuer::generate().unwrap();
        assert_eq!(
            scopes_granted(&issuer, ScopeClaims::default()).await,
            ["admin", "docs:read", "docs:write"]
        );
        assert_eq!(
            scopes_granted(&issuer, ScopeClaims::ScopeOnly).await,
            ["docs:read"]
        );
    }
}
