//! The body of an Auth0 log-stream POST (JSON Lines, JSON Array or JSON Object), and the DCR
//! matching of each entry.
//!
//! Checks: no panic; a JSON array gives one result per element; an array of two or more
//! elements re-sent as JSON Lines gives the very same entries (the formats agree); DCR matching
//! of every entry is total, never matches a failed event and never names an empty client.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_mcp_auth::auth0::log_event::{match_dcr, parse_payload};

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = parse_payload(data) else {
        return;
    };
    for entry in entries.iter().flatten() {
        if let Some(event) = match_dcr(&entry.data) {
            assert_ne!(entry.data.get("type").and_then(Value::as_str), Some("fapi"));
            let status = entry
                .data
                .pointer("/details/response/statusCode")
                .and_then(Value::as_u64);
            assert!(status.is_none_or(|s| s < 400), "{event:?}");
            if let Some((id, _)) = &event.client {
                assert!(!id.is_empty(), "an empty client id is no client");
            }
        }
    }
    if let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(data) {
        assert_eq!(entries.len(), items.len());
        if items.len() >= 2 {
            let lines: Vec<String> = items.iter().map(Value::to_string).collect();
            let as_lines = parse_payload(lines.join("\n").as_bytes()).expect("JSON Lines batch");
            assert_eq!(as_lines, entries);
        }
    }
});
