//! A bounded memory of the log entries whose work is complete, so a redelivered batch costs no
//! Management API call. First in, first out: the oldest ids are forgotten first. Bounded in
//! count and in bytes: the ids come from the request body, and one batch could carry ids of
//! megabytes each.

use std::collections::{HashSet, VecDeque};

/// The longest `log_id` remembered. Auth0's are 56 characters (e.g.
/// `90020231123221005123456789012345678901234567890123456789`); anything much longer is not
/// Auth0's, and is simply not remembered (its entry is then redone on redelivery, which is
/// idempotent).
pub(crate) const MAX_LOG_ID_BYTES: usize = 256;

/// A bounded first-in-first-out memory of completed `log_id`s.
pub(crate) struct RecentLogIds {
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentLogIds {
    /// At most `capacity` ids holding at most `max_bytes` bytes in all.
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            capacity,
            max_bytes,
            bytes: 0,
            order: VecDeque::new(),
            set: HashSet::new(),
        }
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    pub(crate) fn insert(&mut self, id: String) {
        if self.capacity == 0
            || id.len() > MAX_LOG_ID_BYTES
            || id.len() > self.max_bytes
            || self.set.contains(&id)
        {
            return;
        }
        while self.order.len() >= self.capacity || self.bytes + id.len() > self.max_bytes {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.bytes -= oldest.len();
            self.set.remove(&oldest);
        }
        self.bytes += id.len();
        self.set.insert(id.clone());
        self.order.push_back(id);
    }

    /// The bytes of the ids held (each is stored twice; the bound counts each once).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_log_ids_forget_the_oldest_beyond_capacity() {
        let mut recent = RecentLogIds::new(2, 1024);
        recent.insert("a".into());
        recent.insert("b".into());
        recent.insert("a".into());
        recent.insert("c".into());
        assert!(!recent.contains("a"));
        assert!(recent.contains("b") && recent.contains("c"));
        let mut off = RecentLogIds::new(0, 1024);
        off.insert("a".into());
        assert!(!off.contains("a"));
    }

    #[test]
    fn remembered_ids_are_bounded_in_bytes_and_huge_ids_are_not_kept() {
        let mut recent = RecentLogIds::new(10_000, 1_000);
        for i in 0..1_000 {
            recent.insert(format!("{i:0>100}"));
            assert!(recent.bytes() <= 1_000, "{} bytes", recent.bytes());
        }
        assert!(recent.contains(&format!("{:0>100}", 999)));
        assert!(!recent.contains(&format!("{:0>100}", 0)));
        let huge = "x".repeat(5 * 1024 * 1024);
        recent.insert(huge.clone());
        assert!(!recent.contains(&huge));
        assert!(recent.bytes() <= 1_000);
        let long = "y".repeat(MAX_LOG_ID_BYTES + 1);
        recent.insert(long.clone());
        assert!(!recent.contains(&long));
        let auth0 = "90020231123221005123456789012345678901234567890123456789".to_owned();
        recent.insert(auth0.clone());
        assert!(recent.contains(&auth0));
    }
}
