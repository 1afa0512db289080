//! The verified-token cache: a client that repeats its token pays the signature cost once.
//!
//! Two tables, both bounded:
//!
//! - the main cache: verified tokens by the SHA-256 of the whole token (10 000 by default). The
//!   key is collision-resistant, so two different tokens never share an entry, and the token
//!   itself is not kept (a cached token costs its claims only, ~1.3 KiB);
//! - the recent-token table: [`RECENT_SLOTS`] slots, each holding one token's bytes and its
//!   [`AccessToken`]. A request whose token is in its slot is answered after one comparison of
//!   the whole token with the stored bytes, in constant time, without hashing the token (the
//!   SHA-256 of a 1 KiB token is ~0.8 µs, more than the rest of a hit). The slot is chosen by a
//!   keyed mix of the token's length and last 16 bytes (for a JWS, signature bytes); only a
//!   verified token is ever stored, so a request can never make another token's slot answer
//!   for it: the full comparison decides.

use std::sync::Mutex;
use std::time::Duration;

use aws_lc_rs::digest;

use crate::token::AccessToken;

/// How many recently used tokens are kept with their bytes: at most ~1.2 KiB each, plus the
/// claims of tokens the main cache has already dropped (bounded by this count too).
pub(crate) const RECENT_SLOTS: usize = 512;

/// Verified tokens, bounded in entries. See the [module docs](self).
///
/// Entries are valid until the token's `exp`: the bearer layer checks `exp`/`nbf` on every hit
/// and drops an entry that has expired.
#[derive(Debug)]
pub(crate) struct TokenCache {
    entries: quick_cache::sync::Cache<[u8; 32], AccessToken>,
    recent: Box<[Mutex<Option<Recent>>]>,
    /// Keys the slot choice, so which tokens share a slot cannot be known from outside.
    seed: u64,
}

/// A token's bytes and its verified claims.
struct Recent {
    token: Box<[u8]>,
    access: AccessToken,
}

impl std::fmt::Debug for Recent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token's bytes: they are a credential.
        f.debug_struct("Recent")
            .field("len", &self.token.len())
            .finish_non_exhaustive()
    }
}

/// The main cache's key of a token.
pub(crate) type TokenKey = [u8; 32];

/// What a lookup found.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// The token was verified before (its source must still vouch for it: the caller checks).
    Hit(AccessToken),
    /// Not cached; the key to insert it under once verified.
    Miss(TokenKey),
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens (least recently and least frequently used go
    /// first).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity.max(1)),
            recent: (0..RECENT_SLOTS.min(capacity.max(1)))
                .map(|_| Mutex::new(None))
                .collect(),
            seed: random_seed(),
        }
    }

    /// The main cache's key of `token`.
    pub(crate) fn key(token: &[u8]) -> TokenKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, token).as_ref());
        key
    }

    /// The token in `token`'s recent slot, if it is that very token (one constant-time
    /// comparison of the whole token, no hash). `None` is no verdict: look in the main cache.
    /// Not counted in the metrics: the caller counts the hit it uses.
    pub(crate) fn recent(&self, token: &[u8]) -> Option<AccessToken> {
        let tail = tail(token);
        lock(&self.recent[self.slot_of(tail, token.len())])
            .as_ref()
            // A slot mostly holds another token: its tail, compared first, tells in one step.
            .filter(|recent| self::tail(&recent.token) == tail && same_bytes(&recent.token, token))
            .map(|recent| recent.access.clone())
    }

    /// Looks `token` up in the main cache by its SHA-256, `key` (after [`recent`](Self::recent)
    /// missed); a hit takes the token's recent slot.
    pub(crate) fn lookup(&self, token: &[u8], key: TokenKey) -> Lookup {
        let found = self.entries.get(&key);
        crate::metrics::token_cache(found.is_some());
        match found {
            Some(access) => {
                *lock(&self.recent[self.slot(token)]) = Some(Recent {
                    token: token.into(),
                    access: access.clone(),
                });
                Lookup::Hit(access)
            }
            None => Lookup::Miss(key),
        }
    }

    /// Remembers a verified token, under `key` ([`TokenCache::key`] of `token`).
    pub(crate) fn insert(&self, key: TokenKey, token: Box<[u8]>, access: AccessToken) {
        self.entries.insert(key, access.clone());
        let slot = &self.recent[self.slot(&token)];
        *lock(slot) = Some(Recent { token, access });
    }

    /// Forgets a token (it expired, or its source no longer vouches for it).
    pub(crate) fn remove(&self, token: &[u8]) {
        let mut slot = lock(&self.recent[self.slot(token)]);
        if slot
            .as_ref()
            .is_some_and(|recent| same_bytes(&recent.token, token))
        {
            *slot = None;
        }
        drop(slot);
        self.entries.remove(&Self::key(token));
    }

    /// How many tokens are cached (in the main cache; every recent token is in it or was).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The recent-token slot of `token`: a keyed mix of its length and last 16 bytes.
    fn slot(&self, token: &[u8]) -> usize {
        self.slot_of(tail(token), token.len())
    }

    /// The recent-token slot of a token of `len` bytes ending in `tail`.
    fn slot_of(&self, tail: u128, len: usize) -> usize {
        let mixed = mix(mix(tail as u64 ^ self.seed) ^ (tail >> 64) as u64 ^ len as u64);
        (mixed % self.recent.len() as u64) as usize
    }
}

