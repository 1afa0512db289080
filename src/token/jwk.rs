//! Reading a JWKS document (RFC 7517) into verification keys, each parsed once per algorithm it
//! may verify, so no signature check ever rebuilds a key.
//!
//! A key is kept only for the algorithms the verifier accepts, of the key's own kind (RSA, EC
//! curve, Ed25519) and, when the JWK names an `alg`, that one alone (RFC 8725 §3.1: the key
//! decides). Encryption keys, symmetric keys and keys with bad parameters are skipped with a log
//! line, never fatal: one odd key must not stop the others from working.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::token::algorithm::{Algorithm, KeyKind};

/// A verification key, parsed for every algorithm it may verify.
pub(crate) struct VerifyKey {
    /// The JWK's `kid`; `None` for the single key of a JWKS that names none.
    pub(crate) kid: Option<String>,
    /// One parsed key per accepted algorithm (a handful at most: a short scan beats a map).
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
    /// The SHA-256 of the key's public parameters: a key published again under the same `kid`
    /// is the same key only if this matches.
    pub(crate) fingerprint: [u8; 32],
}

/// The outcome of checking one signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureCheck {
    Valid,
    Invalid,
    /// This key does not sign with that algorithm (other kind, or its JWK pins another `alg`).
    WrongAlgorithm,
}

impl VerifyKey {
    /// Checks `signature` (base64url) over `message` with `alg`; over `message_sha256` instead,
    /// when it is given (the SHA-256 of `message`) and `alg` signs a SHA-256 digest.
    pub(crate) fn check(
        &self,
        alg: Algorithm,
        message: &[u8],
        message_sha256: Option<&digest::Digest>,
        signature: &str,
    ) -> SignatureCheck {
        let Some((_, key)) = self.verifiers.iter().find(|(a, _)| *a == alg) else {
            return SignatureCheck::WrongAlgorithm;
        };
        // Decoded on the stack: 1024 bytes hold an 8192-bit RSA signature, the largest accepted.
        let mut decoded = [0u8; 1024];
        let Ok(len) = URL_SAFE_NO_PAD.decode_slice(signature, &mut decoded) else {
            return SignatureCheck::Invalid;
        };
        let signature = &decoded[..len];
        let verified = match message_sha256 {
            Some(digest) if alg.signs_sha256() => key.verify_digest_sig(digest, signature),
            _ => key.verify_sig(message, signature),
        };
        if verified.is_ok() {
            SignatureCheck::Valid
        } else {
            SignatureCheck::Invalid
        }
    }

    /// The algorithms this key verifies.
    #[cfg(test)]
    pub(crate) fn algorithms(&self) -> Vec<Algorithm> {
        self.verifiers.iter().map(|(a, _)| *a).collect()
    }
}

/// The keys of one JWKS document.
#[derive(Default)]
pub(crate) struct KeySet {
    /// Filled from the issuer's document only, so a `kid` a token names is only looked up: a
    /// fast seeded hash (foldhash) instead of SipHash, as the policy's tables use.
    pub(crate) by_kid: HashMap<String, Arc<VerifyKey>, foldhash::fast::RandomState>,
    /// The key, when the document holds exactly one signing key: tokens without `kid` may use it.
    pub(crate) sole: Option<Arc<VerifyKey>>,
    /// How many signing keys the document holds (with or without `kid`).
    pub(crate) len: usize,
}

