//! `gateway doctor`: checks a real configuration from the outside, and explains a pasted token.
//!
//! Every check prints `ok`, `warn` or `FAIL` with the fix. Only reads: discovery, JWKS, the
//! Management API token and `GET` calls. Exit status 1 when any check failed.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tower_mcp_auth::ErrorCode;

use crate::config::{Config, Mode};

mod management;
mod tenant;
mod token;

/// Management API scopes the DCR promotion needs (SPEC-NOTES, Auth0 section).
pub const MANAGEMENT_SCOPES: [&str; 7] = [
    "read:clients",
    "update:clients",
    "read:connections",
    "update:connections",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
];

/// Collects the outcome of each check.
#[derive(Default)]
pub struct Report {
    failed: usize,
}

impl Report {
    fn ok(&mut self, what: &str, detail: impl AsRef<str>) {
        println!("[ok]   {what}: {}", detail.as_ref());
    }

    fn warn(&mut self, what: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        println!(
            "[warn] {what}: {}\n       fix: {}",
            detail.as_ref(),
            fix.as_ref()
        );
    }

    fn fail(&mut self, what: &str, detail: impl AsRef<str>, fix: impl AsRef<str>) {
        self.failed += 1;
        println!(
            "[FAIL] {what}: {}\n       fix: {}",
            detail.as_ref(),
            fix.as_ref()
        );
    }

    fn skip(&mut self, what: &str, why: impl AsRef<str>) {
        println!("[skip] {what}: {}", why.as_ref());
    }
}

/// What to do about each token failure; the troubleshooting table of the README.
pub fn fix_for(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::EncryptedJwe | ErrorCode::NotJws => {
            "the token was requested without your API's audience: turn on the tenant's Resource \
             Parameter Compatibility Profile (ChatGPT sends `resource`) or set the tenant's Default \
             Audience to OAUTH_AUDIENCE; the Post-Login Action (gateway print-action) reports it"
        }
        ErrorCode::InvalidAudience => {
            "the token is for another API: OAUTH_AUDIENCE, the Auth0 API Identifier and the \
             connector's resource must be the same string"
        }
        ErrorCode::InvalidIssuer => {
            "the token's iss is none of OAUTH_ISSUER's issuers: add the issuer it came from (a \
             custom domain is an issuer of its own; Auth0 spells issuers with a trailing /)"
        }
        ErrorCode::AlgorithmNotAllowed => {
            "the token is signed with an algorithm OAUTH_ALGORITHMS does not list (default RS256): \
             add it there, or set the Auth0 API's Signing Algorithm to RS256"
        }
        ErrorCode::InvalidTokenType => {
            "OAUTH_TOKEN_TYP requires another `typ`: Auth0 sends at+jwt only with the API's \
             \"RFC 9068\" token profile (else JWT); or an ID token was sent instead of the \
             access token"
        }
        ErrorCode::TokenInactive => {
            "the issuer's introspection says the token is not active (revoked or expired): get a \
             new token"
        }
        ErrorCode::IntrospectionUnavailable => {
            "the introspection endpoint failed: check the network path to the issuer and \
             OAUTH_INTROSPECTION_CLIENT_ID / OAUTH_INTROSPECTION_CLIENT_SECRET"
        }
        ErrorCode::UnknownKeyId | ErrorCode::InvalidSignature => {
            "the token was not signed by this issuer's current keys: check OAUTH_ISSUER, or get a \
             new token if the keys were rotated"
        }
        ErrorCode::TokenExpired => "get a new token (the connector refreshes it by itself)",
        ErrorCode::TokenNotYetValid => "the clocks disagree: sync this machine's time (NTP)",
        ErrorCode::MissingClaim => {
            "the token lacks exp, iss, aud or sub: it is not an Auth0 API access token"
        }
        ErrorCode::KeysUnavailable => {
            "the issuer's JWKS cannot be fetched: check the network path to the tenant"
        }
        ErrorCode::InsufficientScope => {
            "grant the scopes: the Post-Login Action adds REQUIRED_SCOPES (gateway print-action), \
             the DCR client grant must list them, and RBAC \"Add Permissions in the Access Token\" \
             puts permissions in the token"
        }
        ErrorCode::TokenTooLarge | ErrorCode::MalformedToken => {
            "paste the access token exactly (not the ID token, no quotes or line breaks)"
        }
        _ => "see the README, Troubleshooting",
    }
}

