//! Header lookups of custom names that skip the hash when the name is absent.
//!
//! `HeaderMap` finds a name by its hash, and a custom name (`mcp-session-id`, `mcp-method`) is
//! hashed byte by byte on every lookup. The guard asks for such names on every request, and
//! most requests carry none of them: scanning the few names present is cheaper (a standard name
//! is told apart by its tag, a custom one mostly by its length), and the lookup runs only
//! when the name is there.

use http::{HeaderMap, HeaderName, HeaderValue};

/// True when `headers` has a field named `name`.
fn has(headers: &HeaderMap, name: &HeaderName) -> bool {
    headers.keys().any(|present| present == name)
}

/// `headers.get(name)`, without hashing `name` when it is absent.
#[inline]
pub(crate) fn get<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Option<&'h HeaderValue> {
    has(headers, name).then(|| headers.get(name)).flatten()
}

/// `headers.get_all(name)`'s values, without hashing `name` when it is absent.
// Inlined: out of line, building and returning the iterator cost ~85 instructions a request.
#[inline]
pub(crate) fn get_all<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
) -> impl Iterator<Item = &'h HeaderValue> + use<'h> {
    has(headers, name)
        .then(|| headers.get_all(name).iter())
        .into_iter()
        .flatten()
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
            assert_eq!(get(&headers, &wanted).unwrap(), "tools/call", "at {place}");
            assert_eq!(get_all(&headers, &wanted).count(), 1, "at {place}");
            assert!(has_either(&headers, &other, &wanted), "at {place}");
            assert!(has_either(&headers, &wanted, &other), "at {place}");
            assert!(get(&headers, &other).is_none(), "at {place}");
            headers.append(&wanted, HeaderValue::from_static("tools/list"));
            assert_eq!(get_all(&headers, &wanted).count(), 2, "at {place}");
            headers.remove(&wanted);
            assert!(get(&headers, &wanted).is_none(), "at {place}");
            assert_eq!(get_all(&headers, &wanted).count(), 0, "at {place}");
            assert!(!has_either(&headers, &wanted, &other), "at {place}");
        }
        assert!(get(&HeaderMap::new(), &wanted).is_none());
    }
}
