use serde_json::{Value, json};

use super::*;

const SAPI_SCHEMA: &str = include_str!("../../tests/fixtures/auth0/sapi.schema.json");

/// Checks a `sapi` event against the required fields of Auth0's published schema.
fn assert_valid_sapi(data: &Value) {
    let schema: Value = serde_json::from_str(SAPI_SCHEMA).expect("schema is JSON");
    for field in schema["required"].as_array().expect("required list") {
        let field = field.as_str().expect("field name");
        assert!(
            data.get(field).is_some(),
            "sapi event lacks required `{field}`: {data}"
        );
    }
    for field in schema["properties"]["details"]["required"]
        .as_array()
        .expect("details.required")
    {
        let field = field.as_str().expect("field name");
        assert!(
            data["details"][field].is_object(),
            "details.{field} must be an object"
        );
    }
    assert_eq!(data["type"], "sapi");
}

fn sapi(description: &str, method: &str, path: &str, status: u16, response_body: Value) -> Value {
    json!({
        "date": "2026-11-23T22:10:05.123Z",
        "type": "sapi",
        "description": description,
        "client_id": "mgmt-m2m-client",
        "client_name": "",
        "ip": "203.0.113.7",
        "user_agent": "node-fetch/1.0",
        "details": {
            "request": {
                "method": method,
                "path": path,
                "query": {},
                "body": {"client_name": "ChatGPT", "redirect_uris": ["https://chatgpt.com/connector_platform_oauth_redirect"]},
                "channel": "api",
                "ip": "203.0.113.7"
            },
            "response": {"statusCode": status, "body": response_body}
        },
        "log_id": "90020261123221005123000000000000001",
        "tenant_name": "dev-tenant",
        "$event_schema": {"version": "1.0.0"}
    })
}

#[test]
fn dcr_matcher_table() {
    let new_client = json!({"client_id": "dcrNEW123", "client_name": "ChatGPT"});
    let mut no_response_id = sapi(
        "Dynamic Client Registration",
        "post",
        "/oidc/register",
        201,
        json!({}),
    );
    no_response_id["client_id"] = json!("dcrFROMEVENT");
    let mut request_id_only = sapi("Update client", "post", "/oidc/register", 201, json!({}));
    request_id_only["client_id"] = Value::Null;
    request_id_only["details"]["request"]["body"]["client_id"] = json!("dcrFROMREQ");
    let mut url_form = sapi("Create client", "POST", "/ignored", 201, new_client.clone());
    url_form["details"]["request"]
        .as_object_mut()
        .expect("object")
        .remove("path");
    url_form["details"]["request"]["url"] =
        json!("https://dev-tenant.us.auth0.com/oidc/register?x=1");
    let mut fapi = sapi(
        "Dynamic Client Registration",
        "post",
        "/oidc/register",
        400,
        json!({}),
    );
    fapi["type"] = json!("fapi");
    let login = json!({"type": "s", "description": "Success Login", "client_id": "abc", "client_name": "ChatGPT",
                       "ip": "203.0.113.7", "details": {"prompts": []}, "log_id": "9", "tenant_name": "t"});

    use ClientIdSource::*;
    use DcrSignal::*;
    let table: Vec<(&str, Value, Option<DcrEvent>)> = vec![
        (
            "sapi with the DCR description",
            sapi(
                "Dynamic Client Registration",
                "post",
                "/oidc/register",
                201,
                new_client.clone(),
            ),
            Some(DcrEvent {
                signal: SapiDescription,
                client: Some(("dcrNEW123".into(), ResponseBody)),
            }),
        ),
        (
            "register path without the description",
            sapi(
                "Create client",
                "post",
                "/oidc/register",
                201,
                new_client.clone(),
            ),
            Some(DcrEvent {
                signal: RegisterPath,
                client: Some(("dcrNEW123".into(), ResponseBody)),
            }),
        ),
        (
            "full URL with query in details.request.url",
            url_form,
            Some(DcrEvent {
                signal: RegisterPath,
                client: Some(("dcrNEW123".into(), ResponseBody)),
            }),
        ),
        (
            "Management API client creation",
            sapi(
                "Create client",
                "post",
                "/api/v2/clients",
                201,
                new_client.clone(),
            ),
            Some(DcrEvent {
                signal: CreateClientCall,
                client: Some(("dcrNEW123".into(), ResponseBody)),
            }),
        ),
        (
            "Management API creation never uses the caller's client_id",
            sapi("Create client", "post", "/api/v2/clients", 201, json!({})),
            Some(DcrEvent {
                signal: CreateClientCall,
                client: None,
            }),
        ),
        (
            "CIMD registration by an admin",
            sapi(
                "Register a CIMD client",
                "post",
                "/api/v2/clients/cimd/register",
                201,
                new_client.clone(),
            ),
            Some(DcrEvent {
                signal: CimdRegistration,
                client: Some(("dcrNEW123".into(), ResponseBody)),
            }),
        ),
        (
            "CIMD registration never uses the caller's client_id",
            sapi(
                "Register a CIMD client",
                "post",
                "/api/v2/clients/cimd/register",
                200,
                json!({}),
            ),
            Some(DcrEvent {
                signal: CimdRegistration,
                client: None,
            }),
        ),
        (
            "CIMD preview is not a registration",
            sapi(
                "Preview a CIMD client",
                "post",
                "/api/v2/clients/cimd/preview",
                200,
                new_client.clone(),
            ),
            None,
        ),
        (
            "event client_id when the response has none",
            no_response_id,
            Some(DcrEvent {
                signal: SapiDescription,
                client: Some(("dcrFROMEVENT".into(), EventClientId)),
            }),
        ),
        (
            "request body client_id as the last resort",
            request_id_only,
            Some(DcrEvent {
                signal: RegisterPath,
                client: Some(("dcrFROMREQ".into(), RequestBody)),
            }),
        ),
        (
            "client update is not a creation",
            sapi(
                "Update a client",
                "patch",
                "/api/v2/clients/abc",
                200,
                new_client.clone(),
            ),
            None,
        ),
        (
            "secret rotation is not a creation",
            sapi(
                "Rotate a client secret",
                "post",
                "/api/v2/clients/abc/rotate-secret",
                200,
                new_client.clone(),
            ),
            None,
        ),
        (
            "failed registration",
            sapi(
                "Dynamic Client Registration",
                "post",
                "/oidc/register",
                400,
                json!({}),
            ),
            None,
        ),
        ("failed API operation type", fapi, None),
        ("a login", login, None),
        ("an empty event", json!({}), None),
    ];
    for (name, data, expected) in table {
        if data["type"] == "sapi" {
            assert_valid_sapi(&data);
        }
        assert_eq!(match_dcr(&data), expected, "{name}");
    }
}

