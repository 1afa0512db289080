//! [`AccessToken`]: the verified claims a request carries after [`BearerAuthLayer`](crate::bearer::BearerAuthLayer).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::challenge::{AuthError, ErrorCode};
use crate::token::ScopeClaims;
use crate::token::provenance::Provenance;
use crate::token::registered_claims::{Claim, RegisteredClaims};
use crate::token::shared_values::{GrantedScopes, SharedValues};

/// Up to this many scopes, [`AccessToken::has_scope`] scans instead of searching.
const SCANNED_SCOPES: usize = 16;

/// Issuers and client ids most tokens share.
static SHARED_STRINGS: SharedValues<str> = SharedValues::new();
/// Audience lists and scope sets most tokens share.
static SHARED_LISTS: SharedValues<[String]> = SharedValues::new();
/// Scope sets by the claim text they come from.
static SHARED_GRANTS: SharedValues<GrantedScopes> = SharedValues::new();

/// A verified access token: what the bearer layer puts in the request's extensions.
///
/// Cheap to clone (one `Arc`). Scopes are the union of the space-separated `scope` claim
/// (RFC 9068 / RFC 8693) and Auth0's `permissions` array (RBAC), sorted and de-duplicated;
/// a [`JwksVerifier`](crate::token::JwksVerifier) built with
/// [`ScopeClaims::ScopeOnly`](crate::token::ScopeClaims::ScopeOnly) counts `scope` only.
///
/// ```
/// use tower_mcp_auth::AccessToken;
///
/// let token = AccessToken::from_claims(serde_json::json!({
///     "iss": "https://tenant.example/",
///     "sub": "auth0|42",
///     "aud": ["https://api.example", "https://tenant.example/userinfo"],
///     "exp": 4_102_444_800u64,
///     "scope": "openid search.read",
///     "permissions": ["docs.write"],
///     "https://example.com/uid": "u-1"
/// })).unwrap();
/// assert!(token.has_scope("search.read") && token.has_scope("docs.write"));
/// assert_eq!(token.claim("https://example.com/uid").and_then(|v| v.as_str()), Some("u-1"));
/// ```
#[derive(Debug, Clone)]
pub struct AccessToken {
    inner: Arc<Inner>,
}

/// What a cached token costs: the registered claims, parsed once (the issuer, audiences, client
/// id and scope set shared with other tokens naming the same), and the claims JSON as the
/// issuer sent it. The full claim `Map` (about twice the JSON's size, one allocation per claim)
/// is only built if [`AccessToken::claims`] or [`AccessToken::claim`] is called.
#[derive(Debug)]
struct Inner {
    subject: String,
    // Shared with the other tokens that name the same values (see `shared_values`).
    issuer: Arc<str>,
    audiences: Arc<[String]>,
    expires_at: u64,
    not_before: Option<u64>,
    issued_at: Option<u64>,
    client_id: Option<Arc<str>>,
    scopes: Arc<[String]>,
    json: Box<str>,
    claims: OnceLock<Map<String, Value>>,
    /// What vouched for the token, set once by the verifier; none for custom verifiers.
    provenance: OnceLock<Provenance>,
}

impl AccessToken {
    /// Builds an `AccessToken` from a JSON claim set, checking that the claims every access token
    /// must have are present and well typed: `iss` (string), `sub` (string), `aud` (string or
    /// array of strings) and `exp` (number). It does **not** check the signature or any value:
    /// that is the [`TokenVerifier`](crate::token::TokenVerifier)'s job.
    pub fn from_claims(claims: Value) -> Result<Self, AuthError> {
        if !claims.is_object() {
            return Err(AuthError::new(
                ErrorCode::MalformedToken,
                "The token's claims are not a JSON object",
            ));
        }
        // Kept as JSON like a verified token's claims, so every token costs the same in the cache.
        Self::from_json(claims.to_string())
    }

