//! Explaining a pasted access token: its shape, what it claims, what the verifier says, and
//! which calls of the policy it cannot make.

use tower_mcp_auth::token::{
    IntrospectionVerifier, JwksVerifier, TokenShape, TokenVerifier, classify,
};
use tower_mcp_auth::{AccessToken, ErrorCode};

use super::{Report, fix_for, unverified_claims, unverified_header};
use crate::policy::GatewayPolicy;

/// The verifiers the gateway would use (each `None` when it could not start or is off).
#[derive(Clone, Copy)]
pub(super) struct Verifiers<'a> {
    pub jwt: Option<&'a JwksVerifier>,
    pub introspection: Option<&'a IntrospectionVerifier>,
}

pub(super) async fn explain_token(
    report: &mut Report,
    verifiers: Verifiers<'_>,
    policy: &GatewayPolicy,
    token: &str,
) {
    let shape = classify(token);
    if shape != TokenShape::Jws {
        if let Some(introspection) = verifiers.introspection {
            let outcome = introspection.verify(token).await;
            conclude(report, outcome, introspection.audiences(), policy);
            return;
        }
        let code = match shape {
            TokenShape::Jwe => ErrorCode::EncryptedJwe,
            _ => ErrorCode::NotJws,
        };
        let what = match shape {
            TokenShape::Jwe => "a 5-part encrypted JWE",
            _ => "opaque, not a JWT (OAUTH_INTROSPECTION is off)",
        };
        report.fail("token", format!("{code}: {what}"), fix_for(code));
        return;
    }
    if let Some(header) = unverified_header(token) {
        println!(
            "       token header (unverified): alg={} typ={} kid={}",
            header["alg"], header["typ"], header["kid"]
        );
    }
    if let Some(claims) = unverified_claims(token) {
        println!(
            "       token says (unverified): iss={} aud={} sub={} exp={} scope={} permissions={}",
            claims["iss"],
            claims["aud"],
            claims["sub"],
            claims["exp"],
            claims["scope"],
            claims["permissions"]
        );
    }
    let Some(verifier) = verifiers.jwt else {
        report.skip("token", "no verifier (see the failures above)");
        return;
    };
    if let Some(claims) = unverified_claims(token)
        && let Some(iss) = claims["iss"].as_str()
        && verifier.issuers().len() > 1
        && !verifier.issuers().contains(&iss)
    {
        println!(
            "       accepted issuers: {} (exact spelling, as their metadata has it)",
            verifier.issuers().join(", ")
        );
    }
    let outcome = verifier.verify(token).await;
    conclude(report, outcome, verifier.audiences(), policy);
}

fn conclude(
    report: &mut Report,
    outcome: Result<AccessToken, tower_mcp_auth::AuthError>,
    audiences: &[String],
    policy: &GatewayPolicy,
) {
    match outcome {
        Ok(verified) => {
            report.ok(
                "token",
                format!(
                    "valid for {}; sub {}; scopes: {}",
                    audiences.join(", "),
                    verified.subject(),
                    verified.scopes().join(" ")
                ),
            );
            check_token_scopes(report, policy, &verified);
        }
        Err(error) => report.fail(
            "token",
            format!("{}: {}", error.code(), error.description()),
            fix_for(error.code()),
        ),
    }
}

/// Which calls of the policy the verified token cannot make, with the scopes it lacks.
fn check_token_scopes(report: &mut Report, policy: &GatewayPolicy, token: &AccessToken) {
    let missing_defaults: Vec<&str> = policy
        .policy
        .default_scopes()
        .iter()
        .filter(|scope| !policy.policy.token_satisfies(token, scope))
        .map(String::as_str)
        .collect();
    let mut refused: Vec<String> = Vec::new();
    if !missing_defaults.is_empty() {
        refused.push(format!(
            "every call (missing {})",
            missing_defaults.join(" ")
        ));
    }
    for tool in policy.tools.keys() {
        if let Err(error) = policy.policy.check_tool(token, tool) {
            refused.push(format!(
                "{tool} (missing {})",
                error.missing_scopes().join(" ")
            ));
        }
    }
    if refused.is_empty() {
        report.ok("token scopes", "every call the policy names is allowed");
    } else {
        report.fail(
            "token scopes",
            format!("{}: {}", ErrorCode::InsufficientScope, refused.join(", ")),
            fix_for(ErrorCode::InsufficientScope),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientAuth;
    use serde_json::json;

    fn token(scope: &str) -> AccessToken {
        AccessToken::from_claims(json!({
            "iss": "i", "sub": "s", "aud": "a", "exp": 4_102_444_800u64, "scope": scope
        }))
        .unwrap()
    }

    #[test]
    fn doctor_counts_implied_scopes_as_held() {
        let policy = |implies: Option<&str>| {
            crate::policy::from_values_with(
                Some("docs.create=docs.write,docs.read"),
                Some("mcp:access"),
                None,
                None,
                implies,
                &ClientAuth::default(),
                false,
            )
            .unwrap()
        };
        let token = token("admin docs.write");
        let mut report = Report::default();
        check_token_scopes(&mut report, &policy(None), &token);
        assert_eq!(report.failed, 1, "mcp:access and docs.read are missing");
        let mut report = Report::default();
        check_token_scopes(
            &mut report,
            &policy(Some("admin=mcp:*; docs.write=docs.read")),
            &token,
        );
        assert_eq!(
            report.failed, 0,
            "admin implies mcp:access, docs.write docs.read"
        );
    }
}
