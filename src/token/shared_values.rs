//! Claim values that most tokens of a deployment share (the issuer, the audiences, the scope
//! sets of a few roles, the client ids), kept once: a cached token points at them instead of
//! holding its own copies. That is about half of what a cached Auth0 token costs (a scope set
//! of nine scopes is ten allocations), so the 10 000-token cache fits in half the memory and a
//! miss allocates less.
//!
//! Each table is small and bounded ([`SLOTS`] values): a value is found by the hash of its
//! content and compared whole, and a new value takes its slot. A value no other token shares
//! costs one slot until another replaces it; a reused one is an `Arc` clone.

use std::sync::{Arc, Mutex, PoisonError};

/// Values kept per table.
pub(crate) const SLOTS: usize = 64;

/// One table of shared values.
pub(crate) struct SharedValues<T: ?Sized> {
    slots: [Mutex<Option<Arc<T>>>; SLOTS],
}

impl<T: ?Sized> SharedValues<T> {
    pub(crate) const fn new() -> Self {
        Self {
            slots: [const { Mutex::new(None) }; SLOTS],
        }
    }

    /// The shared value equal to `value` (`same` compares), or a new one made by `make`.
    ///
    /// A value may sit in either of two slots picked by its hash, and a new one takes an empty
    /// slot of the two before it replaces one: two values used by every token (an audience
    /// list and a scope set, say) that pick the same first slot still both stay, instead of
    /// rebuilding each other on every token.
    fn get(&self, hash: u64, same: impl Fn(&T) -> bool, make: impl FnOnce() -> Arc<T>) -> Arc<T> {
        let first = (hash % SLOTS as u64) as usize;
        let second = ((hash >> 32) % SLOTS as u64) as usize;
        // A panic cannot leave a slot half-written (each write is one assignment).
        let lock = |index: usize| {
            self.slots[index]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        let mut slot = lock(first);
        if let Some(shared) = slot.as_ref().filter(|shared| same(shared)) {
            return Arc::clone(shared);
        }
        // Slots are only ever replaced, never emptied: a value goes to its second slot only
        // while its first is taken, so an empty first slot means it is in neither.
        if slot.is_some() && second != first {
            // One lock at a time: two threads never wait on each other's second slot.
            drop(slot);
            let mut other = lock(second);
            if let Some(shared) = other.as_ref().filter(|shared| same(shared)) {
                return Arc::clone(shared);
            }
            if other.is_none() {
                let value = make();
                *other = Some(Arc::clone(&value));
                return value;
            }
            drop(other);
            slot = lock(first);
        }
        let value = make();
        *slot = Some(Arc::clone(&value));
        value
    }
}

impl SharedValues<str> {
    /// The shared `Arc<str>` equal to `value`.
    pub(crate) fn str(&self, value: &str) -> Arc<str> {
        self.get(hash([value]), |shared| shared == value, || Arc::from(value))
    }
}

impl SharedValues<[String]> {
    /// The shared list equal to `values`, item by item.
    pub(crate) fn list<S: AsRef<str>>(&self, values: &[S]) -> Arc<[String]> {
        self.get(
            hash(values.iter().map(AsRef::as_ref)),
            |shared| {
                shared.len() == values.len()
                    && shared.iter().zip(values).all(|(a, b)| a == b.as_ref())
            },
            || values.iter().map(|v| v.as_ref().to_owned()).collect(),
        )
    }
}

/// A scope set with the claim text it was made from: the `scope` string and the `permissions`
/// items that count, in the token's order.
pub(crate) struct GrantedScopes {
    scope: Box<str>,
    permissions: Box<[Box<str>]>,
    scopes: Arc<[String]>,
}

impl SharedValues<GrantedScopes> {
    /// The scope set of a token whose `scope` string is `scope` and whose counted `permissions`
    /// items are the strings of `permissions` (`None`, an item of another type, counts for
    /// nothing): the one a token with the same text got (compared whole), else `make`'s. Tokens
    /// of one role repeat the text, so most tokens skip the split, the sort and the set's own
    /// comparison.
    pub(crate) fn scopes<S: AsRef<str>>(
        &self,
        scope: &str,
        permissions: &[Option<S>],
        make: impl FnOnce() -> Arc<[String]>,
    ) -> Arc<[String]> {
        let items = || permissions.iter().flatten().map(AsRef::as_ref);
        let granted = self.get(
            hash(std::iter::once(scope).chain(items())),
            |granted| {
                *granted.scope == *scope && granted.permissions.iter().map(|p| &**p).eq(items())
            },
            || {
                Arc::new(GrantedScopes {
                    scope: scope.into(),
                    permissions: items().map(Box::from).collect(),
                    scopes: make(),
                })
            },
        );
        Arc::clone(&granted.scopes)
    }
}

/// Picks a slot: a word-at-a-time mix of the strings and their lengths. It need not resist
/// chosen collisions: two values sharing a slot only take turns, and the comparison decides.
fn hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut hash = 0x9e37_79b9_7f4a_7c15_u64;
    let mut add = |word: u64| {
        hash = (hash ^ word)
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
            .rotate_left(29);
    };
    for part in parts {
        add(part.len() as u64);
        let (words, rest) = part.as_bytes().as_chunks::<8>();
        for word in words {
            add(u64::from_le_bytes(*word));
        }
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        add(u64::from_le_bytes(last));
    }
    hash ^ (hash >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_are_shared_and_different_ones_never_are() {
        let table = SharedValues::<[String]>::new();
        let a = table.list(&["docs.read", "search.read"]);
        let b = table.list(&["docs.read".to_owned(), "search.read".to_owned()]);
        assert!(Arc::ptr_eq(&a, &b));
        let c = table.list(&["docs.read"]);
        assert_eq!(&*c, ["docs.read".to_owned()]);
        assert_eq!(&*a, ["docs.read".to_owned(), "search.read".to_owned()]);
        let strings = SharedValues::<str>::new();
        assert!(Arc::ptr_eq(&strings.str("iss"), &strings.str("iss")));
        assert_eq!(&*strings.str("other"), "other");
    }

    #[test]
    fn two_values_picking_the_same_first_slot_are_both_kept() {
        let first_slot = |value: &str| hash([value]) % SLOTS as u64;
        let second_slot = |value: &str| (hash([value]) >> 32) % SLOTS as u64;
        let a = "issuer-0".to_owned();
        let b = (1..)
            .map(|i| format!("issuer-{i}"))
            .find(|b| first_slot(b) == first_slot(&a) && second_slot(b) != first_slot(&a))
            .unwrap();
        let table = SharedValues::<str>::new();
        let (a1, b1) = (table.str(&a), table.str(&b));
        // Used in turns, as by tokens of two kinds: each is found again, not rebuilt.
        assert!(Arc::ptr_eq(&a1, &table.str(&a)));
        assert!(Arc::ptr_eq(&b1, &table.str(&b)));
        assert!(Arc::ptr_eq(&a1, &table.str(&a)));
        assert_eq!((&*a1, &*b1), (a.as_str(), b.as_str()));
    }

    #[test]
    fn a_scope_set_is_found_by_its_text_and_only_by_it() {
        let table = SharedValues::<GrantedScopes>::new();
        let made =
            |scopes: &[&str]| -> Arc<[String]> { scopes.iter().map(|s| (*s).to_owned()).collect() };
        let first = table.scopes("b a", &[Some("c")], || made(&["a", "b", "c"]));
        // The same text: the same set, `make` not called; an item of another type counts for
        // nothing.
        let again = table.scopes("b a", &[Some("c")], || unreachable!("found by its text"));
        assert!(Arc::ptr_eq(&first, &again));
        let with_other = table.scopes("b a", &[None, Some("c")], || unreachable!("same text"));
        assert!(Arc::ptr_eq(&first, &with_other));
        // The same words split otherwise, or other permissions: a set of its own.
        let moved = table.scopes("b", &[Some("a"), Some("c")], || made(&["moved"]));
        assert_eq!(&*moved, ["moved".to_owned()]);
        let fewer = table.scopes("b a", &[] as &[Option<&str>], || made(&["a", "b"]));
        assert_eq!(&*fewer, ["a".to_owned(), "b".to_owned()]);
        let other = table.scopes("b a", &[Some("d")], || made(&["a", "b", "d"]));
        assert_eq!(&*other, ["a".to_owned(), "b".to_owned(), "d".to_owned()]);
        assert!(Arc::ptr_eq(
            &first,
            &table.scopes("b a", &[Some("c")], || unreachable!("still there"))
        ));
    }

    #[test]
    fn a_slot_taken_by_another_value_still_answers_right() {
        let table = SharedValues::<str>::new();
        // More values than slots: every answer is still its own value.
        for i in 0..(4 * SLOTS) {
            let value = format!("issuer-{i}");
            assert_eq!(&*table.str(&value), value);
        }
    }
}