    /// Builds an `AccessToken` from the claims JSON of a token (its decoded payload), reading it
    /// once: the registered claims are parsed, the rest is kept as JSON.
    pub(crate) fn from_json(json: String) -> Result<Self, AuthError> {
        Self::from_json_with(json, ScopeClaims::default())
    }

    /// [`from_json`](Self::from_json), counting the scopes of the claims `scope_claims` names.
    pub(crate) fn from_json_with(
        json: String,
        scope_claims: ScopeClaims,
    ) -> Result<Self, AuthError> {
        let claims = RegisteredClaims::parse(&json).map_err(|_| {
            AuthError::new(
                ErrorCode::MalformedToken,
                "The token claims is not a JSON object of the expected shape",
            )
        })?;
        let issuer = SHARED_STRINGS.str(&string(claims.iss, "iss")?);
        let subject = string(claims.sub, "sub")?;
        let audiences: Vec<Cow<'_, str>> = match claims.aud {
            Claim::Str(s) => vec![s],
            Claim::List(items) => items
                .into_iter()
                .map(|item| item.ok_or_else(|| missing("aud")))
                .collect::<Result<_, _>>()?,
            _ => return Err(missing("aud")),
        };
        let audiences = SHARED_LISTS.list(&audiences);
        let expires_at = numeric_date(claims.exp, "exp")?.ok_or_else(|| missing("exp"))?;
        let not_before = numeric_date(claims.nbf, "nbf")?;
        let issued_at = numeric_date(claims.iat, "iat")?;
        // RFC 9068 names the client `client_id`; Auth0 uses `azp`.
        let client_id = match (&claims.client_id, &claims.azp) {
            (Claim::Str(id), _) | (_, Claim::Str(id)) => Some(SHARED_STRINGS.str(id)),
            _ => None,
        };

        let scope = match &claims.scope {
            Claim::Str(scope) => scope.as_ref(),
            _ => "",
        };
        let permissions: &[Option<Cow<'_, str>>] = match &claims.permissions {
            Claim::List(perms) if scope_claims.counts_permissions() => perms,
            _ => &[],
        };
        let scopes = SHARED_GRANTS.scopes(scope, permissions, || {
            // Auth0 tokens carry a dozen or so (`scope` and `permissions` together): one
            // allocation.
            let mut scopes: Vec<&str> = Vec::with_capacity(16);
            scopes.extend(scope.split_ascii_whitespace());
            scopes.extend(permissions.iter().flatten().map(AsRef::as_ref));
            scopes.sort_unstable();
            scopes.dedup();
            SHARED_LISTS.list(&scopes)
        });

