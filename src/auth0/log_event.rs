//! Reading a log-stream batch and picking out the Dynamic Client Registration events.
//!
//! A custom-webhook log stream POSTs its batch in the content format chosen for the stream:
//! JSON Lines (one entry per line), JSON Array, or JSON Object (one entry). Each entry is
//! `{"log_id": "…", "data": {…}}`, `data` being the log event (`type`, `description`,
//! `client_id`, `details.request`, `details.response`, …). [`parse_payload`] accepts all three
//! and reports each malformed entry on its own; [`match_dcr`] decides whether an event is a DCR.

use serde_json::Value;

/// One entry of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The entry's `log_id` (or `data.log_id`), used to remember completed work.
    pub log_id: Option<String>,
    /// The log event itself.
    pub data: Value,
}

/// An entry that is not `{log_id?, data: {…}}`; it is logged and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedEntry {
    /// Its position in the batch (0-based; for JSON Lines, the line index among non-blank lines).
    pub index: usize,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// The body is not a log-stream batch at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not JSON, JSON Lines, or anything parseable.
    #[error("the body is not JSON or JSON Lines")]
    NotJson,
    /// JSON, but a scalar where a batch (array, object or lines of objects) was expected.
    #[error("the body is JSON but not a batch of log entries")]
    NotABatch,
}

/// Parses a batch in any of the log-stream content formats.
///
/// ```
/// use tower_mcp_auth::auth0::log_event::parse_payload;
///
/// let lines = b"{\"log_id\":\"1\",\"data\":{\"type\":\"s\"}}\nnot json\n";
/// let entries = parse_payload(lines).unwrap();
/// assert_eq!(entries.len(), 2);
/// assert!(entries[0].is_ok() && entries[1].is_err());
/// ```
pub fn parse_payload(body: &[u8]) -> Result<Vec<Result<LogEntry, MalformedEntry>>, PayloadError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| entry(i, v))
            .collect()),
        Ok(Value::Object(map))
            if !map.contains_key("data")
                && map.values().all(is_entry_shaped)
                && !map.is_empty() =>
        {
            // Defensive: an object whose values are all entries is read as a batch of them.
            Ok(map
                .into_iter()
                .map(|(_, v)| v)
                .enumerate()
                .map(|(i, v)| entry(i, v))
                .collect())
        }
        Ok(object @ Value::Object(_)) => Ok(vec![entry(0, object)]),
        Ok(_) => Err(PayloadError::NotABatch),
        Err(_) => parse_lines(body),
    }
}

fn parse_lines(body: &[u8]) -> Result<Vec<Result<LogEntry, MalformedEntry>>, PayloadError> {
    let mut entries = Vec::new();
    let mut any_json = false;
    let lines = body
        .split(|b| *b == b'\n')
        .map(|l| l.trim_ascii())
        .filter(|l| !l.is_empty());
    for (index, line) in lines.enumerate() {
        match serde_json::from_slice::<Value>(line) {
            Ok(value) => {
                any_json = true;
                entries.push(entry(index, value));
            }
            Err(_) => entries.push(Err(MalformedEntry {
                index,
                reason: "line is not JSON",
            })),
        }
    }
    // Only a body with at least one JSON line is a JSON Lines batch; anything else is garbage.
    if any_json {
        Ok(entries)
    } else {
        Err(PayloadError::NotJson)
    }
}

fn is_entry_shaped(v: &Value) -> bool {
    v.get("data").is_some_and(Value::is_object)
}

fn entry(index: usize, value: Value) -> Result<LogEntry, MalformedEntry> {
    let Value::Object(mut map) = value else {
        return Err(MalformedEntry {
            index,
            reason: "entry is not a JSON object",
        });
    };
    let data = match map.remove("data") {
        Some(data @ Value::Object(_)) => data,
        _ => {
            return Err(MalformedEntry {
                index,
                reason: "entry has no `data` object",
            });
        }
    };
    let log_id = map
        .get("log_id")
        .or_else(|| data.get("log_id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(LogEntry { log_id, data })
}

/// Which rule made an event a DCR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DcrSignal {
    /// `type` is `sapi` and `description` mentions "dynamic client registration".
    SapiDescription,
    /// The request path (`details.request.path`, else `.url`) contains `/oidc/register`.
    RegisterPath,
    /// A `POST` to `/api/v2/clients` (a client created through the Management API). Such a
    /// client is acted on only if Auth0 itself marks it as made by DCR
    /// ([`made_by_registration`](super::population::made_by_registration)): an admin's
    /// third-party app named "ChatGPT" is not ChatGPT's.
    CreateClientCall,
    /// A `POST` to `/api/v2/clients/cimd/register`: an admin registered a client from its
    /// Client ID Metadata Document URL (ChatGPT's or Claude's).
    CimdRegistration,
}

/// Where the new client's id was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientIdSource {
    /// `details.response.body.client_id`: the created client, the best source.
    ResponseBody,
    /// The event's own `client_id`.
    EventClientId,
    /// `details.request.body.client_id`.
    RequestBody,
}