pub async fn run(args: &[String]) -> Result<bool, String> {
    let token = read_token(args)?;
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let mut report = Report::default();
    let (issuer, audience) = match &config.mode {
        Mode::Production { issuer, audience } => (issuer.clone(), audience.clone()),
        Mode::Dev => {
            report.skip(
                "issuer",
                "dev mode (no OAUTH_ISSUER): there is no outside configuration to check",
            );
            return Ok(true);
        }
    };
    report.ok("configuration", "every variable parses");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;

    for each in &config.verification.issuers {
        check_discovery(&mut report, &client, each).await;
    }
    let verifier = match config
        .verification
        .jwks_builder(&issuer, &audience)
        .build()
        .await
    {
        Ok(verifier) => {
            let jwks = verifier.jwks_status();
            if jwks.key_count > 0 {
                report.ok(
                    "JWKS",
                    format!("{} signing key(s) at {}", jwks.key_count, jwks.jwks_uri),
                );
            } else {
                report.fail(
                    "JWKS",
                    format!(
                        "{}: {}",
                        jwks.jwks_uri,
                        jwks.last_error.unwrap_or_else(|| "no keys".to_owned())
                    ),
                    "the issuer must publish at least one RS256 key",
                );
            }
            Some(verifier)
        }
        Err(error) => {
            report.fail(
                "token verifier",
                error.to_string(),
                "OAUTH_ISSUER must be your tenant's URL, e.g. https://YOUR_TENANT.us.auth0.com/",
            );
            None
        }
    };

    match &config.management {
        Some(management) => {
            management::check_management(&mut report, &client, management, &audience).await
        }
        None => report.skip(
            "Management API",
            "MGMT_* not set: the DCR webhook is off and the API / connection checks need it",
        ),
    }

    let introspection = match config
        .verification
        .introspection_builder(&issuer, &audience)
    {
        Some(builder) => match builder.build().await {
            Ok(introspection) => {
                report.ok("introspection", introspection.endpoint());
                Some(introspection)
            }
            Err(error) => {
                report.fail(
                    "introspection",
                    error.to_string(),
                    "the issuer's metadata must name an introspection_endpoint (or set \
                     OAUTH_INTROSPECTION=false)",
                );
                None
            }
        },
        None => None,
    };

    tenant::check_tenant(
        &mut report,
        &client,
        &config,
        verifier.as_ref().map(|v| v.issuer()),
    )
    .await;

    if let Some(token) = token {
        let verifiers = token::Verifiers {
            jwt: verifier.as_ref(),
            introspection: introspection.as_ref(),
        };
        token::explain_token(&mut report, verifiers, &config.policy, &token).await;
    }
    println!(
        "\n{}",
        if report.failed == 0 {
            "doctor: every check passed".to_owned()
        } else {
            format!("doctor: {} check(s) failed", report.failed)
        }
    );
    Ok(report.failed == 0)
}

fn read_token(args: &[String]) -> Result<Option<String>, String> {
    match args {
        [] => Ok(None),
        [flag, value] if flag == "--token" => {
            let token = if value == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .map_err(|e| format!("cannot read the token from stdin: {e}"))?;
                text
            } else {
                value.clone()
            };
            // Tolerate what people paste: a "Bearer " prefix, quotes, surrounding whitespace.
            let token = token.trim().trim_matches('"').trim();
            let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
            Ok(Some(token.to_owned()))
        }
        _ => Err("usage: gateway doctor [--token TOKEN | --token -]".to_owned()),
    }
}

async fn check_discovery(report: &mut Report, client: &reqwest::Client, issuer: &str) {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let metadata: Value = match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => match response.json().await {
            Ok(metadata) => metadata,
            Err(error) => {
                report.fail(
                    "issuer metadata",
                    format!("{url}: not JSON ({error})"),
                    "OAUTH_ISSUER must be the tenant's URL",
                );
                return;
            }
        },
        Ok(response) => {
            report.fail(
                "issuer metadata",
                format!("{url}: HTTP {}", response.status()),
                "OAUTH_ISSUER must be the tenant's URL, e.g. https://YOUR_TENANT.us.auth0.com/",
            );
            return;
        }
        Err(error) => {
            report.fail(
                "issuer metadata",
                format!("{url}: {error}"),
                "check OAUTH_ISSUER and this machine's network path to the tenant",
            );
            return;
        }
    };
    report.ok(
        "issuer metadata",
        format!("{url} names issuer {}", metadata["issuer"]),
    );
    if metadata
        .get("registration_endpoint")
        .is_some_and(Value::is_string)
    {
        // Auth0 publishes it whatever the tenant's DCR flag: the set-up checks below read the flag.
        report.ok(
            "Dynamic Client Registration",
            "registration_endpoint published",
        );
    } else {
        report.warn(
            "Dynamic Client Registration",
            "the metadata has no registration_endpoint",
            "ChatGPT registers itself by DCR: enable it (Settings → Advanced → Dynamic Client Registration)",
        );
    }
}

pub(super) fn unverified_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

pub(super) fn unverified_header(token: &str) -> Option<Value> {
    let header = token.split('.').next()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()
}
