//! Comparing a token's `aud` with the accepted audiences.
//!
//! Equal strings always match. Beyond that exactly two spellings are tolerated, because real
//! clients produce them for the same resource: an upper-case scheme or host (MCP authorization:
//! servers SHOULD accept them), and the `/` that URL libraries append to an origin-only resource
//! (`https://host` and `https://host/`: the TypeScript SDK, Claude and the `url` crate all write
//! the latter). Nothing else: no path case folding, no trailing slash after a path, no prefix
//! matching (a token for `https://host/mcp` is not for `https://host/mcp/admin`).

/// The accepted audiences, with their normalized spellings computed once.
#[derive(Debug, Clone)]
pub(crate) struct Audiences {
    exact: Box<[String]>,
    normalized: Box<[Option<String>]>,
}

impl Audiences {
    pub(crate) fn new(list: Vec<String>) -> Self {
        let normalized = list.iter().map(|a| normalize(a)).collect();
        Self {
            exact: list.into_boxed_slice(),
            normalized,
        }
    }

    /// Every accepted audience, as configured; the first is the primary one.
    pub(crate) fn as_slice(&self) -> &[String] {
        &self.exact
    }

    /// True when one of `claimed` is one of the accepted audiences.
    pub(crate) fn accepts(&self, claimed: &[String]) -> bool {
        // The exact comparison first: it is the common case and allocates nothing.
        if claimed.iter().any(|c| self.exact.contains(c)) {
            return true;
        }
        claimed.iter().any(|c| {
            normalize(c).is_some_and(|c| self.normalized.iter().flatten().any(|a| *a == c))
        })
    }
}

/// `scheme://authority` lower-cased, then the rest unchanged except that a lone `/` path is
/// dropped; `None` for anything that is not such a URL (or has user info, which is never
/// folded).
pub(crate) fn normalize(audience: &str) -> Option<String> {
    let (scheme, rest) = audience.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let tail = if tail == "/" { "" } else { tail };
    Some(format!(
        "{}://{}{tail}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(configured: &str, claimed: &str) -> bool {
        Audiences::new(vec![configured.to_owned()]).accepts(&[claimed.to_owned()])
    }

    #[test]
    fn origin_only_resources_match_with_or_without_the_slash_both_ways() {
        assert!(accepts("https://api.example", "https://api.example/"));
        assert!(accepts("https://api.example/", "https://api.example"));
        assert!(accepts(
            "https://api.example:8443",
            "https://api.example:8443/"
        ));
    }

    #[test]
    fn scheme_and_host_case_is_folded_but_not_the_path() {
        assert!(accepts(
            "https://api.example/mcp",
            "HTTPS://API.Example/mcp"
        ));
        assert!(accepts("HTTPS://API.EXAMPLE", "https://api.example/"));
        assert!(!accepts(
            "https://api.example/mcp",
            "https://api.example/MCP"
        ));
    }

    #[test]
    fn nothing_else_matches() {
        assert!(!accepts(
            "https://api.example/mcp",
            "https://api.example/mcp/"
        ));
        assert!(!accepts(
            "https://api.example/mcp/",
            "https://api.example/mcp"
        ));
        assert!(!accepts(
            "https://api.example/mcp",
            "https://api.example/mcp/admin"
        ));
        assert!(!accepts("https://api.example", "https://api.example.evil/"));
        assert!(!accepts("https://api.example", "http://api.example/"));
        assert!(!accepts("https://api.example", "https://api.example:443/"));
        assert!(!accepts("my-api", "MY-API"));
        assert!(!accepts("https://u@api.example", "https://U@api.example"));
        assert!(accepts("my-api", "my-api"));
    }

    #[test]
    fn any_of_several_audiences_matches() {
        let audiences = Audiences::new(vec!["https://old.example/mcp".into(), "urn:new".into()]);
        assert!(audiences.accepts(&["x".into(), "urn:new".into()]));
        assert!(audiences.accepts(&["https://OLD.example/mcp".into()]));
        assert!(!audiences.accepts(&["urn:other".into()]));
        assert_eq!(audiences.as_slice()[0], "https://old.example/mcp");
    }
}
