//! A bounded memory of the log entries whose work is complete, so a redelivered batch costs no
//! Management API call. First in, first out: the oldest ids are forgotten first.

use std::collections::{HashSet, VecDeque};

/// A bounded first-in-first-out memory of completed `log_id`s.
pub(crate) struct RecentLogIds {
    capacity: usize,
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentLogIds {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            order: VecDeque::new(),
            set: HashSet::new(),
        }
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    pub(crate) fn insert(&mut self, id: String) {
        if self.capacity == 0 || self.set.contains(&id) {
            return;
        }
        if self.order.len() >= self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.set.insert(id.clone());
        self.order.push_back(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_log_ids_forget_the_oldest_beyond_capacity() {
        let mut recent = RecentLogIds::new(2);
        recent.insert("a".into());
        recent.insert("b".into());
        recent.insert("a".into());
        recent.insert("c".into());
        assert!(!recent.contains("a"));
        assert!(recent.contains("b") && recent.contains("c"));
        let mut off = RecentLogIds::new(0);
        off.insert("a".into());
        assert!(!off.contains("a"));
    }
}
