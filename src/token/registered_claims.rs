//! One pass over a token's claims JSON that keeps only the registered claims an
//! [`AccessToken`](crate::AccessToken) answers from, and checks every other claim without
//! building it (no `Map`, no allocation for custom claims).
//!
//! Other claims are read as [`Checked`]: every string is decoded and every number parsed as a
//! `serde_json::Value` would be, so JSON that a `Map` would refuse (a lone surrogate escape, a
//! number beyond `f64`) is refused here too, and [`claims()`](crate::AccessToken::claims) can
//! always build its `Map` later.
//!
//! Each claim is read into a [`Claim`] that records its JSON shape, so a wrong type is reported
//! by the caller naming the claim (`MISSING_CLAIM`, "no valid `aud` claim"), exactly as a lookup
//! in a parsed `Map` would. A repeated name keeps its last value, as `serde_json::Map` does, so
//! these claims always agree with [`claims()`](crate::AccessToken::claims).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// The JSON shape of one registered claim, keeping what can be used.
#[derive(Debug, Default)]
pub(crate) enum Claim<'a> {
    /// The claim is absent.
    #[default]
    Absent,
    Null,
    Str(Cow<'a, str>),
    /// A non-negative integer.
    Unsigned(u64),
    /// Any other number (negative, fractional or beyond `u64`).
    Float(f64),
    /// An array: its string items, `None` for items of another type.
    List(Vec<Option<Cow<'a, str>>>),
    /// An object or a boolean.
    Other,
}

/// The claims [`AccessToken`](crate::AccessToken) answers from.
#[derive(Debug, Default)]
pub(crate) struct RegisteredClaims<'a> {
    pub(crate) iss: Claim<'a>,
    pub(crate) sub: Claim<'a>,
    pub(crate) aud: Claim<'a>,
    pub(crate) exp: Claim<'a>,
    pub(crate) nbf: Claim<'a>,
    pub(crate) iat: Claim<'a>,
    pub(crate) client_id: Claim<'a>,
    pub(crate) azp: Claim<'a>,
    pub(crate) scope: Claim<'a>,
    pub(crate) permissions: Claim<'a>,
}

impl<'a> RegisteredClaims<'a> {
    /// Reads `json`, which must be one JSON object and nothing else.
    pub(crate) fn parse(json: &'a str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

impl<'de> de::Deserialize<'de> for RegisteredClaims<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ClaimsVisitor)
    }
}

struct ClaimsVisitor;

impl<'de> Visitor<'de> for ClaimsVisitor {
    type Value = RegisteredClaims<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut claims = RegisteredClaims::default();
        while let Some(name) = map.next_key::<Name>()? {
            let slot = match name {
                Name::Iss => &mut claims.iss,
                Name::Sub => &mut claims.sub,
                Name::Aud => &mut claims.aud,
                Name::Exp => &mut claims.exp,
                Name::Nbf => &mut claims.nbf,
                Name::Iat => &mut claims.iat,
                Name::ClientId => &mut claims.client_id,
                Name::Azp => &mut claims.azp,
                Name::Scope => &mut claims.scope,
                Name::Permissions => &mut claims.permissions,
                Name::Other => {
                    map.next_value::<Checked>()?;
                    continue;
                }
            };
            *slot = map.next_value()?;
        }
        Ok(claims)
    }
}

/// A claim's name, matched on its decoded text and not kept: a token has a dozen claims, and a
/// `String` per name would be a dozen allocations per verified token.
enum Name {
    Iss,
    Sub,
    Aud,
    Exp,
    Nbf,
    Iat,
    ClientId,
    Azp,
    Scope,
    Permissions,
    Other,
}

impl<'de> de::Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(NameVisitor)
    }
}

struct NameVisitor;

impl Visitor<'_> for NameVisitor {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a claim name")
    }

    fn visit_str<E>(self, name: &str) -> Result<Name, E> {
        Ok(match name {
            "iss" => Name::Iss,
            "sub" => Name::Sub,
            "aud" => Name::Aud,
            "exp" => Name::Exp,
            "nbf" => Name::Nbf,
            "iat" => Name::Iat,
            "client_id" => Name::ClientId,
            "azp" => Name::Azp,
            "scope" => Name::Scope,
            "permissions" => Name::Permissions,
            _ => Name::Other,
        })
    }
}

