//! [`CallbackAllowList`]: the redirect URIs a client may have for the webhook to act on it.
//!
//! Anyone can register a client through a tenant's open `/oidc/register`, name it "ChatGPT" and
//! give it their own `redirect_uris`; promoting such a client hands its owner the authorization
//! codes of whoever logs in through it. So the webhook acts only on clients whose **every**
//! callback is on this list, and the name is no identity. The default list is ChatGPT's
//! documented redirect URIs (developers.openai.com, "Authentication"):
//!
//! - `https://chatgpt.com/connector_platform_oauth_redirect`
//! - `https://chatgpt.com/connector/oauth/{callback_id}` — written `…/oauth/*`: `*` stands for
//!   exactly one path segment, and is allowed only as the whole last segment.
//!
//! Claude's is [`CLAUDE_CALLBACK`] (`https://claude.ai/api/mcp/auth_callback`,
//! claude.com/docs/connectors/building/authentication).
//!
//! ```
//! use tower_mcp_auth::auth0::{CallbackAllowList, CLAUDE_CALLBACK};
//!
//! let chatgpt = CallbackAllowList::chatgpt();
//! assert!(chatgpt.allows_all(["https://chatgpt.com/connector/oauth/IbUR3zxyNQ16"]));
//! assert!(!chatgpt.allows_all(["https://chatgpt.com/connector/oauth/a/b"]));
//! assert!(!chatgpt.allows_all(["https://chatgpt.com/connector_platform_oauth_redirect",
//!                              "https://attacker.example/cb"]));
//!
//! let both = CallbackAllowList::chatgpt().with([CLAUDE_CALLBACK]).unwrap();
//! assert!(both.allows_all([CLAUDE_CALLBACK]));
//! assert!(CallbackAllowList::new(["https://*.example.com/cb"]).is_err());
//! ```

/// ChatGPT's documented redirect URIs, as allow-list patterns.
pub const CHATGPT_CALLBACKS: [&str; 2] = [
    "https://chatgpt.com/connector_platform_oauth_redirect",
    "https://chatgpt.com/connector/oauth/*",
];

/// Claude's documented redirect URI.
pub const CLAUDE_CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";

/// A pattern that cannot be on the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("callback pattern {pattern:?}: {reason}")]
pub struct InvalidCallbackPattern {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// The callbacks a client may have to be acted on; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAllowList {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    /// The prefix up to and including the last `/`; one segment follows.
    OneSegment(String),
}

impl Default for CallbackAllowList {
    /// [`CallbackAllowList::chatgpt`].
    fn default() -> Self {
        Self::chatgpt()
    }
}

impl CallbackAllowList {
    /// ChatGPT's documented redirect URIs ([`CHATGPT_CALLBACKS`]).
    pub fn chatgpt() -> Self {
        Self::new(CHATGPT_CALLBACKS).unwrap_or(Self {
            patterns: Vec::new(),
        })
    }

