//! Sample log-stream entries, shaped like Auth0's (`sapi` schema's required fields; 2026
//! details from `../shared/research/auth0-2026.md` §Q7).

use serde_json::{Value, json};

use super::populations::CHATGPT_CALLBACK;

const SAPI_SCHEMA: &str = include_str!("../../fixtures/auth0/sapi.schema.json");

fn sapi(
    log_id: &str,
    description: &str,
    event_client: Option<&str>,
    request: Value,
    response: Value,
) -> Value {
    let data = json!({
        "date": "2026-11-23T22:10:05.123Z",
        "type": "sapi",
        "description": description,
        "client_id": event_client,
        "client_name": "",
        "ip": "203.0.113.7",
        "user_agent": "python-httpx/0.27",
        "details": {"request": request, "response": response},
        "log_id": log_id,
        "tenant_name": "dev-tenant",
        // Required since the 2026 schema (`logs-schema.json` d7ff473fb).
        "environment_name": "prod-us-3",
        "$event_schema": {"version": "1.0.0"}
    });
    assert_valid_sapi(&data);
    json!({"log_id": log_id, "data": data})
}

/// A `sapi` entry for a Dynamic Client Registration (`POST /oidc/register`): description as
/// Auth0's MCP guide spells it ("Dynamic client registration"), answer 200 (Authentication API
/// OAS). Which field carries the new client's id in real entries is unknown; this one has it in
/// the response body and the event's `client_id`.
pub fn dcr_entry(log_id: &str, client_id: &str) -> Value {
    dcr_entry_with_callbacks(log_id, client_id, &[CHATGPT_CALLBACK])
}

/// [`dcr_entry`] with the `redirect_uris` the registration asked for (the promoter never trusts
/// them: it re-reads the client).
pub fn dcr_entry_with_callbacks(log_id: &str, client_id: &str, redirect_uris: &[&str]) -> Value {
    sapi(
        log_id,
        "Dynamic client registration",
        Some(client_id),
        json!({
            "method": "post",
            "path": "/oidc/register",
            "query": {},
            "body": {"client_name": "ChatGPT", "redirect_uris": redirect_uris,
                     "token_endpoint_auth_method": "none"},
            "channel": "api",
            "ip": "203.0.113.7"
        }),
        json!({"statusCode": 200, "body": {"client_id": client_id, "client_name": "ChatGPT"}}),
    )
}

/// An admin creating a client through the Management API (`POST /api/v2/clients`, rule 4): the
/// event's `client_id` is the admin's app, the new client is in the response body.
pub fn create_client_entry(log_id: &str, client_id: &str) -> Value {
    sapi(
        log_id,
        "Create client",
        Some("admin-dashboard-app"),
        json!({"method": "post", "path": "/api/v2/clients", "query": {},
               "body": {"name": "ChatGPT", "callbacks": [CHATGPT_CALLBACK]},
               "channel": "https://manage.auth0.com/", "ip": "203.0.113.7"}),
        json!({"statusCode": 201, "body": {"client_id": client_id, "name": "ChatGPT"}}),
    )
}

/// An admin registering a CIMD URL (`POST /api/v2/clients/cimd/register`, 201 on create):
/// the description is a guess (no real entry has been seen); the answer's body is the recorded
/// shape `{client_id, mapped_fields, validation}`.
pub fn cimd_register_entry(log_id: &str, client_id: &str, url: &str) -> Value {
    sapi(
        log_id,
        "Register a client from its Client ID Metadata Document",
        Some("admin-dashboard-app"),
        json!({"method": "post", "path": "/api/v2/clients/cimd/register", "query": {},
               "body": {"external_client_id": url},
               "channel": "https://manage.auth0.com/", "ip": "203.0.113.7"}),
        json!({"statusCode": 201, "body": {"client_id": client_id,
               "mapped_fields": {"external_client_id": url, "name": "ChatGPT"},
               "validation": {"valid": true, "violations": [], "warnings": []}}}),
    )
}

pub fn login_entry(log_id: &str) -> Value {
    json!({"log_id": log_id, "data": {
        "date": "2026-11-23T22:11:00.000Z", "type": "s", "description": "Success Login",
        "client_id": "dcr1", "client_name": "ChatGPT", "ip": "203.0.113.7",
        "user_id": "google-oauth2|123", "details": {"prompts": []}, "log_id": log_id,
        "tenant_name": "dev-tenant"
    }})
}

/// The sample entries hold every field Auth0's `sapi` schema requires.
pub fn assert_valid_sapi(data: &Value) {
    let schema: Value = serde_json::from_str(SAPI_SCHEMA).expect("schema");
    for field in schema["required"].as_array().expect("required") {
        let field = field.as_str().expect("name");
        assert!(data.get(field).is_some(), "sample lacks `{field}`");
    }
    for field in schema["properties"]["details"]["required"]
        .as_array()
        .expect("details")
    {
        assert!(data["details"][field.as_str().expect("name")].is_object());
    }
}
