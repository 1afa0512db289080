//! Whether a request or answer has a header of a custom name, without looking it up.
//!
//! `HeaderMap` finds a name by its hash, and a custom name (`mcp-session-id`, `mcp-method`) is
//! hashed byte by byte on every lookup. The guard asks for such names on every request, and
//! most requests carry none of them: scanning the few names present is cheaper (a standard name
//! is told apart by its tag, a custom one mostly by its length), and the lookup runs only
//! when the name is there.

use http::{HeaderMap, HeaderName};

/// True when `headers` has a field named `name`.
pub(crate) fn has(headers: &HeaderMap, name: &HeaderName) -> bool {
    headers.keys().any(|present| present == name)
}

/// True when `headers` has a field named `one` or `other`.
pub(crate) fn has_either(headers: &HeaderMap, one: &HeaderName, other: &HeaderName) -> bool {
    headers
        .keys()
        .any(|present| present == one || present == other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn finds_a_name_among_standard_and_custom_ones_in_any_place() {
        let wanted = HeaderName::from_static("mcp-method");
        let other = HeaderName::from_static("mcp-name");
        let around = [
            "accept",
            "mcp-metho",
            "mcp-methods",
            "x-mcp-method",
            "authorization",
        ];
        for place in 0..=around.len() {
            let mut headers = HeaderMap::new();
            for (at, name) in around.iter().enumerate() {
                if at == place {
                    headers.insert(&wanted, HeaderValue::from_static("tools/call"));
                }
                headers.insert(*name, HeaderValue::from_static("x"));
            }
            if place == around.len() {
                headers.insert(&wanted, HeaderValue::from_static("tools/call"));
            }
            assert!(has(&headers, &wanted), "at {place}");
            assert!(has_either(&headers, &other, &wanted), "at {place}");
            assert!(has_either(&headers, &wanted, &other), "at {place}");
            assert!(!has(&headers, &other), "at {place}");
            headers.remove(&wanted);
            assert!(!has(&headers, &wanted), "at {place}");
            assert!(!has_either(&headers, &wanted, &other), "at {place}");
        }
        assert!(!has(&HeaderMap::new(), &wanted));
    }
}