#[test]
fn json_array_json_lines_and_single_object_all_parse() {
    let entry = json!({"log_id": "1", "data": {"type": "s"}});
    let array = serde_json::to_vec(&json!([entry, entry])).expect("json");
    let lines = format!("{entry}\n\n{entry}\r\n");
    let object = serde_json::to_vec(&entry).expect("json");
    assert_eq!(parse_payload(&array).expect("array").len(), 2);
    assert_eq!(parse_payload(lines.as_bytes()).expect("lines").len(), 2);
    let single = parse_payload(&object).expect("object");
    assert_eq!(
        single,
        vec![Ok(LogEntry {
            log_id: Some("1".into()),
            data: json!({"type": "s"})
        })]
    );
}

#[test]
fn log_id_falls_back_to_the_event_and_malformed_entries_are_reported_alone() {
    let body = serde_json::to_vec(&json!([
        {"data": {"log_id": "inner", "type": "s"}},
        42,
        {"log_id": "x"},
        {"log_id": "y", "data": "text"}
    ]))
    .expect("json");
    let entries = parse_payload(&body).expect("batch");
    assert_eq!(
        entries[0].as_ref().map(|e| e.log_id.clone()),
        Ok(Some("inner".into()))
    );
    assert_eq!(
        entries[1],
        Err(MalformedEntry {
            index: 1,
            reason: "entry is not a JSON object"
        })
    );
    assert_eq!(
        entries[2],
        Err(MalformedEntry {
            index: 2,
            reason: "entry has no `data` object"
        })
    );
    assert_eq!(
        entries[3],
        Err(MalformedEntry {
            index: 3,
            reason: "entry has no `data` object"
        })
    );
}

#[test]
fn garbage_and_scalars_are_not_batches() {
    assert_eq!(parse_payload(b"hello world"), Err(PayloadError::NotJson));
    assert_eq!(parse_payload(b""), Err(PayloadError::NotJson));
    assert_eq!(parse_payload(b"42"), Err(PayloadError::NotABatch));
    assert_eq!(parse_payload(b"\"text\""), Err(PayloadError::NotABatch));
}

#[test]
fn object_of_entries_is_read_as_a_batch() {
    let body = json!({"a": {"log_id": "1", "data": {}}, "b": {"log_id": "2", "data": {}}});
    let entries = parse_payload(&serde_json::to_vec(&body).expect("json")).expect("batch");
    assert_eq!(entries.len(), 2);
}
