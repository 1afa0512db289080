//! Reading a [`ScopePolicy`] from `TOOL_SCOPES` / `REQUIRED_SCOPES`, and the configuration error.

use std::collections::HashSet;

use crate::scope::ScopePolicy;

/// The environment variable with per-tool scopes (or, in the Node gateway's flat form, the
/// scopes every call needs).
pub const TOOL_SCOPES: &str = "TOOL_SCOPES";
/// The environment variable with the scopes every call needs (a flat list).
pub const REQUIRED_SCOPES: &str = "REQUIRED_SCOPES";

/// A scope configuration that cannot be used; every variant names the offending entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeConfigError {
    /// A scope is not an RFC 6749 §3.3 scope token.
    #[error(
        "{context}: `{scope}` is not a valid OAuth scope token (RFC 6749 §3.3 allows printable ASCII except space, `\"` and `\\`)"
    )]
    InvalidScope {
        /// Where the scope was found (`TOOL_SCOPES entry `…``, `tool `search``, …).
        context: String,
        /// The scope as written.
        scope: String,
    },
    /// An entry of the per-tool map form has no `=`.
    #[error(
        "{variable}: entry `{entry}` has no `=`; the per-tool form is `tool=scope1,scope2;tool2=scope3`"
    )]
    MissingEquals {
        /// The variable.
        variable: &'static str,
        /// The entry as written.
        entry: String,
    },
    /// An entry of the per-tool map form has more than one `=`.
    #[error("{variable}: entry `{entry}` has more than one `=`")]
    ExtraEquals {
        /// The variable.
        variable: &'static str,
        /// The entry as written.
        entry: String,
    },
    /// An entry of the per-tool map form names no tool before its `=`.
    #[error("{variable}: entry `{entry}` names no tool before `=`")]
    EmptyToolName {
        /// The variable.
        variable: &'static str,
        /// The entry as written.
        entry: String,
    },
    /// An entry of the per-tool map form lists no scope after its `=`.
    #[error("{variable}: entry `{entry}` lists no scope after `=`")]
    EmptyScopes {
        /// The variable.
        variable: &'static str,
        /// The entry as written.
        entry: String,
    },
    /// The per-tool map form names a tool twice.
    #[error("{variable}: tool `{tool}` is named twice")]
    DuplicateTool {
        /// The variable.
        variable: &'static str,
        /// The tool.
        tool: String,
    },
    /// `REQUIRED_SCOPES` holds a `tool=scopes` entry; it is a flat list.
    #[error(
        "{variable}: `{entry}` contains `=`, but {variable} is a flat list of the scopes every call needs; per-tool scopes go in TOOL_SCOPES"
    )]
    FlatListExpected {
        /// The variable.
        variable: &'static str,
        /// The entry as written.
        entry: String,
    },
    /// A route path pattern does not start with `/`.
    #[error("route pattern `{pattern}` must start with `/` (e.g. `/admin` or `/admin/*`)")]
    InvalidPathPattern {
        /// The pattern as written.
        pattern: String,
    },
    /// An entry of the scope-implication variable is malformed.
    #[error("{variable}: entry `{entry}` is not a scope implication: {reason}")]
    InvalidImplication {
        /// The variable.
        variable: &'static str,
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The variable is set but is not valid Unicode.
    #[error("{variable} is not valid Unicode")]
    NotUnicode {
        /// The variable.
        variable: &'static str,
    },
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn validate_scope(context: &str, scope: &str) -> Result<(), ScopeConfigError> {
    let valid = !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e));
    if valid {
        Ok(())
    } else {
        Err(ScopeConfigError::InvalidScope {
            context: context.to_owned(),
            scope: scope.to_owned(),
        })
    }
}