        Ok(Self {
            inner: Arc::new(Inner {
                subject,
                issuer,
                audiences,
                expires_at,
                not_before,
                issued_at,
                client_id,
                scopes,
                json: json.into_boxed_str(),
                claims: OnceLock::new(),
                provenance: OnceLock::new(),
            }),
        })
    }

    /// `sub`: the user (or client, for client-credentials tokens) the token speaks for.
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// `iss`: the issuer, as verified.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// `aud`: every audience (one or many).
    pub fn audiences(&self) -> &[String] {
        &self.inner.audiences
    }

    /// `exp`, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.inner.expires_at
    }

    /// `nbf`, in seconds since the Unix epoch, if present.
    pub fn not_before(&self) -> Option<u64> {
        self.inner.not_before
    }

    /// `iat`, in seconds since the Unix epoch, if present.
    pub fn issued_at(&self) -> Option<u64> {
        self.inner.issued_at
    }

    /// The OAuth client: `client_id` (RFC 9068), else `azp` (Auth0).
    pub fn client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    /// The granted scopes: `scope` claim ∪ `permissions` array (unless the verifier was told
    /// [`ScopeClaims::ScopeOnly`](crate::token::ScopeClaims::ScopeOnly)), sorted, without
    /// duplicates.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// True when the token grants `scope`.
    #[inline]
    pub fn has_scope(&self, scope: &str) -> bool {
        let scopes = &self.inner.scopes;
        // The guard asks on every request. A token holds a handful of scopes, and their lengths
        // differ: comparing lengths first leaves about one string comparison, where a binary
        // search makes log2(n). A long list (Auth0 permissions) is searched.
        if scopes.len() <= SCANNED_SCOPES {
            scopes
                .iter()
                .any(|held| held.len() == scope.len() && held.as_bytes() == scope.as_bytes())
        } else {
            scopes.binary_search_by(|s| s.as_str().cmp(scope)).is_ok()
        }
    }

    /// One claim by name, including custom (namespaced) claims such as Auth0's
    /// `https://example.com/uid`.
    ///
    /// The first call on a token parses its claims into a `Map` (kept for later calls).
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims().get(name)
    }

    /// The full verified claim set.
    ///
    /// The first call on a token parses its claims into a `Map` (kept for later calls).
    pub fn claims(&self) -> &Map<String, Value> {
        self.inner.claims.get_or_init(|| {
            // The JSON was parsed as an object when the token was made: this cannot fail, and
            // an empty map keeps the no-panic promise regardless.
            serde_json::from_str(&self.inner.json).unwrap_or_default()
        })
    }

    /// Records what vouched for the token (first call wins; verifiers call it once, on a token
    /// they have just built).
    pub(crate) fn set_provenance(&self, provenance: Provenance) {
        let _ = self.inner.provenance.set(provenance);
    }

    /// True while what vouched for the token still does (see [`Provenance`]); always true for
    /// tokens of custom verifiers. The bearer layer asks on every cache hit.
    #[inline]
    pub(crate) fn still_trusted(&self) -> bool {
        self.inner
            .provenance
            .get()
            .is_none_or(Provenance::still_trusted)
    }

    /// Checks the time claims against `now` (seconds since the epoch) with `leeway` seconds of
    /// clock skew: `exp` has not passed, `nbf` and `iat` are not in the future.
    ///
    /// The bearer layer calls this on every use, including cache hits.
    pub fn check_time(&self, now: u64, leeway: u64) -> Result<(), AuthError> {
        if self.inner.expires_at.saturating_add(leeway) < now {
            return Err(AuthError::new(
                ErrorCode::TokenExpired,
                "The access token expired",
            ));
        }
        if self
            .inner
            .not_before
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(AuthError::new(
                ErrorCode::TokenNotYetValid,
                "The access token is not valid yet (nbf is in the future)",
            ));
        }
        if self
            .inner
            .issued_at
            .is_some_and(|iat| iat > now.saturating_add(leeway))
        {
            return Err(AuthError::new(
                ErrorCode::TokenNotYetValid,
                "The access token was issued in the future (iat); check the clocks",
            ));
        }
        Ok(())
    }
}

fn missing(name: &'static str) -> AuthError {
    AuthError::new(
        ErrorCode::MissingClaim,
        format!("The access token has no valid `{name}` claim"),
    )
}

fn string(claim: Claim<'_>, name: &'static str) -> Result<String, AuthError> {
    match claim {
        Claim::Str(s) => Ok(s.into_owned()),
        _ => Err(missing(name)),
    }
}

