//! [`Algorithm`]: the JWS signature algorithms an access token may be verified with.
//!
//! Only asymmetric algorithms exist here: `none` and the HMAC family (`HS256` …) cannot even be
//! named, so a configuration can never allow them (RFC 8725 §3.1, §3.2).

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{self, RsaParameters, VerificationAlgorithm};

/// A JWS signature algorithm (RFC 7518 §3, RFC 8037 §3.1) a [`JwksVerifier`] may accept.
///
/// The string forms are the JOSE `alg` names, which are case-sensitive (RFC 7515 §4.1.1).
///
/// ```
/// use tower_mcp_auth::token::Algorithm;
///
/// assert_eq!("PS256".parse::<Algorithm>().unwrap(), Algorithm::PS256);
/// assert_eq!(Algorithm::EdDSA.as_str(), "EdDSA");
/// // Symmetric and unsigned tokens have no name here at all.
/// assert!("HS256".parse::<Algorithm>().is_err());
/// assert!("none".parse::<Algorithm>().is_err());
/// ```
///
/// [`JwksVerifier`]: crate::token::JwksVerifier
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: Auth0's and most issuers' default.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 (Auth0 offers it; Okta and Keycloak too).
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA with Ed25519 (RFC 8037).
    EdDSA,
}

/// The kind of key an algorithm needs; the key, never the token, decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    /// An EC key on this curve (`crv` of the JWK).
    Ec(&'static str),
    /// An Ed25519 key (`kty` OKP, `crv` Ed25519).
    Ed25519,
}

impl Algorithm {
    /// Every algorithm, in the order of RFC 7518's table.
    pub const ALL: [Algorithm; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The JOSE `alg` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// True when the signature is made over the SHA-256 of the signing input, so a digest of it
    /// computed beforehand can be checked instead of the bytes.
    pub(crate) const fn signs_sha256(self) -> bool {
        matches!(self, Self::RS256 | Self::PS256 | Self::ES256)
    }

    pub(crate) const fn key_kind(self) -> KeyKind {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyKind::Rsa
            }
            Self::ES256 => KeyKind::Ec("P-256"),
            Self::ES384 => KeyKind::Ec("P-384"),
            Self::EdDSA => KeyKind::Ed25519,
        }
    }

    /// The RSA parameters, for RSA algorithms (2048-bit keys at least, as RFC 7518 §3.3 asks).
    pub(crate) fn rsa_parameters(self) -> Option<&'static RsaParameters> {
        Some(match self {
            Self::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    /// The verification algorithm for EC and Ed25519 keys (JWS ECDSA signatures are the fixed
    /// `r || s` form, RFC 7518 §3.4).
    pub(crate) fn point_verification(self) -> Option<&'static dyn VerificationAlgorithm> {
        Some(match self {
            Self::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Self::EdDSA => &signature::ED25519,
            _ => return None,
        })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string names no [`Algorithm`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct UnknownAlgorithm {
    reason: String,
}

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if let Some(alg) = Self::ALL.into_iter().find(|a| a.as_str() == name) {
            return Ok(alg);
        }
        let shown: String = name.chars().take(32).collect();
        let reason = if name.eq_ignore_ascii_case("none") {
            "unsigned tokens (alg `none`) are never accepted".to_owned()
        } else if name.len() == 5 && name.starts_with("HS") {
            format!(
                "`{shown}` is an HMAC algorithm: a shared secret never verifies access tokens \
                 (only asymmetric signatures do)"
            )
        } else {
            let known: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
            format!("unknown algorithm `{shown}`; known: {}", known.join(", "))
        };
        Err(UnknownAlgorithm { reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
            assert_eq!(alg.to_string(), alg.as_str());
        }
        assert!("rs256".parse::<Algorithm>().is_err());
    }

    #[test]
    fn hmac_and_none_are_refused_with_the_reason() {
        let hmac = "HS256".parse::<Algorithm>().unwrap_err().to_string();
        assert!(hmac.contains("HMAC"), "{hmac}");
        let none = "None".parse::<Algorithm>().unwrap_err().to_string();
        assert!(none.contains("never"), "{none}");
        let other = "XX1".parse::<Algorithm>().unwrap_err().to_string();
        assert!(other.contains("RS256"), "{other}");
    }

    #[test]
    fn every_algorithm_has_its_verification() {
        for alg in Algorithm::ALL {
            let has = alg.rsa_parameters().is_some() || alg.point_verification().is_some();
            assert!(has, "{alg}");
            assert_eq!(
                alg.rsa_parameters().is_some(),
                alg.key_kind() == KeyKind::Rsa
            );
        }
    }
}