    /// A list of exactly these patterns: absolute `https://` URLs (`http://` only for
    /// `localhost` / `127.0.0.1`) without query or fragment; `*` only as the whole last path
    /// segment. An empty list allows nothing.
    pub fn new(
        patterns: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, InvalidCallbackPattern> {
        let patterns = patterns
            .into_iter()
            .map(|p| parse(p.as_ref().trim()))
            .collect::<Result<_, _>>()?;
        Ok(Self { patterns })
    }

    /// This list plus `patterns`.
    pub fn with(
        mut self,
        patterns: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, InvalidCallbackPattern> {
        self.patterns.extend(Self::new(patterns)?.patterns);
        Ok(self)
    }

    /// Whether `callback` matches a pattern, compared exactly (byte for byte: Auth0 compares
    /// redirect URIs exactly too).
    pub fn allows(&self, callback: &str) -> bool {
        self.patterns.iter().any(|p| match p {
            Pattern::Exact(e) => e == callback,
            Pattern::OneSegment(prefix) => callback
                .strip_prefix(prefix.as_str())
                .is_some_and(is_plain_segment),
        })
    }

    /// Whether there is at least one callback and every one is allowed. A client without
    /// callbacks has nothing to check, so it is not allowed (fail closed).
    pub fn allows_all<S: AsRef<str>>(&self, callbacks: impl IntoIterator<Item = S>) -> bool {
        let mut any = false;
        for callback in callbacks {
            if !self.allows(callback.as_ref()) {
                return false;
            }
            any = true;
        }
        any
    }
}

/// One non-empty path segment of unreserved characters (RFC 3986 §2.3), not `.`/`..`, and no
/// `*`: a wildcard in a registered callback is not a callback id.
fn is_plain_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn parse(pattern: &str) -> Result<Pattern, InvalidCallbackPattern> {
    let fail = |reason| InvalidCallbackPattern {
        pattern: pattern.to_owned(),
        reason,
    };
    let (exact, wildcard) = match pattern.strip_suffix("/*") {
        Some(prefix) => (format!("{prefix}/x"), true),
        None => (pattern.to_owned(), false),
    };
    if exact.contains('*') {
        return Err(fail("`*` is allowed only as the whole last path segment"));
    }
    let url = url::Url::parse(&exact).map_err(|_| fail("not an absolute URL"))?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => return Err(fail("must be https:// (http:// only for localhost)")),
    }
    if url.query().is_some() || url.fragment().is_some() || exact.contains(['?', '#']) {
        return Err(fail("no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(fail("no user information"));
    }
    if wildcard {
        // Keep the trailing `/`: the segment is what follows it.
        Ok(Pattern::OneSegment(pattern[..pattern.len() - 1].to_owned()))
    } else {
        Ok(Pattern::Exact(pattern.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatgpt_list_allows_its_two_documented_forms_only() {
        let list = CallbackAllowList::chatgpt();
        assert!(list.allows("https://chatgpt.com/connector_platform_oauth_redirect"));
        assert!(list.allows("https://chatgpt.com/connector/oauth/IbUR3zxyNQ16"));
        for bad in [
            "https://chatgpt.com/connector/oauth/",
            "https://chatgpt.com/connector/oauth/a/b",
            "https://chatgpt.com/connector/oauth/..",
            "https://chatgpt.com/connector/oauth/*",
            "https://chatgpt.com/connector/oauth/x?code=1",
            "https://chatgpt.com.attacker.example/connector_platform_oauth_redirect",
            "http://chatgpt.com/connector_platform_oauth_redirect",
            "https://chatgpt.com/connector_platform_oauth_redirect/",
            "HTTPS://CHATGPT.COM/connector_platform_oauth_redirect",
        ] {
            assert!(!list.allows(bad), "{bad}");
        }
    }

    #[test]
    fn every_callback_must_pass_and_none_is_not_enough() {
        let list = CallbackAllowList::chatgpt();
        assert!(!list.allows_all(Vec::<String>::new()));
        assert!(!list.allows_all([
            "https://chatgpt.com/connector_platform_oauth_redirect",
            "https://attacker.example/cb",
        ]));
    }

    #[test]
    fn patterns_are_checked() {
        for bad in [
            "https://*.chatgpt.com/cb",
            "https://chatgpt.com/*/cb",
            "https://chatgpt.com/cb*",
            "ftp://chatgpt.com/cb",
            "http://example.com/cb",
            "https://chatgpt.com/cb?x=1",
            "https://user@chatgpt.com/cb",
            "not a url",
        ] {
            assert!(CallbackAllowList::new([bad]).is_err(), "{bad}");
        }
        assert!(CallbackAllowList::new(["http://localhost:3000/cb", CLAUDE_CALLBACK]).is_ok());
        assert!(CallbackAllowList::new(Vec::<String>::new()).is_ok());
    }
}
