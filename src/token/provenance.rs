//! Where a verified token's trust comes from, so a cached token can be asked again whether that
//! source still vouches for it (security review finding 7: a withdrawn key ends the tokens it
//! signed, even those already in the cache).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::token::jwk::VerifyKey;
use crate::token::key_store::{KeyChoice, KeyStore};

/// What vouched for a verified token.
pub(crate) enum Provenance {
    /// A signature checked with `key` of the issuer whose keys `store` holds.
    Signed {
        store: Arc<KeyStore>,
        key: Arc<VerifyKey>,
        /// The token named the key by `kid` (else it used the sole key of the set).
        by_kid: bool,
        /// The store's key version at which `key` was last seen in the set: while it is
        /// current, a cache hit costs two atomic loads and no lookup.
        checked_version: AtomicU64,
    },
    /// An introspection answer, trusted until this instant (the introspection cache's bound).
    Introspected { trusted_until: Instant },
}

impl Provenance {
    pub(crate) fn signed(store: &Arc<KeyStore>, key: Arc<VerifyKey>, by_kid: bool) -> Self {
        Self::Signed {
            checked_version: AtomicU64::new(store.key_version()),
            store: Arc::clone(store),
            key,
            by_kid,
        }
    }

    /// True while the source still vouches for the token: the key is still in the issuer's
    /// current key set, or the introspection answer is still fresh.
    pub(crate) fn still_trusted(&self) -> bool {
        match self {
            Self::Signed {
                store,
                key,
                by_kid,
                checked_version,
            } => {
                let current = store.key_version();
                if checked_version.load(Ordering::Acquire) == current {
                    return true;
                }
                let choice = match (&key.kid, by_kid) {
                    (Some(kid), true) => KeyChoice::Kid(kid),
                    _ => KeyChoice::Sole,
                };
                let held = store.still_holds(choice, key);
                if held {
                    checked_version.store(current, Ordering::Release);
                }
                held
            }
            Self::Introspected { trusted_until } => Instant::now() < *trusted_until,
        }
    }
}

impl std::fmt::Debug for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Signed { key, by_kid, .. } => f
                .debug_struct("Signed")
                .field("kid", &key.kid)
                .field("by_kid", by_kid)
                .finish_non_exhaustive(),
            Self::Introspected { trusted_until } => f
                .debug_struct("Introspected")
                .field("trusted_until", trusted_until)
                .finish(),
        }
    }
}