/// The last 16 bytes of `token` (zero-padded in front when shorter), as one number.
///
/// Comparing two tails is one comparison of all 16 bytes, with no exit part-way: unequal tails
/// tell an attacker only that their guess of a cached token's 128-bit tail was wrong, never how
/// much of it was right.
fn tail(token: &[u8]) -> u128 {
    // A fixed-size read for every real token; only one under 16 bytes is copied into place.
    if let Some(tail) = token.last_chunk::<16>() {
        return u128::from_le_bytes(*tail);
    }
    let mut tail = [0u8; 16];
    let n = token.len().min(16);
    tail[16 - n..].copy_from_slice(&token[token.len() - n..]);
    u128::from_le_bytes(tail)
}

/// A slot's lock; a panic while it was held cannot leave it half-written (each write is one
/// assignment), so a poisoned lock is used as is.
fn lock(slot: &Mutex<Option<Recent>>) -> std::sync::MutexGuard<'_, Option<Recent>> {
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// True when `a` and `b` are the same bytes, in time that depends on their lengths only: a
/// request's token is compared with a cached one, and how far they agree must not leak.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // A byte-wise OR of differences, with no exit: the compiler makes it vector code.
    let diff = a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y));
    // The optimizer may not turn the fold into an early exit once it cannot see the result.
    std::hint::black_box(diff) == 0
}

/// A 64-bit finalizer (SplitMix64's): every input bit moves every output bit.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A per-cache random seed, from the standard library's randomly keyed hasher.
fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x746f_6b65_6e73_u64)
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

    fn insert(cache: &TokenCache, token: &[u8], sub: &str) {
        cache.insert(TokenCache::key(token), token.into(), self::token(sub));
    }

    fn subject(cache: &TokenCache, token: &[u8]) -> Option<String> {
        if let Some(access) = cache.recent(token) {
            return Some(access.subject().to_owned());
        }
        match cache.lookup(token, TokenCache::key(token)) {
            Lookup::Hit(access) => Some(access.subject().to_owned()),
            Lookup::Miss(key) => {
                assert_eq!(key, TokenCache::key(token));
                None
            }
        }
    }

    #[test]
    fn bounded_in_entries() {
        let cache = TokenCache::new(100);
        for i in 0..1000 {
            insert(&cache, format!("t{i}").as_bytes(), "s");
        }
        assert!(cache.len() <= 100, "{}", cache.len());
        assert!(cache.recent.len() <= 100);
    }

    #[test]
    fn keys_differ_per_token() {
        let cache = TokenCache::new(10);
        insert(&cache, b"a.b.c", "first");
        assert_eq!(subject(&cache, b"a.b.c").as_deref(), Some("first"));
        assert_eq!(subject(&cache, b"a.b.d"), None);
    }

    #[test]
    fn a_token_sharing_a_slot_and_its_tail_is_no_hit() {
        // One slot: every token shares it, and these two share their last 16 bytes and length.
        let cache = TokenCache::new(1);
        let verified = b"header.payload-one.SAME-SIGNATURE-TAIL";
        let other = b"header.payload-two.SAME-SIGNATURE-TAIL";
        insert(&cache, verified, "first");
        assert_eq!(cache.slot(verified), cache.slot(other));
        assert_eq!(subject(&cache, other), None);
        assert_eq!(subject(&cache, verified).as_deref(), Some("first"));
    }

    #[test]
    fn the_recent_slot_answers_for_the_very_token_only() {
        // One slot, so every token below is looked for in the one that holds `verified`.
        let cache = TokenCache::new(1);
        let verified = b"header.payload.signature-of-the-token";
        insert(&cache, verified, "first");
        let subject = |token: &[u8]| cache.recent(token).map(|a| a.subject().to_owned());
        assert_eq!(subject(verified).as_deref(), Some("first"));
        // Another tail, another length, a one-byte change before the tail: none is a hit.
        assert_eq!(subject(b"header.payload.signature-of-the-tokem"), None);
        assert_eq!(subject(b"header.payload.signature-of-the-token."), None);
        assert_eq!(subject(b"Header.payload.signature-of-the-token"), None);
        // Shorter than a tail: padded, still compared whole.
        insert(&cache, b"a.b", "short");
        assert_eq!(subject(b"a.b").as_deref(), Some("short"));
        assert_eq!(subject(b"a.c"), None);
    }

    #[test]
    fn a_main_cache_hit_takes_the_recent_slot_and_remove_forgets_both() {
        let cache = TokenCache::new(10);
        insert(&cache, b"a.b.c", "first");
        // Push it out of its recent slot only.
        *lock(&cache.recent[cache.slot(b"a.b.c")]) = None;
        assert_eq!(subject(&cache, b"a.b.c").as_deref(), Some("first"));
        assert!(lock(&cache.recent[cache.slot(b"a.b.c")]).is_some());
        cache.remove(b"a.b.c");
        assert_eq!(subject(&cache, b"a.b.c"), None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn same_bytes_compares_every_byte_and_the_length() {
        let a = vec![7u8; 1117];
        for i in [0, 1, 8, 555, 1109, 1116] {
            let mut b = a.clone();
            b[i] ^= 1;
            assert!(!same_bytes(&a, &b), "{i}");
        }
        assert!(same_bytes(&a, &a.clone()));
        assert!(!same_bytes(&a, &a[..1116]));
        assert!(same_bytes(b"", b""));
    }
}