/// Commas or whitespace separate scopes; empty pieces (`a,,b`, trailing commas) are not scopes.
fn split_scopes(list: &str) -> impl Iterator<Item = &str> {
    list.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

fn flat_list(variable: &'static str, value: &str) -> Result<Vec<String>, ScopeConfigError> {
    split_scopes(value)
        .map(|scope| {
            if scope.contains('=') {
                return Err(ScopeConfigError::FlatListExpected {
                    variable,
                    entry: scope.to_owned(),
                });
            }
            validate_scope(variable, scope).map(|()| scope.to_owned())
        })
        .collect()
}

/// `search=search.read;docs.create=docs.write,docs.read` → `[(tool, scopes)]`.
fn tool_map(
    variable: &'static str,
    value: &str,
) -> Result<Vec<(String, Vec<String>)>, ScopeConfigError> {
    let mut seen = HashSet::new();
    let mut tools = Vec::new();
    // Empty entries (a trailing `;`) hold nothing, so skipping them drops nothing.
    for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let owned = || entry.to_owned();
        let (tool, scopes) =
            entry
                .split_once('=')
                .ok_or_else(|| ScopeConfigError::MissingEquals {
                    variable,
                    entry: owned(),
                })?;
        if scopes.contains('=') {
            return Err(ScopeConfigError::ExtraEquals {
                variable,
                entry: owned(),
            });
        }
        let tool = tool.trim();
        if tool.is_empty() {
            return Err(ScopeConfigError::EmptyToolName {
                variable,
                entry: owned(),
            });
        }
        let context = format!("{variable} entry `{entry}`");
        let scopes = split_scopes(scopes)
            .map(|scope| validate_scope(&context, scope).map(|()| scope.to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        if scopes.is_empty() {
            return Err(ScopeConfigError::EmptyScopes {
                variable,
                entry: owned(),
            });
        }
        if !seen.insert(tool.to_owned()) {
            return Err(ScopeConfigError::DuplicateTool {
                variable,
                tool: tool.to_owned(),
            });
        }
        tools.push((tool.to_owned(), scopes));
    }
    Ok(tools)
}

impl ScopePolicy {
    /// Reads the policy from the values of `TOOL_SCOPES` and `REQUIRED_SCOPES` (`None` when
    /// unset), without touching the process environment.
    ///
    /// - `REQUIRED_SCOPES` is a flat list: the scopes every call needs (default scopes).
    /// - `TOOL_SCOPES` without any `=` is the same flat list, as in the Node gateway (both
    ///   variables then add up). With an `=` it is a per-tool map: `;` separates entries,
    ///   `tool=scope1,scope2` each.
    ///
    /// Commas or whitespace separate scopes; whitespace around entries is trimmed. Every scope
    /// must be an RFC 6749 §3.3 scope token. A malformed entry is an error naming it.
    ///
    /// ```
    /// use tower_mcp_auth::ScopePolicy;
    ///
    /// let policy = ScopePolicy::from_env_values(
    ///     Some("search=search.read; docs.create=docs.write,docs.read"),
    ///     Some("mcp:access"),
    /// )?;
    /// assert_eq!(policy.default_scopes(), ["mcp:access"]);
    /// assert_eq!(
    ///     policy.required_scopes_for_tool("docs.create").unwrap(),
    ///     ["docs.read", "docs.write", "mcp:access"]
    /// );
    ///
    /// let err = ScopePolicy::from_env_values(Some("search=search.read;docs"), None).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "TOOL_SCOPES: entry `docs` has no `=`; the per-tool form is `tool=scope1,scope2;tool2=scope3`"
    /// );
    /// # Ok::<(), tower_mcp_auth::scope::ScopeConfigError>(())
    /// ```
    pub fn from_env_values(
        tool_scopes: Option<&str>,
        required_scopes: Option<&str>,
    ) -> Result<Self, ScopeConfigError> {
        Self::builder_from_env_values(tool_scopes, required_scopes)?.build()
    }

    /// Like [`from_env_values`](Self::from_env_values), returning the builder so rules can be
    /// added in code (routes, resources, prompts, `deny_unknown_tools`).
    pub fn builder_from_env_values(
        tool_scopes: Option<&str>,
        required_scopes: Option<&str>,
    ) -> Result<super::ScopePolicyBuilder, ScopeConfigError> {
        let mut builder = Self::builder();
        if let Some(required) = required_scopes {
            builder = builder.default_scopes(flat_list(REQUIRED_SCOPES, required)?);
        }
        if let Some(tools) = tool_scopes {
            if tools.contains('=') {
                for (tool, scopes) in tool_map(TOOL_SCOPES, tools)? {
                    builder = builder.tool(tool, scopes);
                }
            } else {
                builder = builder.default_scopes(flat_list(TOOL_SCOPES, tools)?);
            }
        }
        Ok(builder)
    }

    /// Reads the policy from the `TOOL_SCOPES` and `REQUIRED_SCOPES` environment variables (see
    /// [`from_env_values`](Self::from_env_values)), and the scope implications from
    /// [`SCOPE_IMPLIES`](crate::scope::SCOPE_IMPLIES) (see
    /// [`ScopePolicyBuilder::scope_implications`](crate::scope::ScopePolicyBuilder::scope_implications)).
    pub fn from_env() -> Result<Self, ScopeConfigError> {
        let read = |variable: &'static str| match std::env::var(variable) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(ScopeConfigError::NotUnicode { variable })
            }
        };
        let tools = read(TOOL_SCOPES)?;
        let required = read(REQUIRED_SCOPES)?;
        let implies = read(crate::scope::SCOPE_IMPLIES)?;
        let mut builder = Self::builder_from_env_values(tools.as_deref(), required.as_deref())?;
        if let Some(implies) = implies {
            builder = builder.scope_implications(&implies)?;
        }
        builder.build()
    }
}