/// A NumericDate (RFC 7519 §2): seconds since the epoch, possibly fractional.
fn numeric_date(claim: Claim<'_>, name: &'static str) -> Result<Option<u64>, AuthError> {
    match claim {
        Claim::Absent | Claim::Null => Ok(None),
        Claim::Unsigned(secs) => Ok(Some(secs)),
        Claim::Float(f) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
        _ => Err(missing(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"iss": "i", "sub": "s", "aud": "a", "exp": 100})
    }

    #[test]
    fn scopes_merge_scope_and_permissions() {
        let mut claims = base();
        claims["scope"] = json!("b a  b");
        claims["permissions"] = json!(["c", "a", 7]);
        let token = AccessToken::from_claims(claims).unwrap();
        assert_eq!(token.scopes(), ["a", "b", "c"]);
        assert!(token.has_scope("c"));
        assert!(!token.has_scope("d"));
    }

    #[test]
    fn has_scope_is_exact_on_short_and_long_lists() {
        for count in [1, SCANNED_SCOPES, SCANNED_SCOPES + 1, 40] {
            let mut claims = base();
            let granted: Vec<String> = (0..count).map(|i| format!("tool:{i:02}")).collect();
            claims["scope"] = json!(granted.join(" "));
            let token = AccessToken::from_claims(claims).unwrap();
            for scope in &granted {
                assert!(token.has_scope(scope), "{count} scopes: {scope}");
            }
            // Same length, a prefix, a longer one, the empty one: none is held.
            for absent in ["tool:99", "tool:0", "tool:000", "", "tool:0 "] {
                assert!(!token.has_scope(absent), "{count} scopes: {absent:?}");
            }
        }
    }

    #[test]
    fn missing_exp_is_missing_claim() {
        let mut claims = base();
        claims.as_object_mut().unwrap().remove("exp");
        let err = AccessToken::from_claims(claims).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MissingClaim);
        assert!(err.description().contains("exp"));
    }

    #[test]
    fn aud_array_with_non_string_is_refused() {
        let mut claims = base();
        claims["aud"] = json!(["a", 1]);
        assert_eq!(
            AccessToken::from_claims(claims).unwrap_err().code(),
            ErrorCode::MissingClaim
        );
    }

    #[test]
    fn time_checks_honour_leeway() {
        let mut claims = base();
        claims["nbf"] = json!(50);
        claims["iat"] = json!(50.5);
        let token = AccessToken::from_claims(claims).unwrap();
        assert!(token.check_time(100, 0).is_ok());
        assert!(token.check_time(130, 30).is_ok());
        assert_eq!(
            token.check_time(131, 30).unwrap_err().code(),
            ErrorCode::TokenExpired
        );
        assert_eq!(
            token.check_time(10, 30).unwrap_err().code(),
            ErrorCode::TokenNotYetValid
        );
        assert!(token.check_time(20, 30).is_ok());
    }

    #[test]
    fn custom_claims_are_read_from_the_kept_json() {
        let mut claims = base();
        claims["https://example.com/uid"] = json!("u-1");
        claims["nested"] = json!({"a": [1, 2]});
        let token = AccessToken::from_claims(claims.clone()).unwrap();
        assert_eq!(token.claim("https://example.com/uid"), Some(&json!("u-1")));
        assert_eq!(Value::Object(token.claims().clone()), claims);
        assert_eq!(token.claim("absent"), None);
    }

    #[test]
    fn wrongly_typed_claims_name_the_claim() {
        for (name, value) in [
            ("iss", json!(1)),
            ("sub", json!(null)),
            ("aud", json!({"a": 1})),
            ("exp", json!("soon")),
            ("exp", json!(-5)),
            ("nbf", json!([1])),
            ("iat", json!(true)),
        ] {
            let mut claims = base();
            claims[name] = value;
            let err = AccessToken::from_claims(claims).unwrap_err();
            assert_eq!(err.code(), ErrorCode::MissingClaim, "{name}");
            assert_eq!(
                err.description(),
                format!("The access token has no valid `{name}` claim")
            );
        }
    }

    #[test]
    fn client_id_prefers_rfc9068_then_azp() {
        let mut claims = base();
        claims["azp"] = json!("from-azp");
        assert_eq!(
            AccessToken::from_claims(claims.clone())
                .unwrap()
                .client_id(),
            Some("from-azp")
        );
        claims["client_id"] = json!("from-client-id");
        assert_eq!(
            AccessToken::from_claims(claims).unwrap().client_id(),
            Some("from-client-id")
        );
    }
}