/// A DCR event: which rule matched and the client it created, if the entry names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcrEvent {
    /// The rule that matched.
    pub signal: DcrSignal,
    /// The created client's id and where it was read, if found.
    pub client: Option<(String, ClientIdSource)>,
}

/// Whether a log event (`data`) is a Dynamic Client Registration, and of which client.
///
/// Rules (the original gateway's, made explicit), in order:
/// 1. an event whose response failed (`details.response.statusCode` ≥ 400) or whose `type` is
///    `fapi` (failed API operation) is never a DCR: no client was created;
/// 2. `type == "sapi"` and `description` contains "dynamic client registration" (any case);
/// 3. the request path (`details.request.path`, else `details.request.url`) contains
///    `/oidc/register`;
/// 4. a `POST` (any case) whose path is `/api/v2/clients`;
/// 5. a `POST` whose path is `/api/v2/clients/cimd/register`.
///
/// The client id is read from `details.response.body.client_id`, then the event's `client_id`,
/// then `details.request.body.client_id`. For rules 4 and 5 the event's `client_id` is the
/// caller (the app that used the Management API), never the new client, so it is not used.
pub fn match_dcr(data: &Value) -> Option<DcrEvent> {
    let event_type = data.get("type").and_then(Value::as_str).unwrap_or_default();
    let request = data.pointer("/details/request");
    let response = data.pointer("/details/response");
    let status = response
        .and_then(|r| r.get("statusCode"))
        .and_then(Value::as_u64);
    if event_type == "fapi" || status.is_some_and(|s| s >= 400) {
        return None;
    }
    let description = data
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let path = request
        .and_then(|r| r.get("path").or_else(|| r.get("url")))
        .and_then(Value::as_str)
        .map(request_path)
        .unwrap_or_default();
    let method = request
        .and_then(|r| r.get("method"))
        .and_then(Value::as_str)
        .unwrap_or_default();

    let signal = if event_type == "sapi" && description.contains("dynamic client registration") {
        DcrSignal::SapiDescription
    } else if path.contains("/oidc/register") {
        DcrSignal::RegisterPath
    } else if method.eq_ignore_ascii_case("post") && path.trim_end_matches('/') == "/api/v2/clients"
    {
        DcrSignal::CreateClientCall
    } else if method.eq_ignore_ascii_case("post")
        && path.trim_end_matches('/') == "/api/v2/clients/cimd/register"
    {
        DcrSignal::CimdRegistration
    } else {
        return None;
    };

    let string_at = |v: Option<&Value>, pointer: &str| {
        v.and_then(|v| v.pointer(pointer))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let client = string_at(response, "/body/client_id")
        .map(|id| (id, ClientIdSource::ResponseBody))
        .or_else(|| {
            (!matches!(
                signal,
                DcrSignal::CreateClientCall | DcrSignal::CimdRegistration
            ))
            .then(|| string_at(Some(data), "/client_id"))
            .flatten()
            .map(|id| (id, ClientIdSource::EventClientId))
        })
        .or_else(|| {
            string_at(request, "/body/client_id").map(|id| (id, ClientIdSource::RequestBody))
        });
    Some(DcrEvent { signal, client })
}

/// The path part of a request path or full URL, without query.
fn request_path(raw: &str) -> String {
    let path = match raw.split_once("://") {
        Some((_, rest)) => rest
            .split_once('/')
            .map(|(_, p)| format!("/{p}"))
            .unwrap_or_default(),
        None => raw.to_owned(),
    };
    path.split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

#[cfg(test)]
#[path = "log_event_tests.rs"]
mod tests;
