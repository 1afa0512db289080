//! Property tests for the Auth0 log-stream payload parser in its three formats (JSON Lines, JSON
//! Array, JSON Object) and the DCR matching of its entries. The fuzz target `webhook_payload`
//! checks the same properties on arbitrary bytes.
#![cfg(feature = "auth0")]

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tower_mcp_auth::auth0::log_event::{DcrSignal, match_dcr, parse_payload};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A log entry: usually `{log_id, data: {…}}` (sometimes a DCR event), sometimes malformed.
fn log_entry() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => ("[0-9]{1,6}", json_value()).prop_map(|(id, extra)| {
            json!({"log_id": id, "data": {"type": "s", "extra": extra}})
        }),
        2 => ("[0-9]{1,6}", "[A-Za-z0-9]{1,20}").prop_map(|(id, client)| json!({
            "log_id": id,
            "data": {"type": "sapi", "description": "Dynamic Client Registration",
                     "details": {"response": {"statusCode": 201, "body": {"client_id": client}}}}
        })),
        1 => json_value(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// JSON Lines, JSON Array and (for one entry) JSON Object give the same entries, in order,
    /// with each malformed entry reported on its own at its index.
    #[test]
    fn the_three_payload_formats_agree(entries in prop::collection::vec(log_entry(), 1..6)) {
        let array = parse_payload(Value::Array(entries.clone()).to_string().as_bytes()).unwrap();
        prop_assert_eq!(array.len(), entries.len());
        for (i, (parsed, raw)) in array.iter().zip(&entries).enumerate() {
            let well_formed = raw.get("data").is_some_and(Value::is_object);
            prop_assert_eq!(parsed.is_ok(), well_formed, "entry {}: {}", i, raw);
            if let Err(malformed) = parsed {
                prop_assert_eq!(malformed.index, i);
            }
        }
        if entries.len() >= 2 {
            let lines: Vec<String> = entries.iter().map(Value::to_string).collect();
            let as_lines = parse_payload(format!("{}\n", lines.join("\r\n\n")).as_bytes()).unwrap();
            prop_assert_eq!(&as_lines, &array);
        } else if entries[0].get("data").is_some_and(Value::is_object) {
            let object = parse_payload(entries[0].to_string().as_bytes()).unwrap();
            prop_assert_eq!(&object, &array);
        }
    }

    /// Every generated DCR event is found, with its client id, in any format.
    #[test]
    fn dcr_events_are_found_in_every_batch(entries in prop::collection::vec(log_entry(), 1..6)) {
        let expected: Vec<(DcrSignal, String)> = entries
            .iter()
            .filter_map(|e| e.pointer("/data/details/response/body/client_id")?.as_str())
            .map(|id| (DcrSignal::SapiDescription, id.to_owned()))
            .collect();
        let parsed = parse_payload(Value::Array(entries).to_string().as_bytes()).unwrap();
        let found: Vec<(DcrSignal, String)> = parsed
            .iter()
            .flatten()
            .filter_map(|entry| match_dcr(&entry.data))
            .filter_map(|event| Some((event.signal, event.client?.0)))
            .collect();
        prop_assert_eq!(found, expected);
    }

    /// Arbitrary bytes are parsed or refused, never a panic; what parses as a JSON array gives
    /// one result per element.
    #[test]
    fn arbitrary_payload_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(entries) = parse_payload(&body) {
            for entry in entries.iter().flatten() {
                let _ = match_dcr(&entry.data);
            }
            if let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) {
                prop_assert_eq!(entries.len(), items.len());
            }
        }
    }
}

/// Fuzz-found (`webhook_payload`): an array whose entry holds a large float, re-sent as JSON
/// Lines, gives the same entries; only the float's last digits may differ, since serde_json does
/// not promise that printing and re-reading a float keeps its bits.
#[test]
fn entries_with_large_floats_agree_across_formats_up_to_rounding() {
    let body = br#"[{"log_id":"1","data":{"type":"sapi","d":{"nse":{"statusCode":444444444424444444442}}}},5,{"data":"x"}]"#;
    let array = parse_payload(body).unwrap();
    let items: Vec<Value> = serde_json::from_slice(body).unwrap();
    let lines: Vec<String> = items.iter().map(Value::to_string).collect();
    let as_lines = parse_payload(lines.join("\n").as_bytes()).unwrap();

    assert_eq!(array.len(), 3);
    assert_eq!(as_lines[1..], array[1..]);
    let (a, b) = (as_lines[0].as_ref().unwrap(), array[0].as_ref().unwrap());
    assert_eq!(a.log_id.as_deref(), Some("1"));
    assert_eq!(a.log_id, b.log_id);
    let code = |e: &tower_mcp_auth::auth0::log_event::LogEntry| {
        e.data
            .pointer("/d/nse/statusCode")
            .and_then(Value::as_f64)
            .unwrap()
    };
    assert!((code(a) - code(b)).abs() <= f64::EPSILON * 4.0 * code(b));
    assert_eq!(match_dcr(&a.data), None);
}
