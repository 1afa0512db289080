//! The introspection request (RFC 7662 §2.1) and its bounded answer.

use http::header;
use serde_json::{Map, Value};

use super::Shared;

/// POSTs `token` to the endpoint and returns the answer's JSON object, or why there is none.
/// The whole exchange, body included, is bounded by the configured timeout and size.
pub(super) async fn introspect(shared: &Shared, token: &str) -> Result<Map<String, Value>, String> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("token_type_hint", "access_token")
        .finish();
    let exchange = async {
        let mut request = shared
            .client
            .post(shared.endpoint.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(body);
        if let Some(authorization) = &shared.authorization {
            request = request.header(header::AUTHORIZATION, authorization.clone());
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        if status == http::StatusCode::UNAUTHORIZED || status == http::StatusCode::FORBIDDEN {
            // Our client credentials are refused: every token would fail the same way.
            return Err(format!(
                "HTTP {status}: the endpoint refuses this resource server's client credentials"
            ));
        }
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let limit = shared.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(format!("the answer is larger than {limit} bytes"));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?
        {
            if bytes.len() + chunk.len() > limit {
                return Err(format!("the answer is larger than {limit} bytes"));
            }
            bytes.extend_from_slice(&chunk);
        }
        serde_json::from_slice::<Map<String, Value>>(&bytes)
            .map_err(|e| format!("the answer is not a JSON object: {e}"))
    };
    tokio::time::timeout(shared.timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {:?}", shared.timeout))?
}
