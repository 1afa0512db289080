//! Which tool a `POST /tools/{tool}` calls, judged on the very name that is forwarded and signed.
//!
//! axum matches routes on the raw path but percent-decodes `{tool}`, and the proxy forwards and
//! signs the decoded name. A check on the raw path therefore misses `/tools/admin%5Freport`
//! (security review finding 1). Two rules close that:
//!
//! - **canonical paths only** ([`check_canonical`]): a protected path with a percent-escape of a
//!   character that needs none (RFC 3986 §2.3 unreserved), a lower-case or malformed escape, or a
//!   `.`, `..` or empty segment is refused (400 `NON_CANONICAL_PATH`) before anything else runs;
//! - **the decoded name is checked** ([`tool_call`](crate::app)): the per-tool scope check runs
//!   on the decoded `{tool}`, and a name that differs from a named tool only in letter case is
//!   refused (400 `NON_CANONICAL_TOOL_NAME`), since some backends route without regard to case.

use std::fmt;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Response, StatusCode};
use axum::middleware::Next;

/// Why a path is not in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonCanonical {
    /// `%XX` of a character that needs no escaping (a letter, digit, `-`, `.`, `_` or `~`).
    NeedlessEscape,
    /// `%xx` with lower-case hex digits (RFC 3986 §6.2.2.1 writes them upper case).
    LowerCaseEscape,
    /// `%` not followed by two hex digits.
    MalformedEscape,
    /// A `.` or `..` segment, spelled plainly or escaped.
    DotSegment,
    /// `//`, or a trailing `/`.
    EmptySegment,
}

impl fmt::Display for NonCanonical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NeedlessEscape => {
                "it percent-encodes a character that needs no encoding (letters, digits, `-`, `.`, `_`, `~`)"
            }
            Self::LowerCaseEscape => "its percent-escapes must use upper-case hex digits",
            Self::MalformedEscape => "it has a `%` that is not followed by two hex digits",
            Self::DotSegment => "it has a `.` or `..` segment",
            Self::EmptySegment => "it has an empty segment (`//` or a trailing `/`)",
        })
    }
}

const fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(byte: u8) -> Option<(u8, bool)> {
    match byte {
        b'0'..=b'9' => Some((byte - b'0', false)),
        b'A'..=b'F' => Some((byte - b'A' + 10, false)),
        b'a'..=b'f' => Some((byte - b'a' + 10, true)),
        _ => None,
    }
}

/// `Ok` when `path` (a raw request path, still percent-encoded) is in canonical form.
pub fn check_canonical(path: &str) -> Result<(), NonCanonical> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(NonCanonical::EmptySegment);
    };
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Err(NonCanonical::EmptySegment);
        }
        let mut decoded = Vec::with_capacity(segment.len());
        let bytes = segment.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'%' {
                decoded.push(bytes[i]);
                i += 1;
                continue;
            }
            let (Some((high, high_lower)), Some((low, low_lower))) = (
                bytes.get(i + 1).copied().and_then(hex_value),
                bytes.get(i + 2).copied().and_then(hex_value),
            ) else {
                return Err(NonCanonical::MalformedEscape);
            };
            let byte = high << 4 | low;
            if is_unreserved(byte) {
                return Err(NonCanonical::NeedlessEscape);
            }
            if high_lower || low_lower {
                return Err(NonCanonical::LowerCaseEscape);
            }
            decoded.push(byte);
            i += 3;
        }
        if decoded == b"." || decoded == b".." {
            return Err(NonCanonical::DotSegment);
        }
    }
    Ok(())
}

/// Middleware: refuses a request whose path is not canonical (400 `NON_CANONICAL_PATH`).
pub async fn canonical_paths_only(request: Request, next: Next) -> Response<Body> {
    match check_canonical(request.uri().path()) {
        Ok(()) => next.run(request).await,
        Err(reason) => {
            tracing::info!(%reason, "refused a non-canonical path");
            crate::proxy::error(
                StatusCode::BAD_REQUEST,
                "NON_CANONICAL_PATH",
                &format!("The request path is not in canonical form: {reason}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_and_needed_escapes_are_canonical() {
        for path in [
            "/tools/admin_report",
            "/mcp",
            "/tools/a%2Fb",
            "/tools/a%20b",
            "/t/%C3%A9",
        ] {
            assert_eq!(check_canonical(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn each_non_canonical_form_is_named() {
        for (path, reason) in [
            ("/tools/admin%5Freport", NonCanonical::NeedlessEscape),
            ("/tools/%61dmin_report", NonCanonical::NeedlessEscape),
            ("/tools/a%2fb", NonCanonical::LowerCaseEscape),
            ("/tools/a%2", NonCanonical::MalformedEscape),
            ("/tools/a%zz", NonCanonical::MalformedEscape),
            ("/tools/..", NonCanonical::DotSegment),
            ("/tools/.", NonCanonical::DotSegment),
            ("/tools/%2E%2E", NonCanonical::NeedlessEscape),
            ("/tools//x", NonCanonical::EmptySegment),
            ("/tools/", NonCanonical::EmptySegment),
            ("tools", NonCanonical::EmptySegment),
        ] {
            assert_eq!(check_canonical(path), Err(reason), "{path}");
        }
    }

    /// Every spelling of a tool name with at least one escaped character.
    fn escaped_spellings(name: &'static str) -> impl Strategy<Value = String> {
        let chars = name.len();
        (
            proptest::collection::vec((any::<bool>(), any::<bool>()), chars),
            0..chars,
        )
            .prop_map(move |(choices, forced)| {
                let mut out = String::new();
                for (i, (byte, (escape, lower))) in name.bytes().zip(choices).enumerate() {
                    if escape || i == forced {
                        let hex = format!("%{byte:02X}");
                        out.push_str(&if lower { hex.to_lowercase() } else { hex });
                    } else {
                        out.push(char::from(byte));
                    }
                }
                out
            })
    }

    proptest! {
        #[test]
        fn every_escaped_spelling_of_a_tool_name_is_refused(spelling in escaped_spellings("admin_report")) {
            prop_assert!(check_canonical(&format!("/tools/{spelling}")).is_err(), "{spelling}");
        }
    }
}
