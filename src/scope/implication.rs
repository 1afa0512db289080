//! Scope hierarchies: a broader scope implies narrower ones (MCP 2026-07-28: "Servers MUST
//! account for scope hierarchies, where a broader scope implies narrower ones, when deciding
//! whether a token is sufficient").
//!
//! Two kinds of rule, both declared by the operator (no scope implies another by its spelling
//! alone, because issuers name scopes in incompatible ways):
//! - explicit: `docs:write` implies `docs:read`;
//! - prefix: `admin` implies every scope starting with `admin:`.
//!
//! Rules chain (`admin` → `admin:docs` → `docs:read`), cycles are harmless. Implications only
//! widen what a token *satisfies*: the scopes a policy *names* (metadata `scopes_supported`,
//! the `scope` of a 403) stay exactly as written, so clients keep asking for the exact scopes.

use std::collections::{HashMap, HashSet};

use crate::scope::config::{ScopeConfigError, validate_scope};
use crate::token::AccessToken;

/// The environment variable with scope implications, in `TOOL_SCOPES` syntax:
/// `docs:write=docs:read;admin=admin:*` (`broad=narrower1,narrower2`; a trailing `*` makes the
/// entry a prefix rule).
pub const SCOPE_IMPLIES: &str = "SCOPE_IMPLIES";

/// The scope implications of a policy; empty by default (exact matching).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ScopeImplications {
    /// `broad` → the scopes it implies directly.
    explicit: HashMap<String, Vec<String>>,
    /// `(broad, prefix)`: `broad` implies every scope starting with `prefix`.
    prefixes: Vec<(String, String)>,
}

impl ScopeImplications {
    pub(crate) fn is_empty(&self) -> bool {
        self.explicit.is_empty() && self.prefixes.is_empty()
    }

    pub(crate) fn add(&mut self, broad: String, narrower: impl IntoIterator<Item = String>) {
        self.explicit.entry(broad).or_default().extend(narrower);
    }

    pub(crate) fn add_prefix(&mut self, broad: String, prefix: String) {
        self.prefixes.push((broad, prefix));
    }

    /// True when `token` holds `required` or a scope that implies it.
    #[inline]
    pub(crate) fn satisfies(&self, token: &AccessToken, required: &str) -> bool {
        token.has_scope(required)
            || (!self.is_empty()
                && token
                    .scopes()
                    .iter()
                    .any(|held| self.implies(held, required)))
    }

    /// True when `held` implies `required`, directly or through a chain of rules.
    pub(crate) fn implies(&self, held: &str, required: &str) -> bool {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut frontier: Vec<&str> = vec![held];
        while let Some(scope) = frontier.pop() {
            if scope == required {
                return true;
            }
            if !seen.insert(scope) {
                continue;
            }
            if let Some(narrower) = self.explicit.get(scope) {
                frontier.extend(narrower.iter().map(String::as_str));
            }
            for (broad, prefix) in &self.prefixes {
                if broad != scope {
                    continue;
                }
                if required.starts_with(prefix.as_str()) {
                    return true;
                }
                // Scopes under the prefix that imply further scopes carry the chain on.
                frontier.extend(
                    self.explicit
                        .keys()
                        .chain(self.prefixes.iter().map(|(b, _)| b))
                        .filter(|key| key.starts_with(prefix.as_str()))
                        .map(String::as_str),
                );
            }
        }
        false
    }
}

/// One entry of the implication syntax: `(broad, narrower scopes, prefixes)`.
pub(crate) type ImplicationRule = (String, Vec<String>, Vec<String>);

/// Reads `broad=narrower1,narrower2;broad2=prefix:*` (the `TOOL_SCOPES` map syntax) into rules,
/// one per entry. Every scope must be an RFC 6749 §3.3 token.
pub(crate) fn parse(
    variable: &'static str,
    value: &str,
) -> Result<Vec<ImplicationRule>, ScopeConfigError> {
    let mut rules = Vec::new();
    for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let invalid = |reason: &str| ScopeConfigError::InvalidImplication {
            variable,
            entry: entry.to_owned(),
            reason: reason.to_owned(),
        };
        let (broad, implied) = entry
            .split_once('=')
            .ok_or_else(|| invalid("the form is `broad=narrower1,narrower2` or `broad=prefix*`"))?;
        if implied.contains('=') {
            return Err(invalid("it has more than one `=`"));
        }
        let broad = broad.trim();
        let context = format!("{variable} entry `{entry}`");
        validate_scope(&context, broad)?;
        let mut narrower = Vec::new();
        let mut prefixes = Vec::new();
        for scope in implied
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            match scope.strip_suffix('*') {
                Some(prefix) => {
                    validate_scope(&context, prefix)?;
                    prefixes.push(prefix.to_owned());
                }
                None => {
                    validate_scope(&context, scope)?;
                    narrower.push(scope.to_owned());
                }
            }
        }
        if narrower.is_empty() && prefixes.is_empty() {
            return Err(invalid("it names no implied scope after `=`"));
        }
        rules.push((broad.to_owned(), narrower, prefixes));
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(scope: &str) -> AccessToken {
        AccessToken::from_claims(json!({
            "iss": "i", "sub": "s", "aud": "a", "exp": 4_102_444_800u64, "scope": scope
        }))
        .unwrap()
    }

    fn rules() -> ScopeImplications {
        let mut rules = ScopeImplications::default();
        rules.add("docs:write".into(), ["docs:read".into()]);
        rules.add_prefix("admin".into(), "admin:".into());
        rules.add("admin:docs".into(), ["docs:write".into()]);
        rules
    }

    #[test]
    fn explicit_and_prefix_rules_chain() {
        let rules = rules();
        assert!(rules.implies("docs:write", "docs:read"));
        assert!(!rules.implies("docs:read", "docs:write"));
        assert!(rules.implies("admin", "admin:users"));
        assert!(!rules.implies("admin", "administrator"));
        // admin → admin:docs (prefix) → docs:write → docs:read
        assert!(rules.implies("admin", "docs:read"));
        assert!(rules.satisfies(&token("admin"), "docs:read"));
        assert!(!rules.satisfies(&token("docs:read"), "docs:write"));
    }

    #[test]
    fn cycles_end() {
        let mut rules = ScopeImplications::default();
        rules.add("a".into(), ["b".into()]);
        rules.add("b".into(), ["a".into()]);
        assert!(rules.implies("a", "b"));
        assert!(!rules.implies("a", "c"));
    }

    #[test]
    fn no_rules_is_exact_matching() {
        let rules = ScopeImplications::default();
        assert!(rules.satisfies(&token("x"), "x"));
        assert!(!rules.satisfies(&token("x:write"), "x:read"));
    }

    #[test]
    fn parse_reads_the_tool_scopes_syntax() {
        assert_eq!(
            parse(SCOPE_IMPLIES, "docs:write=docs:read; admin=admin:*, audit").unwrap(),
            [
                (
                    "docs:write".to_owned(),
                    vec!["docs:read".to_owned()],
                    vec![]
                ),
                (
                    "admin".to_owned(),
                    vec!["audit".to_owned()],
                    vec!["admin:".to_owned()]
                ),
            ]
        );
        assert_eq!(
            parse(SCOPE_IMPLIES, "docs:write").unwrap_err().to_string(),
            "SCOPE_IMPLIES: entry `docs:write` is not a scope implication: the form is `broad=narrower1,narrower2` or `broad=prefix*`"
        );
        assert!(parse(SCOPE_IMPLIES, "a=").is_err());
        assert!(parse(SCOPE_IMPLIES, "a b=c").is_err());
    }
}