impl KeySet {
    /// How many keys a token can choose: those with a `kid`, or the sole key without one.
    pub(crate) fn usable(&self) -> usize {
        match &self.sole {
            Some(sole) if sole.kid.is_none() => 1,
            _ => self.by_kid.len(),
        }
    }
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Parses a JWKS document, keeping each usable signing key for the `accepted` algorithms.
pub(crate) fn parse_key_set(bytes: &[u8], accepted: &[Algorithm]) -> Result<KeySet, String> {
    #[derive(Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let document: Document =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = Vec::new();
    for raw in document.keys {
        let jwk: Jwk = match serde_json::from_value(raw) {
            Ok(jwk) => jwk,
            Err(error) => {
                tracing::warn!(reason = %error, "skipping an unreadable JWKS key");
                continue;
            }
        };
        if jwk.usage.as_deref().is_some_and(|u| u != "sig") {
            continue; // an encryption key
        }
        match parse_key(&jwk, accepted) {
            Ok(key) => keys.push(Arc::new(key)),
            Err(reason) => tracing::warn!(kid = jwk.kid.as_deref(), reason = %reason,
                "skipping a JWKS key"),
        }
    }
    let mut set = KeySet {
        len: keys.len(),
        sole: (keys.len() == 1).then(|| Arc::clone(&keys[0])),
        by_kid: HashMap::with_capacity_and_hasher(keys.len(), Default::default()),
    };
    for key in keys {
        match &key.kid {
            Some(kid) => {
                set.by_kid.insert(kid.clone(), key);
            }
            None if set.len > 1 => tracing::warn!(
                "a JWKS key without `kid` among several keys can never be chosen; skipping it"
            ),
            None => {}
        }
    }
    Ok(set)
}

fn parse_key(jwk: &Jwk, accepted: &[Algorithm]) -> Result<VerifyKey, String> {
    let pinned = jwk
        .alg
        .as_deref()
        .map(|alg| alg.parse::<Algorithm>().map_err(|e| e.to_string()))
        .transpose()?;
    let kind = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => KeyKind::Rsa,
        ("EC", Some("P-256")) => KeyKind::Ec("P-256"),
        ("EC", Some("P-384")) => KeyKind::Ec("P-384"),
        ("OKP", Some("Ed25519")) => KeyKind::Ed25519,
        (kty, crv) => return Err(format!("unsupported key type {kty} {}", crv.unwrap_or(""))),
    };
    if pinned.is_some_and(|alg| alg.key_kind() != kind) {
        return Err(format!("its alg {pinned:?} does not fit a {kind:?} key"));
    }
    let field = |name: &str, value: &Option<String>| -> Result<Vec<u8>, String> {
        let value = value.as_deref().ok_or_else(|| format!("no `{name}`"))?;
        URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|_| format!("`{name}` is not base64url"))
    };
    let mut verifiers = Vec::new();
    let usable = accepted
        .iter()
        .copied()
        .filter(|alg| alg.key_kind() == kind && pinned.is_none_or(|p| p == *alg));
    match kind {
        KeyKind::Rsa => {
            // aws-lc wants big-endian integers without leading zero bytes.
            let strip = |b: Vec<u8>| match b.iter().position(|x| *x != 0) {
                Some(i) => Ok(b[i..].to_vec()),
                None => Err("a zero RSA parameter".to_owned()),
            };
            let components = RsaPublicKeyComponents {
                n: strip(field("n", &jwk.n)?)?,
                e: strip(field("e", &jwk.e)?)?,
            };
            // RFC 7518 §3.3: 2048 bits at least (aws-lc would only refuse at the first verify).
            if components.n.len() < 256 {
                return Err("an RSA key under 2048 bits".to_owned());
            }
            for alg in usable {
                let Some(parameters) = alg.rsa_parameters() else {
                    continue;
                };
                let parsed = components
                    .to_parsed_public_key(parameters)
                    .map_err(|_| "bad RSA parameters (or a key under 2048 bits)".to_owned())?;
                verifiers.push((alg, parsed));
            }
        }
        KeyKind::Ec(_) | KeyKind::Ed25519 => {
            let bytes = match kind {
                KeyKind::Ed25519 => field("x", &jwk.x)?,
                _ => {
                    // The uncompressed point (SEC 1 §2.3.3): 0x04 || x || y.
                    let (x, y) = (field("x", &jwk.x)?, field("y", &jwk.y)?);
                    let mut point = Vec::with_capacity(1 + x.len() + y.len());
                    point.push(4);
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    point
                }
            };
            for alg in usable {
                let Some(verification) = alg.point_verification() else {
                    continue;
                };
                let parsed = ParsedPublicKey::new(verification, &bytes)
                    .map_err(|_| format!("bad {kind:?} key parameters"))?;
                verifiers.push((alg, parsed));
            }
        }
    }
    let described = format!(
        "{}\0{}\0{}\0{}\0{}\0{}",
        jwk.kty,
        jwk.crv.as_deref().unwrap_or(""),
        jwk.n.as_deref().unwrap_or(""),
        jwk.e.as_deref().unwrap_or(""),
        jwk.x.as_deref().unwrap_or(""),
        jwk.y.as_deref().unwrap_or("")
    );
    let mut fingerprint = [0u8; 32];
    fingerprint.copy_from_slice(digest::digest(&digest::SHA256, described.as_bytes()).as_ref());
    Ok(VerifyKey {
        kid: jwk.kid.clone(),
        verifiers,
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_N: &str = "qjNzuylUQpyU9qX3_bMGpiRUO1G_xKbB0fyqQy0naETviHIqPS2D3lGcfK9XIFLZOq1O7K2KRXEE5nSDTf-S9qc0nPRkS38CXK4DBKPTBXtjufLK3e9lN9dh8Ehazx8xNmdCc6aocVKKlamOJv7Qr_UgmoFllq7W-UQ0YK2qfN8WgqxOQUPrss-40RWslCAKpjZmMOpIpRXQLGmR-GGZUdQZXnTUhnhRyDz5VcXHH--o1PkH_F0rlabMxgNFfsCIWKWbGy8G89bNrvoeVKq15QPCeaGBV13f2Do6XHGt0l2M3eYz85wyz1pISvjQuR4PrtJr6VsuHz3Puh_KgY8GqQ";

    #[test]
    fn odd_keys_are_skipped_not_fatal() {
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "good", "alg": "RS256", "use": "sig", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": RSA_N, "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "weird-alg", "alg": "XX999", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "hs-alg", "alg": "HS256", "n": RSA_N, "e": "AQAB"},
            {"kty": "EC", "kid": "rsa-alg", "alg": "RS256", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "short", "n": "AQAB", "e": "AQAB"},
            "not an object"
        ]});
        let keys = parse_key_set(doc.to_string().as_bytes(), &[Algorithm::RS256]).unwrap();
        assert_eq!(keys.by_kid.keys().collect::<Vec<_>>(), ["good"]);
        assert_eq!(keys.by_kid["good"].algorithms(), [Algorithm::RS256]);
        assert_eq!(keys.len, 1);
        assert!(keys.sole.is_some());
    }

    #[test]
    fn a_key_is_parsed_for_each_accepted_algorithm_of_its_kind_unless_its_alg_pins_one() {
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "free", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "pinned", "alg": "PS384", "n": RSA_N, "e": "AQAB"},
        ]});
        let accepted = [Algorithm::RS256, Algorithm::PS384, Algorithm::ES256];
        let keys = parse_key_set(doc.to_string().as_bytes(), &accepted).unwrap();
        assert_eq!(
            keys.by_kid["free"].algorithms(),
            [Algorithm::RS256, Algorithm::PS384]
        );
        assert_eq!(keys.by_kid["pinned"].algorithms(), [Algorithm::PS384]);
        assert!(keys.sole.is_none());
        assert_ne!(keys.by_kid["free"].fingerprint, [0; 32]);
        assert_eq!(
            keys.by_kid["free"].fingerprint,
            keys.by_kid["pinned"].fingerprint
        );
    }

    #[test]
    fn a_single_key_without_kid_is_the_sole_key_and_among_several_is_unreachable() {
        let one = serde_json::json!({"keys": [{"kty": "RSA", "n": RSA_N, "e": "AQAB"}]});
        let keys = parse_key_set(one.to_string().as_bytes(), &[Algorithm::RS256]).unwrap();
        assert!(keys.by_kid.is_empty());
        assert!(keys.sole.is_some_and(|k| k.kid.is_none()));
        let two = serde_json::json!({"keys": [
            {"kty": "RSA", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "k", "n": RSA_N, "e": "AQAB"},
        ]});
        let keys = parse_key_set(two.to_string().as_bytes(), &[Algorithm::RS256]).unwrap();
        assert_eq!(keys.by_kid.keys().collect::<Vec<_>>(), ["k"]);
        assert!(keys.sole.is_none());
        assert_eq!(keys.len, 2);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_key_set(b"<html>", &[Algorithm::RS256]).is_err());
        assert!(parse_key_set(b"{\"keys\": 5}", &[Algorithm::RS256]).is_err());
        assert_eq!(
            parse_key_set(b"{\"keys\": []}", &[Algorithm::RS256])
                .unwrap()
                .len,
            0
        );
    }
}
