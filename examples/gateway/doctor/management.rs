//! The Management API from the outside: credentials, granted scopes, the connection, the API.

use serde_json::Value;

use super::{MANAGEMENT_SCOPES, Report, unverified_claims};
use crate::config::ManagementConfig;

pub(super) async fn check_management(
    report: &mut Report,
    client: &reqwest::Client,
    management: &ManagementConfig,
    audience: &str,
) {
    let base = management.base();
    let answer = client
        .post(format!("{base}/oauth/token"))
        .json(&serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": management.client_id,
            "client_secret": management.client_secret.expose(),
            "audience": format!("https://{}/api/v2/", management.domain),
        }))
        .send()
        .await;
    let body: Value = match answer {
        Ok(response) => {
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                report.fail(
                    "Management API token",
                    format!(
                        "HTTP {status}: {}",
                        body["error_description"].as_str().unwrap_or("no description")
                    ),
                    "check MGMT_CLIENT_ID / MGMT_CLIENT_SECRET and that the M2M application is authorized for the Auth0 Management API",
                );
                return;
            }
            body
        }
        Err(error) => {
            report.fail(
                "Management API token",
                error.to_string(),
                "MGMT_DOMAIN must be your tenant's domain, e.g. YOUR_TENANT.us.auth0.com",
            );
            return;
        }
    };
    let Some(access_token) = body["access_token"].as_str() else {
        report.fail(
            "Management API token",
            "the answer has no access_token",
            "check MGMT_DOMAIN",
        );
        return;
    };
    // The granted scopes: the token answer's `scope`, else the (unverified: it is our own) JWT's.
    let granted = body["scope"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            unverified_claims(access_token)
                .and_then(|claims| claims["scope"].as_str().map(str::to_owned))
        })
        .unwrap_or_default();
    let granted: Vec<&str> = granted.split_whitespace().collect();
    let missing: Vec<&str> = MANAGEMENT_SCOPES
        .iter()
        .copied()
        .filter(|scope| !granted.contains(scope))
        .collect();
    if missing.is_empty() {
        report.ok("Management API scopes", MANAGEMENT_SCOPES.join(" "));
    } else {
        report.fail(
            "Management API scopes",
            format!("missing {}", missing.join(" ")),
            "Applications → APIs → Auth0 Management API → Machine to Machine Applications: grant them to the M2M app",
        );
    }

    let get = |path: String| {
        client
            .get(format!("{base}/api/v2/{path}"))
            .bearer_auth(access_token)
            .send()
    };
    for connection in &management.connections {
        let found = match get(format!(
            "connections?name={}",
            url::form_urlencoded::byte_serialize(connection.as_bytes()).collect::<String>()
        ))
        .await
        {
            Ok(response) if response.status().is_success() => response
                .json::<Value>()
                .await
                .ok()
                .and_then(|list| list.as_array().map(|a| !a.is_empty())),
            Ok(response) => {
                report.fail(
                    "connection",
                    format!("`{connection}`: HTTP {}", response.status()),
                    "grant read:connections to the M2M app",
                );
                continue;
            }
            Err(error) => {
                report.fail("connection", error.to_string(), "check MGMT_DOMAIN");
                continue;
            }
        };
        if found == Some(true) {
            report.ok("connection", format!("`{connection}` exists"));
        } else {
            report.fail(
                "connection",
                format!("no connection named `{connection}`"),
                "GOOGLE_CONNECTION_NAME must be a connection's name (Authentication → Social, e.g. google-oauth2)",
            );
        }
    }

    let encoded: String = url::form_urlencoded::byte_serialize(audience.as_bytes()).collect();
    match get(format!("resource-servers/{encoded}")).await {
        Ok(response) if response.status().is_success() => {
            let api: Value = response.json().await.unwrap_or(Value::Null);
            match api["signing_alg"].as_str() {
                Some("RS256") => report.ok("API", format!("`{audience}` exists, signs with RS256")),
                other => report.fail(
                    "API",
                    format!(
                        "`{audience}` signs with {}",
                        other.unwrap_or("an unknown algorithm")
                    ),
                    "set the API's Signing Algorithm to RS256",
                ),
            }
        }
        Ok(response) if response.status() == reqwest::StatusCode::NOT_FOUND => report.fail(
            "API",
            format!("no API with identifier `{audience}`"),
            "create it (Applications → APIs) with Identifier = OAUTH_AUDIENCE and RS256",
        ),
        Ok(response) if response.status() == reqwest::StatusCode::FORBIDDEN => report.skip(
            "API",
            "the M2M app may not read APIs (grant read:resource_servers to check it)",
        ),
        Ok(response) => report.warn(
            "API",
            format!("HTTP {}", response.status()),
            "check the API in the dashboard",
        ),
        Err(error) => report.warn("API", error.to_string(), "check MGMT_DOMAIN"),
    }
}