impl<'de> de::Deserialize<'de> for Claim<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ClaimVisitor)
    }
}

struct ClaimVisitor;

impl<'de> Visitor<'de> for ClaimVisitor {
    type Value = Claim<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Claim::Null)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Claim::Other)
    }
    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Claim::Unsigned(n))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(match u64::try_from(n) {
            Ok(n) => Claim::Unsigned(n),
            Err(_) => Claim::Float(n as f64),
        })
    }
    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Claim::Float(n))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Claim::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Claim::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Claim::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<ListItem<'de>>()? {
            items.push(item.0);
        }
        Ok(Claim::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Claim::Other)
    }
}

/// Any JSON value, checked as `serde_json::Value` would check it, and dropped.
///
/// (`serde::de::IgnoredAny` is cheaper but lets through what a `Value` refuses: serde_json skips
/// strings and numbers without decoding them.)
struct Checked;

impl<'de> de::Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Checked)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// An array item: a string, or anything else (skipped without being built).
struct ListItem<'a>(Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for ListItem<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Claim::deserialize(deserializer)? {
            Claim::Str(s) => ListItem(Some(s)),
            _ => ListItem(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_registered_claims_and_skips_the_rest() {
        let claims = RegisteredClaims::parse(
            r#"{"iss":"i","x":{"deep":[1,{"a":null}]},"aud":["a",1,"b"],"exp":5,"nbf":-1,
               "iat":2.5,"scope":null,"permissions":{"no":"list"}}"#,
        )
        .unwrap();
        assert!(matches!(claims.iss, Claim::Str(ref s) if s == "i"));
        assert!(matches!(claims.sub, Claim::Absent));
        assert!(
            matches!(claims.aud, Claim::List(ref l) if l.len() == 3 && l[1].is_none() && l[2].as_deref() == Some("b"))
        );
        assert!(matches!(claims.exp, Claim::Unsigned(5)));
        assert!(matches!(claims.nbf, Claim::Float(f) if f == -1.0));
        assert!(matches!(claims.iat, Claim::Float(f) if f == 2.5));
        assert!(matches!(claims.scope, Claim::Null));
        assert!(matches!(claims.permissions, Claim::Other));
    }

    #[test]
    fn a_repeated_claim_keeps_its_last_value_like_a_map() {
        let json = r#"{"sub":"first","sub":"last"}"#;
        let claims = RegisteredClaims::parse(json).unwrap();
        assert!(matches!(claims.sub, Claim::Str(ref s) if s == "last"));
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
        assert_eq!(map["sub"], "last");
    }

    #[test]
    fn escaped_names_and_values_are_decoded() {
        let claims = RegisteredClaims::parse(r#"{"s\u0075b":"a\"b"}"#).unwrap();
        assert!(matches!(claims.sub, Claim::Str(ref s) if s == "a\"b"));
    }

    #[test]
    fn what_a_map_refuses_is_refused() {
        for json in [
            r#"{"x":"\ud800"}"#,
            r#"{"x":{"y":["\udc00"]}}"#,
            r#"{"x":1e999}"#,
            r#"{"aud":[1e999]}"#,
            r#"{"x":{"\ud800":1}}"#,
        ] {
            assert!(
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json).is_err()
            );
            assert!(RegisteredClaims::parse(json).is_err(), "{json}");
        }
        let nested = format!("{{\"x\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(serde_json::from_str::<serde_json::Value>(&nested).is_err());
        assert!(RegisteredClaims::parse(&nested).is_err());
    }

    #[test]
    fn only_one_object_is_accepted() {
        for json in ["[1]", "\"s\"", "{} {}", "{\"a\":1", ""] {
            assert!(RegisteredClaims::parse(json).is_err(), "{json}");
        }
    }
}
