//! Expectations, as upstream's controllers keep them: after creating or deleting pods, a
//! controller waits until its cache has seen those changes before it counts again, so a
//! lagging cache never makes it create twice. Expectations expire, so a lost event cannot
//! wedge a controller.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long an unmet expectation holds before the controller acts anyway (upstream's
/// ExpectationsTimeout).
const TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Pending {
    /// Names created but not yet in the cache.
    adds: HashSet<String>,
    /// Names deleted but still in the cache.
    deletes: HashSet<String>,
    since: Option<Instant>,
}

/// Pending creations and deletions per owner (by uid).
#[derive(Default)]
pub struct Expectations {
    owners: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    /// Records that `name` was created for `owner`.
    pub fn created(&self, owner: &str, name: &str) {
        let mut owners = self.owners.lock().expect("expectations lock");
        let p = owners.entry(owner.to_string()).or_default();
        p.adds.insert(name.to_string());
        p.since.get_or_insert_with(Instant::now);
    }

    /// Records that `name` was deleted for `owner`.
    pub fn deleted(&self, owner: &str, name: &str) {
        let mut owners = self.owners.lock().expect("expectations lock");
        let p = owners.entry(owner.to_string()).or_default();
        p.deletes.insert(name.to_string());
        p.since.get_or_insert_with(Instant::now);
    }

    /// Whether the cache, which `present` answers for, reflects every recorded change of
    /// `owner` (or the expectations expired); satisfied expectations are cleared.
    pub fn satisfied(&self, owner: &str, present: impl Fn(&str) -> bool) -> bool {
        let mut owners = self.owners.lock().expect("expectations lock");
        let Some(p) = owners.get_mut(owner) else {
            return true;
        };
        p.adds.retain(|n| !present(n));
        p.deletes.retain(|n| present(n));
        let expired = p.since.is_some_and(|s| s.elapsed() > TIMEOUT);
        if p.adds.is_empty() && p.deletes.is_empty() || expired {
            owners.remove(owner);
            return true;
        }
        false
    }

    /// Forgets an owner (deleted).
    pub fn forget(&self, owner: &str) {
        self.owners.lock().expect("expectations lock").remove(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_until_the_cache_shows_the_changes() {
        let e = Expectations::default();
        assert!(e.satisfied("rs", |_| false));
        e.created("rs", "a");
        e.deleted("rs", "b");
        assert!(!e.satisfied("rs", |n| n == "b"));
        assert!(!e.satisfied("rs", |n| n == "a" || n == "b"));
        assert!(e.satisfied("rs", |n| n == "a"));
    }
}
