//! The verified-token cache: a client that repeats its token pays the signature cost once.
//!
//! Two tables, both bounded:
//!
//! - the main cache: verified tokens by the SHA-256 of their bytes before the last dot (for a
//!   JWS, the signing input, whose digest the signature check needs anyway; the whole token
//!   when it has no dot, or more than [`MAX_KEPT_TAIL`] bytes after it), 10 000 by default.
//!   Each entry also keeps the token's bytes from the last dot on (a JWS's signature, ~340
//!   bytes for RS256), and a hit needs them to be the same, compared in constant time: the key
//!   is collision-resistant, so with its tail an entry answers for the very token it was made
//!   from and for no other. The rest of the token is not kept (a cached Auth0 RS256 token costs
//!   its claims and its signature, ~1.4 KiB);
//! - the recent-token table: [`RECENT_SLOTS`] slots, each holding one token's bytes and its
//!   [`AccessToken`]. A request whose token is in its slot is answered after one comparison of
//!   the whole token with the stored bytes, in constant time, without hashing the token (the
//!   SHA-256 of a 1 KiB token's signing input is ~0.5 µs, more than the rest of a hit). The
//!   slot is chosen by a keyed mix of the token's length and last 16 bytes (for a JWS,
//!   signature bytes); only a verified token is ever stored, so a request can never make
//!   another token's slot answer for it: the full comparison decides. A token takes a slot
//!   when it is used again (a main-cache hit), not when it is first verified: tokens seen once,
//!   a flood of them included, never push a client's repeated token out of its slot.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::digest;

use crate::token::AccessToken;
use crate::token::same_bytes::same_bytes;

/// How many recently used tokens are kept with their bytes: at most ~1.2 KiB each, plus the
/// claims of tokens the main cache has already dropped (bounded by this count too). A power of
/// two, as the table is.
pub(crate) const RECENT_SLOTS: usize = 512;

