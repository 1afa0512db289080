//! How tokens are verified: `OAUTH_ISSUER` / `OAUTH_AUDIENCE` (comma lists), `OAUTH_ALGORITHMS`,
//! `OAUTH_TOKEN_TYP` and `OAUTH_INTROSPECTION*`.

use tower_mcp_auth::ClientSecret;
use tower_mcp_auth::token::{
    Algorithm, IntrospectionVerifier, IntrospectionVerifierBuilder, JwksVerifier,
    JwksVerifierBuilder, TokenTypePolicy,
};

use super::Secret;

/// The token verification settings. The first issuer and audience are the primary ones: the
/// metadata advertises them (unless `RESOURCE_URL` names the resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub issuers: Vec<String>,
    pub audiences: Vec<String>,
    /// `OAUTH_ALGORITHMS`, default RS256.
    pub algorithms: Vec<Algorithm>,
    /// `OAUTH_TOKEN_TYP`: unset or `any` = no check, else a comma list (`at+jwt`).
    pub token_type: TokenTypePolicy,
    /// `OAUTH_INTROSPECTION=true`: opaque tokens are checked at the first issuer's discovered
    /// `introspection_endpoint`.
    pub introspection: Option<Introspection>,
}

/// The resource server's client at the introspection endpoint (`client_secret_basic`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspection {
    pub client_id: String,
    pub client_secret: Secret,
}

impl Default for Verification {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            audiences: Vec::new(),
            algorithms: vec![Algorithm::RS256],
            token_type: TokenTypePolicy::Any,
            introspection: None,
        }
    }
}

/// `a, b,,c` → `["a", "b", "c"]`.
pub(super) fn comma_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads everything but the issuers and audiences (which decide the mode and are read first).
pub(super) fn read(
    get: &impl Fn(&str) -> Option<String>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    problems: &mut Vec<String>,
) -> Verification {
    let mut verification = Verification {
        issuers,
        audiences,
        ..Verification::default()
    };
    if let Some(raw) = get("OAUTH_ALGORITHMS") {
        let mut algorithms = Vec::new();
        for name in comma_list(&raw) {
            match name.parse::<Algorithm>() {
                Ok(alg) => algorithms.push(alg),
                Err(error) => problems.push(format!("OAUTH_ALGORITHMS: {error}")),
            }
        }
        if algorithms.is_empty() && !problems.iter().any(|p| p.starts_with("OAUTH_ALGORITHMS")) {
            problems.push("OAUTH_ALGORITHMS names no algorithm; leave it unset for RS256".into());
        }
        verification.algorithms = algorithms;
    }
    verification.token_type = match get("OAUTH_TOKEN_TYP").as_deref() {
        None | Some("any") | Some("off") => TokenTypePolicy::Any,
        Some(raw) => {
            let list = comma_list(raw);
            if list.len() == 1 && list[0].eq_ignore_ascii_case("at+jwt") {
                TokenTypePolicy::AccessTokenJwt
            } else {
                TokenTypePolicy::OneOf(list)
            }
        }
    };
    let enabled = match get("OAUTH_INTROSPECTION").as_deref() {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(other) => {
            problems.push(format!(
                "OAUTH_INTROSPECTION `{other}` must be true or false"
            ));
            false
        }
    };
    let client_id = get("OAUTH_INTROSPECTION_CLIENT_ID");
    let client_secret = get("OAUTH_INTROSPECTION_CLIENT_SECRET");
    match (enabled, client_id, client_secret) {
        (true, Some(client_id), Some(secret)) => {
            verification.introspection = Some(Introspection {
                client_id,
                client_secret: Secret::new(secret),
            });
        }
        (true, _, _) => problems.push(
            "OAUTH_INTROSPECTION=true needs OAUTH_INTROSPECTION_CLIENT_ID and \
             OAUTH_INTROSPECTION_CLIENT_SECRET: the resource server's client at the issuer"
                .to_owned(),
        ),
        (false, None, None) => {}
        (false, _, _) => problems.push(
            "OAUTH_INTROSPECTION_CLIENT_* are set but OAUTH_INTROSPECTION is not true".to_owned(),
        ),
    }
    verification
}

impl Verification {
    /// The JWT verifier's builder for `issuer` and `audience` (the primary ones, or dev mode's),
    /// with every other issuer and audience, the algorithms and the `typ` policy.
    pub fn jwks_builder(&self, issuer: &str, audience: &str) -> JwksVerifierBuilder {
        let mut builder = JwksVerifier::builder()
            .issuer(issuer)
            .audience(audience)
            .algorithms(self.algorithms.iter().copied())
            .token_type(self.token_type.clone());
        for other in self.issuers.iter().filter(|i| *i != issuer) {
            builder = builder.issuer(other);
        }
        for other in self.audiences.iter().filter(|a| *a != audience) {
            builder = builder.audience(other);
        }
        builder
    }

    /// The introspection verifier's builder, when introspection is on.
    pub fn introspection_builder(
        &self,
        issuer: &str,
        audience: &str,
    ) -> Option<IntrospectionVerifierBuilder> {
        let settings = self.introspection.as_ref()?;
        let mut builder = IntrospectionVerifier::builder()
            .issuer(issuer)
            .audience(audience)
            .client_credentials(
                settings.client_id.clone(),
                ClientSecret::new(settings.client_secret.expose().to_owned()),
            );
        for other in self.audiences.iter().filter(|a| *a != audience) {
            builder = builder.audience(other);
        }
        Some(builder)
    }
}
