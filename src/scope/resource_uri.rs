//! Resource URIs compared as a server resolving them would: after RFC 3986 §6.2.2 syntax-based
//! normalisation (scheme and host lower-cased, percent-escapes of unreserved characters decoded
//! and the others upper-cased, `.` and `..` segments removed).
//!
//! A server may also decode what normalisation keeps encoded (`%2F` to `/`, in a file path or a
//! template parameter) or read `\` as `/`. So a URI with such characters is also read that way,
//! and the rules matching either reading apply: the guard never asks for fewer scopes than the
//! resource the server may open needs.

use std::borrow::Cow;

/// The readings of `uri` that resource rules are matched against: its normalised form and,
/// when it holds escapes that stay encoded or a backslash, its fully decoded normalised form.
pub(crate) fn readings(uri: &str) -> (Cow<'_, str>, Option<String>) {
    let normal = normalize(uri);
    let decoded = (normal.contains('%') || normal.contains('\\')).then(|| {
        let bytes = percent_decode(normal.as_bytes(), |_| true);
        let text = String::from_utf8_lossy(&bytes).replace('\\', "/");
        normalize(&text).into_owned()
    });
    (normal, decoded)
}

/// RFC 3986 §6.2.2 normalisation; borrowed when `uri` is already normal.
pub(crate) fn normalize(uri: &str) -> Cow<'_, str> {
    if is_normal(uri) {
        return Cow::Borrowed(uri);
    }
    let decoded = percent_decode(uri.as_bytes(), is_unreserved);
    let uri = String::from_utf8_lossy(&decoded);
    let (scheme, rest) = split_scheme(&uri);
    let mut out = String::with_capacity(uri.len());
    let rest = match scheme {
        Some(scheme) => {
            out.push_str(&scheme.to_ascii_lowercase());
            out.push(':');
            rest
        }
        None => rest,
    };
    let (authority, path_and_more) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            (Some(&after[..end]), &after[end..])
        }
        None => (None, rest),
    };
    if let Some(authority) = authority {
        out.push_str("//");
        // The host is what follows the userinfo; the port is digits, unchanged by lower-casing.
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(&authority[..=at]);
                out.push_str(&authority[at + 1..].to_ascii_lowercase());
            }
            None => out.push_str(&authority.to_ascii_lowercase()),
        }
    }
    let path_end = path_and_more
        .find(['?', '#'])
        .unwrap_or(path_and_more.len());
    out.push_str(&remove_dot_segments(&path_and_more[..path_end]));
    out.push_str(&path_and_more[path_end..]);
    Cow::Owned(out)
}

/// True when normalising would change nothing: lower-case scheme and host, no escape, no dot
/// segment. Most URIs a client sends are, so the common case allocates nothing.
fn is_normal(uri: &str) -> bool {
    if uri.contains('%') {
        return false;
    }
    let (scheme, rest) = split_scheme(uri);
    if scheme.is_some_and(|s| s.bytes().any(|b| b.is_ascii_uppercase())) {
        return false;
    }
    let path = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            let host = after[..end].rsplit('@').next().unwrap_or_default();
            if host.bytes().any(|b| b.is_ascii_uppercase()) {
                return false;
            }
            &after[end..]
        }
        None => rest,
    };
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    !path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
}

/// `scheme` and the rest, when `uri` starts with a valid scheme (RFC 3986 §3.1).
fn split_scheme(uri: &str) -> (Option<&str>, &str) {
    let Some(colon) = uri.find(':') else {
        return (None, uri);
    };
    let scheme = &uri[..colon];
    let valid = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if valid {
        (Some(scheme), &uri[colon + 1..])
    } else {
        (None, uri)
    }
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Decodes the `%XX` escapes whose byte `decode` accepts; upper-cases the hex of the others.
fn percent_decode(input: &[u8], decode: impl Fn(u8) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let escape = (input[i] == b'%')
            .then(|| Some((hex(*input.get(i + 1)?)?, hex(*input.get(i + 2)?)?)))
            .flatten();
        match escape {
            Some((high, low)) => {
                let byte = high << 4 | low;
                if decode(byte) {
                    out.push(byte);
                } else {
                    out.push(b'%');
                    out.extend(input[i + 1..i + 3].iter().map(u8::to_ascii_uppercase));
                }
                i += 3;
            }
            None => {
                out.push(input[i]);
                i += 1;
            }
        }
    }
    out
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).map(|d| d as u8)
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> Cow<'_, str> {
    if !path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Cow::Borrowed(path);
    }
    let mut input = path;
    let mut output = String::with_capacity(path.len());
    let pop = |output: &mut String| {
        let cut = output.rfind('/').unwrap_or(0);
        output.truncate(cut);
    };
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") {
            input = &input[3..];
            pop(&mut output);
        } else if input == "/.." {
            input = "/";
            pop(&mut output);
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            output.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    Cow::Owned(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_and_host_case_escapes_and_dot_segments_are_normalised() {
        for (raw, normal) in [
            ("file:///private/x", "file:///private/x"),
            ("FILE:///private/x", "file:///private/x"),
            ("file:///%70rivate/x", "file:///private/x"),
            ("file:///public/../private/x", "file:///private/x"),
            ("file:///public/./../private/./x", "file:///private/x"),
            ("file:///a/%2e%2e/private/x", "file:///private/x"),
            (
                "HTTPS://User@Example.COM:8443/A/b",
                "https://User@example.com:8443/A/b",
            ),
            ("db://Tables/../secret?q=%7e#f", "db://tables/secret?q=~#f"),
            ("file:///a%2fb", "file:///a%2Fb"),
            ("urn:x:%41", "urn:x:A"),
            ("file:///../../etc", "file:///etc"),
            ("not a uri", "not a uri"),
            ("%zz", "%zz"),
        ] {
            assert_eq!(normalize(raw), normal, "{raw}");
        }
    }

    #[test]
    fn normal_uris_are_borrowed() {
        assert!(matches!(normalize("file:///a/b.txt"), Cow::Borrowed(_)));
        assert!(matches!(
            normalize("https://example.com/a?x=1"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn encoded_separators_are_also_read_decoded() {
        let (normal, decoded) = readings("file:///public/..%2Fprivate/x");
        assert_eq!(normal, "file:///public/..%2Fprivate/x");
        assert_eq!(decoded.as_deref(), Some("file:///private/x"));
        let (_, decoded) = readings("file:///public\\..\\private\\x");
        assert_eq!(decoded.as_deref(), Some("file:///private/x"));
        assert_eq!(readings("file:///a").1, None);
    }
}