/// Verified tokens, bounded in entries. See the [module docs](self).
///
/// Entries are valid until the token's `exp`: the bearer layer checks `exp`/`nbf` on every hit
/// and drops an entry that has expired.
#[derive(Debug)]
pub(crate) struct TokenCache {
    entries: quick_cache::sync::Cache<TokenKey, Entry>,
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

/// The main cache's key of a token: the SHA-256 of its bytes before its last dot (all of them
/// when it has none), computed by [`hashed_token::hash`](crate::token::hashed_token::hash).
pub(crate) type TokenKey = [u8; 32];

/// A main-cache entry: the token's bytes from its last dot on, which a hit must match, and its
/// verified claims. Cloned out of the cache on every hit, so both are shared, not copied.
#[derive(Clone)]
struct Entry {
    tail: Arc<[u8]>,
    access: AccessToken,
}

/// The longest tail an entry keeps: an RSA-4096 signature in base64url (683 bytes), with its
/// dot. A token whose bytes after the last dot are longer (no JWS of the usual keys) is keyed by
/// the SHA-256 of all of it and keeps no tail, so no entry costs more than its claims and this.
pub(crate) const MAX_KEPT_TAIL: usize = 684;

/// Where `token`'s key stops: at its last dot when the tail from there is kept (see
/// [`MAX_KEPT_TAIL`]), `None` when the key covers all of it. The key and the tail of every
/// lookup, insert and removal are cut here.
pub(crate) fn key_end(token: &[u8]) -> Option<usize> {
    memchr::memrchr(b'.', token).filter(|dot| token.len() - dot <= MAX_KEPT_TAIL)
}

/// The bytes of `token` its entry keeps: from its last dot on (the dot included, so `a.` and
/// `a` differ, and a token keyed whole keeps none), cut where [`key_end`] says.
fn tail_from_last_dot(token: &[u8]) -> &[u8] {
    match key_end(token) {
        Some(dot) => &token[dot..],
        None => &[],
    }
}

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
            // A power of two, so a slot is picked with a mask rather than a division.
            recent: (0..prev_power_of_two(RECENT_SLOTS.min(capacity.max(1))))
                .map(|_| Mutex::new(None))
                .collect(),
            seed: random_seed(),
        }
    }

    /// The SHA-256 of all of `token`: a key for caches that keep nothing of the token (the
    /// introspection verifier's answers).
    pub(crate) fn key(token: &[u8]) -> [u8; 32] {
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

    /// Looks `token` up in the main cache by `key`, its [`TokenKey`] (after
    /// [`recent`](Self::recent) missed): an entry is a hit only if its tail is `token`'s too. A
    /// hit takes the token's recent slot.
    pub(crate) fn lookup(&self, token: &[u8], key: TokenKey) -> Lookup {
        let found = self
            .entries
            .get(&key)
            // Same bytes before the last dot (the key) and from it on (the tail): same token.
            .filter(|entry| same_bytes(&entry.tail, tail_from_last_dot(token)))
            .map(|entry| entry.access);
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

    /// Remembers a verified token under `key`, its [`TokenKey`]. It takes a recent slot only
    /// when it is used again (see the [module docs](self)).
    pub(crate) fn insert(&self, key: TokenKey, token: &[u8], access: AccessToken) {
        let tail = tail_from_last_dot(token).into();
        self.entries.insert(key, Entry { tail, access });
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
        let (key, _) = crate::token::hashed_token::hash(token);
        // Only the entry of this very token: another with the same signing input stays.
        self.entries.remove_if(&key, |entry| {
            same_bytes(&entry.tail, tail_from_last_dot(token))
        });
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
        // The table's length is a power of two (see `new`).
        mixed as usize & (self.recent.len() - 1)
    }
}

/// The largest power of two not above `n` (at least 1).
fn prev_power_of_two(n: usize) -> usize {
    1 << n.max(1).ilog2()
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
#[inline]
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

    fn key(token: &[u8]) -> TokenKey {
        crate::token::hashed_token::hash(token).0
    }

    fn insert(cache: &TokenCache, token: &[u8], sub: &str) {
        cache.insert(key(token), token, self::token(sub));
    }

    /// Inserted, then found once in the main cache: the token now has its recent slot.
    fn insert_used_twice(cache: &TokenCache, token: &[u8], sub: &str) {
        insert(cache, token, sub);
        assert!(matches!(cache.lookup(token, key(token)), Lookup::Hit(_)));
    }

    fn subject(cache: &TokenCache, token: &[u8]) -> Option<String> {
        if let Some(access) = cache.recent(token) {
            return Some(access.subject().to_owned());
        }
        main_subject(cache, token)
    }

    /// What the main cache alone answers for `token`.
    fn main_subject(cache: &TokenCache, token: &[u8]) -> Option<String> {
        match cache.lookup(token, key(token)) {
            Lookup::Hit(access) => Some(access.subject().to_owned()),
            Lookup::Miss(missed) => {
                assert_eq!(missed, key(token));
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
        assert_eq!(cache.recent.len(), 64);
    }

    #[test]
    fn the_recent_table_is_a_power_of_two_within_the_capacity() {
        let lens: Vec<usize> = [1, 2, 3, 100, 512, 513, 10_000]
            .into_iter()
            .map(|capacity| TokenCache::new(capacity).recent.len())
            .collect();
        assert_eq!(lens, [1, 2, 2, 64, 512, 512, 512]);
        assert_eq!(TokenCache::new(0).recent.len(), 1);
    }

    #[test]
    fn keys_differ_per_token() {
        let cache = TokenCache::new(10);
        insert(&cache, b"a.b.c", "first");
        assert_eq!(subject(&cache, b"a.b.c").as_deref(), Some("first"));
        assert_eq!(subject(&cache, b"a.b.d"), None);
    }

    #[test]
    fn an_entry_answers_only_for_its_signing_input_and_its_very_signature() {
        let cache = TokenCache::new(10);
        let verified = b"header.payload.signature-of-the-token";
        insert(&cache, verified, "first");
        // The same signing input (the key) with another signature, a longer or shorter one, or
        // none: no hit, and the verified token's entry stays.
        for forged in [
            &b"header.payload.signature-of-the-tokem"[..],
            b"header.payload.signature-of-the-token-and-more",
            b"header.payload.signature",
            b"header.payload.",
            b"header.payload",
        ] {
            assert_eq!(main_subject(&cache, forged), None, "{forged:?}");
        }
        assert_eq!(main_subject(&cache, verified).as_deref(), Some("first"));
        // Removing a forged token removes nothing; removing the token itself does.
        cache.remove(b"header.payload.forged");
        assert_eq!(main_subject(&cache, verified).as_deref(), Some("first"));
        cache.remove(verified);
        assert_eq!(main_subject(&cache, verified), None);
        // A token with no dot is keyed by all of it, and `a` is not `a.`.
        insert(&cache, b"opaque", "opaque");
        assert_eq!(main_subject(&cache, b"opaque").as_deref(), Some("opaque"));
        assert_eq!(main_subject(&cache, b"opaque."), None);
    }

    #[test]
    fn a_tail_too_long_to_keep_makes_the_whole_token_the_key() {
        let cache = TokenCache::new(10);
        let kept = format!("h.p.{}", "s".repeat(MAX_KEPT_TAIL - 1));
        let whole = format!("h.p.{}", "s".repeat(MAX_KEPT_TAIL));
        assert_eq!(key_end(kept.as_bytes()), Some(3));
        assert_eq!(key_end(whole.as_bytes()), None);
        assert_eq!(key(whole.as_bytes()), TokenCache::key(whole.as_bytes()));
        insert(&cache, kept.as_bytes(), "kept");
        insert(&cache, whole.as_bytes(), "whole");
        assert_eq!(
            main_subject(&cache, kept.as_bytes()).as_deref(),
            Some("kept")
        );
        assert_eq!(
            main_subject(&cache, whole.as_bytes()).as_deref(),
            Some("whole")
        );
        // The long token's entry keeps nothing of it; a change anywhere is another key.
        let changed = format!("h.p.{}t", "s".repeat(MAX_KEPT_TAIL - 1));
        assert_eq!(main_subject(&cache, changed.as_bytes()), None);
        // `h.p` (keyed whole, no dot kept) is not `h.p.` (keyed by `h.p`, tail `.`).
        insert(&cache, b"h.p.", "dot");
        assert_eq!(main_subject(&cache, b"h.p"), None);
    }

    #[test]
    fn a_token_takes_a_recent_slot_when_used_again_not_when_first_verified() {
        let cache = TokenCache::new(10);
        insert(&cache, b"a.b.c", "first");
        assert!(cache.recent(b"a.b.c").is_none());
        assert_eq!(main_subject(&cache, b"a.b.c").as_deref(), Some("first"));
        assert_eq!(
            cache
                .recent(b"a.b.c")
                .map(|a| a.subject().to_owned())
                .as_deref(),
            Some("first")
        );
    }

    #[test]
    fn a_token_sharing_a_slot_and_its_tail_is_no_hit() {
        // One slot: every token shares it, and these two share their last 16 bytes and length.
        let cache = TokenCache::new(1);
        let verified = b"header.payload-one.SAME-SIGNATURE-TAIL";
        let other = b"header.payload-two.SAME-SIGNATURE-TAIL";
        insert_used_twice(&cache, verified, "first");
        assert_eq!(cache.slot(verified), cache.slot(other));
        assert_eq!(subject(&cache, other), None);
        assert_eq!(subject(&cache, verified).as_deref(), Some("first"));
    }

    #[test]
    fn the_recent_slot_answers_for_the_very_token_only() {
        // One slot, so every token below is looked for in the one that holds `verified`.
        let cache = TokenCache::new(1);
        let verified = b"header.payload.signature-of-the-token";
        insert_used_twice(&cache, verified, "first");
        let subject = |token: &[u8]| cache.recent(token).map(|a| a.subject().to_owned());
        assert_eq!(subject(verified).as_deref(), Some("first"));
        // Another tail, another length, a one-byte change before the tail: none is a hit.
        assert_eq!(subject(b"header.payload.signature-of-the-tokem"), None);
        assert_eq!(subject(b"header.payload.signature-of-the-token."), None);
        assert_eq!(subject(b"Header.payload.signature-of-the-token"), None);
        // Shorter than a tail: padded, still compared whole.
        insert_used_twice(&cache, b"a.b", "short");
        assert_eq!(subject(b"a.b").as_deref(), Some("short"));
        assert_eq!(subject(b"a.c"), None);
    }

    #[test]
    fn a_main_cache_hit_takes_the_recent_slot_and_remove_forgets_both() {
        let cache = TokenCache::new(10);
        insert_used_twice(&cache, b"a.b.c", "first");
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

    #[test]
    fn same_bytes_sees_a_difference_at_every_position_of_every_length() {
        // Lengths below one 64-byte block, at and around block edges, and between them, where
        // the last block overlaps the whole ones.
        for len in (0..=200).chain([255, 256, 257, 1117]) {
            let a: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            assert!(same_bytes(&a, &a.clone()), "{len}");
            for i in 0..len {
                let mut b = a.clone();
                b[i] ^= 0x80;
                assert!(!same_bytes(&a, &b), "length {len}, byte {i}");
            }
        }
    }
}
