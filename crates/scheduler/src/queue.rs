//! The scheduling queue: active pods by priority then arrival, pods backing off after a
//! failed attempt, and unschedulable pods waiting for the cluster to change.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

/// The first back-off after a failure (upstream's `podInitialBackoffSeconds`).
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest back-off (upstream's `podMaxBackoffSeconds`).
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Where a queued pod is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for its turn.
    Active,
    /// Failed recently; retried at the instant.
    Backoff(Instant),
    /// Fits nowhere; retried when the cluster changes.
    Unschedulable,
    /// Being scheduled or bound right now.
    InFlight,
}

#[derive(Debug)]
struct Entry {
    /// Where the pod is: (namespace, name).
    key: (String, String),
    state: State,
    priority: i32,
    seq: u64,
    attempts: u32,
}

/// Queued pods by uid. `pop` returns the active pod with the highest priority, oldest first.
#[derive(Debug, Default)]
pub struct Queue {
    entries: HashMap<String, Entry>,
    /// Active pods ordered by (-priority, seq, uid).
    active: BTreeSet<(i64, u64, String)>,
    next_seq: u64,
}

impl Queue {
    /// Queues a pod (or refreshes its priority); a pod already waiting keeps its state.
    pub fn add(&mut self, uid: &str, key: (String, String), priority: i32) {
        if self.entries.contains_key(uid) {
            return;
        }
        self.next_seq += 1;
        let seq = self.next_seq;
        self.entries.insert(
            uid.to_string(),
            Entry {
                key,
                state: State::Active,
                priority,
                seq,
                attempts: 0,
            },
        );
        self.active
            .insert((-(priority as i64), seq, uid.to_string()));
    }

    /// Forgets a pod (bound or deleted).
    pub fn remove(&mut self, uid: &str) {
        if let Some(e) = self.entries.remove(uid)
            && e.state == State::Active
        {
            self.active
                .remove(&(-(e.priority as i64), e.seq, uid.to_string()));
        }
    }

    /// The next active pod (uid, namespace and name); it stays known (not active) until
    /// removed or requeued.
    pub fn pop(&mut self) -> Option<(String, (String, String))> {
        loop {
            let (_, _, uid) = self.active.pop_first()?;
            if let Some(e) = self.entries.get_mut(&uid) {
                e.attempts += 1;
                e.state = State::InFlight;
                let key = e.key.clone();
                return Some((uid, key));
            }
        }
    }

    /// A failed attempt: back off if the cluster may change soon (`retry`), else wait for a
    /// change.
    pub fn failed(&mut self, uid: &str, retry: bool) {
        if let Some(e) = self.entries.get_mut(uid) {
            e.state = if retry {
                let backoff = INITIAL_BACKOFF
                    .saturating_mul(1 << e.attempts.saturating_sub(1).min(4))
                    .min(MAX_BACKOFF);
                State::Backoff(Instant::now() + backoff)
            } else {
                State::Unschedulable
            };
        }
    }

    /// The cluster changed: unschedulable pods get another try after their back-off.
    pub fn cluster_changed(&mut self) {
        let now = Instant::now();
        for e in self.entries.values_mut() {
            if e.state == State::Unschedulable {
                e.state = State::Backoff(now + INITIAL_BACKOFF);
            }
        }
    }

    /// Moves pods whose back-off ended to active; returns how many moved.
    pub fn flush_backoff(&mut self) -> usize {
        let now = Instant::now();
        let mut moved = 0;
        for (uid, e) in &mut self.entries {
            if let State::Backoff(at) = e.state
                && at <= now
            {
                e.state = State::Active;
                self.active
                    .insert((-(e.priority as i64), e.seq, uid.clone()));
                moved += 1;
            }
        }
        moved
    }

    /// Every unschedulable pod becomes active (upstream flushes them periodically).
    pub fn flush_unschedulable(&mut self) {
        for (uid, e) in &mut self.entries {
            if e.state == State::Unschedulable {
                e.state = State::Active;
                self.active
                    .insert((-(e.priority as i64), e.seq, uid.clone()));
            }
        }
    }

    /// Whether the pod is queued in any state.
    pub fn contains(&self, uid: &str) -> bool {
        self.entries.contains_key(uid)
    }

    /// How many pods are active.
    pub fn active_len(&self) -> usize {
        self.active.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_priority_first_then_oldest() {
        let mut q = Queue::default();
        let key = |n: &str| ("default".to_string(), n.to_string());
        q.add("low", key("low"), 0);
        q.add("high", key("high"), 100);
        q.add("low2", key("low2"), 0);
        assert_eq!(q.pop().map(|p| p.0).as_deref(), Some("high"));
        assert_eq!(q.pop().map(|p| p.0).as_deref(), Some("low"));
        assert_eq!(q.pop().map(|p| p.0).as_deref(), Some("low2"));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn unschedulable_pods_wait_for_a_change() {
        let mut q = Queue::default();
        q.add("p", ("default".into(), "p".into()), 0);
        assert_eq!(q.pop().map(|p| p.0).as_deref(), Some("p"));
        q.failed("p", false);
        assert_eq!(q.flush_backoff(), 0);
        q.flush_unschedulable();
        assert_eq!(q.pop().map(|p| p.0).as_deref(), Some("p"));
        q.remove("p");
        assert!(!q.contains("p"));
    }
}
