//! `WWW-Authenticate` and gRPC answers for arbitrary realms, descriptions, operations and
//! scopes (tool names and URIs reach error answers from request bodies).
//!
//! Input: fields separated by `\n`: realm, description, then scopes. Checks: the header always
//! parses back as exactly one `Bearer` challenge whose `error_description` and `scope` are RFC
//! 6750 clean and whose realm survives when printable; the gRPC `grpc-message` always exists and
//! percent-decodes to `CODE: description`.
#![no_main]

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use tower_mcp_auth::challenge::{AuthError, Challenge, ErrorCode};

/// Parses `Bearer name="value", name="value"` (RFC 9110 §11.2, quoted-string values only, as
/// the challenge writes them); `None` when the text is anything else, e.g. two challenges.
fn parse_challenge(value: &str) -> Option<Vec<(String, String)>> {
    let mut chars = value.strip_prefix("Bearer")?.chars().peekable();
    let mut params = Vec::new();
    while chars.peek().is_some() {
        if !params.is_empty() && chars.next()? != ',' {
            return None;
        }
        if chars.next()? != ' ' {
            return None;
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=') {
            if !(c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            name.push(c);
        }
        if name.is_empty() || chars.next()? != '=' || chars.next()? != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => value.push(chars.next()?),
                c if c == ' ' || c.is_ascii_graphic() => value.push(c),
                _ => return None,
            }
        }
        params.push((name, value));
    }
    Some(params)
}

fn rfc6750_clean(value: &str) -> bool {
    value
        .bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

fn percent_decode(value: &str) -> Option<Vec<u8>> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.split('\n');
    let realm = fields.next().unwrap_or_default().to_owned();
    let description = fields.next().unwrap_or_default().to_owned();
    let scopes: Vec<String> = fields.map(str::to_owned).collect();

    // A realm with `"` or `\` is refused when the challenge is built.
    let Ok(challenge) = Challenge::new().realm(realm.clone()) else {
        assert!(realm.contains(['"', '\\']), "{realm:?} refused");
        return;
    };
    let challenge = challenge
        .resource_metadata("https://rs.example/.well-known/oauth-protected-resource")
        .scope_hint(&scopes);
    let errors = [
        AuthError::new(ErrorCode::MalformedToken, description.clone()),
        AuthError::new(ErrorCode::TokenExpired, description.clone()),
        AuthError::insufficient_scope(description.clone(), scopes.clone(), scopes.clone()),
        AuthError::new(ErrorCode::BodyUnreadable, description.clone()),
        AuthError::missing_token(),
    ];
    let mut grpc_request = HeaderMap::new();
    grpc_request.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );

    for error in &errors {
        let value = challenge.www_authenticate(error);
        let text = value.to_str().expect("visible ASCII");
        let params = parse_challenge(text).unwrap_or_else(|| panic!("unparsable: {text}"));
        assert_eq!(params[0].0, "realm");
        assert_eq!(params[1].0, "resource_metadata");
        if realm.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            assert_eq!(params[0].1, realm);
        }
        let mut names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "repeated attribute in {text}");
        for (name, value) in &params {
            if name == "error_description" || name == "scope" {
                assert!(rfc6750_clean(value), "{name} = {value:?}");
            }
        }

        let grpc = challenge.response::<()>(error, &grpc_request);
        let message = grpc
            .headers()
            .get("grpc-message")
            .expect("grpc-message is always set")
            .to_str()
            .expect("visible ASCII");
        let decoded = percent_decode(message).expect("well-formed percent-encoding");
        assert_eq!(
            decoded,
            format!("{}: {}", error.code().as_str(), error.description()).into_bytes()
        );
    }
});
