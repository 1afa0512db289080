//! The verified-token cache: a client that repeats its token pays the signature cost once.

use std::time::Duration;

use aws_lc_rs::digest;

use crate::token::AccessToken;

/// Verified tokens by the SHA-256 of the whole token, bounded in entries.
///
/// The key is a collision-resistant hash, so two different tokens can never share an entry; the
/// token itself is not kept. Entries are valid until the token's `exp`: the bearer layer checks
/// `exp`/`nbf` on every hit and drops an entry that has expired.
#[derive(Debug)]
pub(crate) struct TokenCache {
    entries: quick_cache::sync::Cache<[u8; 32], AccessToken>,
}

/// The cache key of a token.
pub(crate) type TokenKey = [u8; 32];

impl TokenCache {
    /// A cache holding at most `capacity` tokens (least recently and least frequently used go
    /// first).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity.max(1)),
        }
    }

    /// The key of `token`.
    pub(crate) fn key(token: &[u8]) -> TokenKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, token).as_ref());
        key
    }

    /// The cached claims of a token, if any.
    pub(crate) fn get(&self, key: &TokenKey) -> Option<AccessToken> {
        let found = self.entries.get(key);
        crate::metrics::token_cache(found.is_some());
        found
    }

    /// Remembers a verified token.
    pub(crate) fn insert(&self, key: TokenKey, token: AccessToken) {
        self.entries.insert(key, token);
    }

    /// Forgets a token (it expired).
    pub(crate) fn remove(&self, key: &TokenKey) {
        self.entries.remove(key);
    }

    /// How many tokens are cached.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Seconds since the Unix epoch, as JWT time claims count.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(sub: &str) -> AccessToken {
        AccessToken::from_claims(serde_json::json!({
            "iss": "i", "sub": sub, "aud": "a", "exp": 10
        }))
        .unwrap()
    }

    #[test]
    fn bounded_in_entries() {
        let cache = TokenCache::new(100);
        for i in 0..1000 {
            cache.insert(TokenCache::key(format!("t{i}").as_bytes()), token("s"));
        }
        assert!(cache.len() <= 100, "{}", cache.len());
    }

    #[test]
    fn keys_differ_per_token() {
        let cache = TokenCache::new(10);
        cache.insert(TokenCache::key(b"a.b.c"), token("first"));
        assert_eq!(
            cache.get(&TokenCache::key(b"a.b.c")).unwrap().subject(),
            "first"
        );
        assert!(cache.get(&TokenCache::key(b"a.b.d")).is_none());
    }
}
