//! Auth0's rules for a CIMD URL, checked before any call so a typo is named at once. Source:
//! Auth0 docs `register-applications-with-cimd.mdx` / "CIMD URL validation rules" and the
//! Management API OAS (`external_client_id`: `maxLength` 120, `absolute-https-uri-or-empty`).

use url::{Host, Url};

/// The longest `external_client_id` Auth0 accepts, in bytes.
pub const MAX_CIMD_URL_BYTES: usize = 120;

/// The Auth0 rule a CIMD URL breaks; its `Display` names it for an operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CimdUrlRule {
    /// Longer than [`MAX_CIMD_URL_BYTES`].
    #[error("longer than {MAX_CIMD_URL_BYTES} bytes")]
    TooLong,
    /// Not an absolute URL.
    #[error("not an absolute URL ({reason})")]
    NotAbsolute {
        /// Why it does not parse.
        reason: String,
    },
    /// Not `https`.
    #[error("not https")]
    NotHttps,
    /// User name or password in the URL.
    #[error("carries credentials")]
    Credentials,
    /// A query string.
    #[error("has a query")]
    Query,
    /// A fragment.
    #[error("has a fragment")]
    Fragment,
    /// The path is empty or `/`.
    #[error("has no path beyond `/`")]
    NoPath,
    /// The host is loopback, private or link-local.
    #[error("points at localhost or a private address")]
    LocalHost,
}

/// `Ok` when Auth0 would accept `raw` as a CIMD URL, else the rule it breaks.
pub fn check_cimd_url(raw: &str) -> Result<(), CimdUrlRule> {
    if raw.len() > MAX_CIMD_URL_BYTES {
        return Err(CimdUrlRule::TooLong);
    }
    let url = Url::parse(raw).map_err(|e| CimdUrlRule::NotAbsolute {
        reason: e.to_string(),
    })?;
    if url.scheme() != "https" {
        return Err(CimdUrlRule::NotHttps);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CimdUrlRule::Credentials);
    }
    if url.query().is_some() {
        return Err(CimdUrlRule::Query);
    }
    if url.fragment().is_some() {
        return Err(CimdUrlRule::Fragment);
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(CimdUrlRule::NoPath);
    }
    let local = match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => true,
    };
    if local {
        return Err(CimdUrlRule::LocalHost);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chatgpt_and_claude_urls_pass() {
        for url in [
            "https://chatgpt.com/oauth/client.json",
            "https://chatgpt.com/oauth/IbUR3zxyNQ16/client.json",
            "https://claude.ai/oauth/mcp-oauth-client-metadata",
        ] {
            assert_eq!(check_cimd_url(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn each_rule_is_named() {
        let long = format!("https://example.com/{}", "a".repeat(120));
        for (url, rule) in [
            ("http://example.com/client.json", "not https"),
            ("https://example.com/", "has no path beyond `/`"),
            ("https://example.com/c.json?x=1", "has a query"),
            ("https://example.com/c.json#x", "has a fragment"),
            ("https://u:p@example.com/c.json", "carries credentials"),
            (
                "https://localhost/c.json",
                "points at localhost or a private address",
            ),
            (long.as_str(), "longer than 120 bytes"),
        ] {
            let refused = check_cimd_url(url).expect_err(url);
            assert_eq!(refused.to_string(), rule, "{url}");
        }
    }
}
