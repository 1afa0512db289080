//! [`TokenTypePolicy`]: which JOSE `typ` header values a token may carry.

use crate::challenge::{AuthError, ErrorCode};

/// Which `typ` header a JWT access token must carry (RFC 9068 §2.1, RFC 8725 §3.11).
///
/// Checking `typ` keeps ID tokens, logout tokens and other JWTs of the same issuer out by their
/// type, not only by their audience. It is off by default because Auth0's default token profile
/// sends `typ: JWT`; its "RFC 9068" profile sends `at+jwt`.
///
/// Values are compared as media types (RFC 7515 §4.1.9): case-insensitively, and with the
/// `application/` prefix optional, so `at+jwt` also accepts `application/at+jwt`.
///
/// ```
/// use tower_mcp_auth::token::TokenTypePolicy;
///
/// assert!(TokenTypePolicy::AccessTokenJwt.allows(Some("application/AT+JWT")));
/// assert!(!TokenTypePolicy::AccessTokenJwt.allows(Some("JWT")));
/// assert!(!TokenTypePolicy::AccessTokenJwt.allows(None));
/// assert!(TokenTypePolicy::Any.allows(None));
/// let both = TokenTypePolicy::OneOf(vec!["at+jwt".into(), "JWT".into()]);
/// assert!(both.allows(Some("jwt")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenTypePolicy {
    /// Any `typ`, or none (the default).
    #[default]
    Any,
    /// `typ` must be `at+jwt` (RFC 9068).
    AccessTokenJwt,
    /// `typ` must be one of these.
    OneOf(Vec<String>),
}

impl TokenTypePolicy {
    /// True when a token whose header has this `typ` (`None`: no `typ`) passes.
    pub fn allows(&self, typ: Option<&str>) -> bool {
        let accepted: &[&str] = match self {
            Self::Any => return true,
            Self::AccessTokenJwt => &["at+jwt"],
            Self::OneOf(list) => {
                return typ.is_some_and(|typ| list.iter().any(|t| same_media_type(t, typ)));
            }
        };
        typ.is_some_and(|typ| accepted.iter().any(|t| same_media_type(t, typ)))
    }

    /// [`allows`](Self::allows), as the refusal the client sees.
    pub(crate) fn check(&self, typ: Option<&str>) -> Result<(), AuthError> {
        if self.allows(typ) {
            return Ok(());
        }
        let expected = match self {
            Self::Any => String::new(),
            Self::AccessTokenJwt => "at+jwt".to_owned(),
            Self::OneOf(list) => list.join(", "),
        };
        let found = match typ {
            Some(typ) => format!("`{}`", typ.chars().take(32).collect::<String>()),
            None => "no `typ`".to_owned(),
        };
        Err(AuthError::new(
            ErrorCode::InvalidTokenType,
            format!(
                "The token header has {found}; this server accepts only access tokens of type \
                 {expected} (RFC 9068), not ID tokens or other JWTs"
            ),
        ))
    }
}

fn same_media_type(a: &str, b: &str) -> bool {
    fn bare(t: &str) -> &str {
        match t.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &t[12..],
            _ => t,
        }
    }
    bare(a).eq_ignore_ascii_case(bare(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_names_what_was_found_and_what_is_wanted() {
        let error = TokenTypePolicy::AccessTokenJwt
            .check(Some("JWT"))
            .unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidTokenType);
        assert!(error.description().contains("`JWT`"));
        assert!(error.description().contains("at+jwt"));
        let missing = TokenTypePolicy::AccessTokenJwt.check(None).unwrap_err();
        assert!(missing.description().contains("no `typ`"));
        assert!(TokenTypePolicy::Any.check(Some("anything")).is_ok());
    }

    #[test]
    fn the_application_prefix_is_optional_on_either_side() {
        let listed = TokenTypePolicy::OneOf(vec!["application/at+jwt".into()]);
        assert!(listed.allows(Some("at+jwt")));
        assert!(listed.allows(Some("Application/At+Jwt")));
        assert!(!listed.allows(Some("jwt")));
        assert!(!listed.allows(Some("application/")));
    }
}
