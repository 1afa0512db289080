//! The body of an Auth0 log-stream POST (JSON Lines, JSON Array or JSON Object), and the DCR
//! matching of each entry.
//!
//! Checks: no panic; a JSON array gives one result per element; an array of two or more
//! elements re-sent as JSON Lines gives the same entries, floats up to rounding (the formats
//! agree); DCR matching of every entry is total, never matches a failed event and never names an
//! empty client.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower_mcp_auth::auth0::log_event::{match_dcr, parse_payload};

/// JSON equality where floats may differ in the last digits: serde_json (without its
/// `float_roundtrip` feature) does not promise that printing and re-reading a float gives the
/// same bits (fuzz-found: `4.444444444244445e20` came back as `4.4444444442444444e20`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= f64::EPSILON * 4.0 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

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
            assert_eq!(as_lines.len(), entries.len());
            for (line, element) in as_lines.iter().zip(&entries) {
                match (line, element) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a.log_id, b.log_id);
                        assert!(same(&a.data, &b.data), "{a:?} != {b:?}");
                    }
                    (a, b) => assert_eq!(a, b),
                }
            }
        }
    }
});
