//! Reading an introspection answer (RFC 7662 §2.2) into an [`AccessToken`], or a refusal.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::Shared;
use crate::challenge::{AuthError, ErrorCode};
use crate::token::AccessToken;
use crate::token::cache::now_secs;
use crate::token::jwks::short;
use crate::token::provenance::Provenance;

/// The answer's verdict: an active token for this resource, or why not.
pub(super) fn read(
    shared: &Shared,
    mut answer: Map<String, Value>,
) -> Result<AccessToken, AuthError> {
    // Only the JSON `true` is active: a string "true" or a missing member is not (fail closed).
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err(AuthError::new(
            ErrorCode::TokenInactive,
            "The issuer says this token is not active (revoked, expired or unknown)",
        ));
    }
    match answer.get("iss") {
        None => {
            answer.insert("iss".to_owned(), Value::from(shared.issuer.as_str()));
        }
        Some(Value::String(iss)) if *iss == shared.issuer => {}
        Some(other) => {
            return Err(AuthError::new(
                ErrorCode::InvalidIssuer,
                format!(
                    "The introspected token was issued by `{}`, not by `{}`",
                    short(other.as_str().unwrap_or("?")),
                    shared.issuer
                ),
            ));
        }
    }
    if !answer.contains_key("sub")
        && let Some(client_id) = answer.get("client_id").cloned()
    {
        // A client-credentials token speaks for the client itself.
        answer.insert("sub".to_owned(), client_id);
    }
    if !answer.contains_key("exp") {
        let until = now_secs().saturating_add(shared.ttl.as_secs());
        answer.insert("exp".to_owned(), Value::from(until));
    }
    if !answer.contains_key("aud") {
        return Err(AuthError::new(
            ErrorCode::InvalidAudience,
            "The introspected token names no audience, so it cannot be known to be meant for \
             this API",
        ));
    }
    let token = AccessToken::from_claims(Value::Object(answer))?;
    if !shared.audiences.accepts(token.audiences()) {
        return Err(AuthError::new(
            ErrorCode::InvalidAudience,
            format!(
                "The token is not meant for this API: its audience includes none of {}",
                shared.audiences.as_slice().join(", ")
            ),
        ));
    }
    token.check_time(now_secs(), shared.leeway.as_secs())?;
    token.set_provenance(Provenance::Introspected {
        trusted_until: Instant::now() + active_ttl(shared, &token),
    });
    Ok(token)
}

/// How long an active answer may be reused: the cache TTL, but never past the token's `exp`.
pub(super) fn active_ttl(shared: &Shared, token: &AccessToken) -> Duration {
    let left = token.expires_at().saturating_sub(now_secs());
    shared.ttl.min(Duration::from_secs(left))
}
