//! [`ClientSecret`]: an OAuth client secret, typed so it cannot be passed where a client id
//! goes, and never printed.

use std::fmt;

/// An OAuth client secret (RFC 6749 §2.3.1): for the introspection endpoint
/// ([`IntrospectionVerifierBuilder::client_credentials`](crate::token::IntrospectionVerifierBuilder::client_credentials))
/// and the Auth0 Management API's machine-to-machine app.
///
/// A type of its own so that a client id and a secret, both strings, cannot be swapped and
/// still compile (so there is deliberately no `From<&str>`: the call site says
/// `ClientSecret::new(..)`); its `Debug` never shows the value.
///
/// ```
/// use tower_mcp_auth::ClientSecret;
///
/// let secret = ClientSecret::new("s3cr3t-from-the-environment");
/// assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
/// ```
///
/// A plain string is not a secret, so an id and a secret given the wrong way round do not
/// compile:
///
/// ```compile_fail
/// use tower_mcp_auth::token::IntrospectionVerifier;
///
/// let builder = IntrospectionVerifier::builder().client_credentials("s3cr3t", "client-id");
/// ```
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret (typically read from the environment or a secret store).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the request that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (an empty secret authenticates nothing).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}
