//! The scheduling queue: active pods by priority then arrival, pods backing off after a
//! failed attempt, and unschedulable pods waiting for the cluster to change.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    time::{Duration, Instant},
};

/// The first back-off after a failure (upstream's `podInitialBackoffSeconds`).
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest back-off (upstream's `podMaxBackoffSeconds`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

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

/// What a failed attempt waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Retry after the back-off (a binding failed, or victims are being preempted).
    Backoff,
    /// Retry when nodes change or pods go (resources were short, a node was unsuitable).
    OnChange,
    /// As `OnChange`, and also when pods are placed (pod affinity, topology spread).
    OnChangeOrNewPods,
}

/// A change in the cluster that may make unschedulable pods fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A node was added or changed, a pod went, or a volume, claim or class changed.
    Freed,
    /// A pod was placed on a node.
    PodPlaced,
}

#[derive(Debug)]
struct Entry {
    /// Where the pod is: (namespace, name).
    key: (String, String),
    state: State,
    priority: i32,
    seq: u64,
    attempts: u32,
    /// Whether a pod being placed may make it fit.
    wants_pods: bool,
}

impl Entry {
    fn active_key(&self, uid: &str) -> (i64, u64, String) {
        (-(self.priority as i64), self.seq, uid.to_string())
    }
}

/// Queued pods by uid. `pop` returns the active pod with the highest priority, oldest first.
#[derive(Debug, Default)]
pub struct Queue {
    entries: HashMap<String, Entry>,
    /// Active pods ordered by (-priority, seq, uid).
    active: BTreeSet<(i64, u64, String)>,
    /// Backing-off pods by the instant they are due.
    backoff: BTreeSet<(Instant, String)>,
    /// Unschedulable pods.
    unschedulable: HashSet<String>,
    next_seq: u64,
}

impl Queue {
    /// Queues a pod; a pod already queued keeps its state.
    pub fn add(&mut self, uid: &str, key: (String, String), priority: i32) {
        if self.entries.contains_key(uid) {
            return;
        }
        self.next_seq += 1;
        let entry = Entry {
            key,
            state: State::Active,
            priority,
            seq: self.next_seq,
            attempts: 0,
            wants_pods: false,
        };
        self.active.insert(entry.active_key(uid));
        self.entries.insert(uid.to_string(), entry);
    }

    /// Takes a pod out of whichever set holds it (the entry stays).
    fn detach(&mut self, uid: &str) {
        let Some(e) = self.entries.get(uid) else {
            return;
        };
        match e.state {
            State::Active => {
                self.active.remove(&e.active_key(uid));
            }
            State::Backoff(at) => {
                self.backoff.remove(&(at, uid.to_string()));
            }
            State::Unschedulable => {
                self.unschedulable.remove(uid);
            }
            State::InFlight => {}
        }
    }

    /// Forgets a pod (bound or deleted).
    pub fn remove(&mut self, uid: &str) {
        self.detach(uid);
        self.entries.remove(uid);
    }

    /// The next active pod (uid, namespace and name); it stays known (in flight) until
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

    /// The back-off after `attempts` attempts: 1 s doubling up to 10 s.
    fn backoff_for(attempts: u32) -> Duration {
        INITIAL_BACKOFF
            .saturating_mul(1 << attempts.saturating_sub(1).min(4))
            .min(MAX_BACKOFF)
    }

    /// A failed attempt at `now`.
    pub fn failed(&mut self, uid: &str, retry: Retry, now: Instant) {
        self.detach(uid);
        let Some(e) = self.entries.get_mut(uid) else {
            return;
        };
        match retry {
            Retry::Backoff => {
                let at = now + Self::backoff_for(e.attempts);
                e.state = State::Backoff(at);
                self.backoff.insert((at, uid.to_string()));
            }
            Retry::OnChange | Retry::OnChangeOrNewPods => {
                e.state = State::Unschedulable;
                e.wants_pods = retry == Retry::OnChangeOrNewPods;
                self.unschedulable.insert(uid.to_string());
            }
        }
    }

    /// The cluster changed at `now`: the unschedulable pods it may help are retried after
    /// their back-off (upstream's movePodsToActiveOrBackoffQueue).
    pub fn cluster_changed(&mut self, change: Change, now: Instant) {
        if self.unschedulable.is_empty() {
            return;
        }
        let moved: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|uid| {
                change == Change::Freed || self.entries.get(*uid).is_some_and(|e| e.wants_pods)
            })
            .cloned()
            .collect();
        for uid in moved {
            self.unschedulable.remove(&uid);
            if let Some(e) = self.entries.get_mut(&uid) {
                let at = now + Self::backoff_for(e.attempts);
                e.state = State::Backoff(at);
                self.backoff.insert((at, uid));
            }
        }
    }

    /// Moves pods whose back-off ended by `now` to active; returns how many moved.
    pub fn flush_backoff(&mut self, now: Instant) -> usize {
        let mut moved = 0;
        while let Some((at, uid)) = self.backoff.first().cloned() {
            if at > now {
                break;
            }
            self.backoff.pop_first();
            if let Some(e) = self.entries.get_mut(&uid) {
                e.state = State::Active;
                self.active.insert(e.active_key(&uid));
                moved += 1;
            }
        }
        moved
    }

    /// Every unschedulable pod becomes active (upstream flushes them periodically).
    pub fn flush_unschedulable(&mut self) {
        for uid in std::mem::take(&mut self.unschedulable) {
            if let Some(e) = self.entries.get_mut(&uid) {
                e.state = State::Active;
                self.active.insert(e.active_key(&uid));
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

    fn key(n: &str) -> (String, String) {
        ("default".to_string(), n.to_string())
    }

    fn popped(q: &mut Queue) -> Option<String> {
        q.pop().map(|p| p.0)
    }

    #[test]
    fn higher_priority_first_then_oldest() {
        let mut q = Queue::default();
        q.add("low", key("low"), 0);
        q.add("high", key("high"), 100);
        q.add("low2", key("low2"), 0);
        assert_eq!(popped(&mut q).as_deref(), Some("high"));
        assert_eq!(popped(&mut q).as_deref(), Some("low"));
        assert_eq!(popped(&mut q).as_deref(), Some("low2"));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn unschedulable_pods_wait_for_a_change() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add("p", key("p"), 0);
        assert_eq!(popped(&mut q).as_deref(), Some("p"));
        q.failed("p", Retry::OnChange, now);
        assert_eq!(q.flush_backoff(now + Duration::from_secs(60)), 0);
        // A pod being placed does not help a pod that was short of resources.
        q.cluster_changed(Change::PodPlaced, now);
        assert_eq!(q.flush_backoff(now + Duration::from_secs(60)), 0);
        q.cluster_changed(Change::Freed, now);
        assert_eq!(q.flush_backoff(now), 0, "still backing off");
        assert_eq!(q.flush_backoff(now + INITIAL_BACKOFF), 1);
        assert_eq!(popped(&mut q).as_deref(), Some("p"));
        q.remove("p");
        assert!(!q.contains("p"));
    }

    #[test]
    fn pods_waiting_for_affinity_wake_when_pods_are_placed() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add("p", key("p"), 0);
        popped(&mut q);
        q.failed("p", Retry::OnChangeOrNewPods, now);
        q.cluster_changed(Change::PodPlaced, now);
        assert_eq!(q.flush_backoff(now + INITIAL_BACKOFF), 1);
    }

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        let cases = [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)];
        for (attempts, seconds) in cases {
            assert_eq!(
                Queue::backoff_for(attempts),
                Duration::from_secs(seconds),
                "{attempts}"
            );
        }
        let now = Instant::now();
        let mut q = Queue::default();
        q.add("p", key("p"), 0);
        popped(&mut q);
        q.failed("p", Retry::Backoff, now);
        assert_eq!(q.flush_backoff(now), 0);
        assert_eq!(q.flush_backoff(now + Duration::from_secs(1)), 1);
        popped(&mut q);
        q.failed("p", Retry::Backoff, now);
        assert_eq!(q.flush_backoff(now + Duration::from_secs(1)), 0);
        assert_eq!(q.flush_backoff(now + Duration::from_secs(2)), 1);
    }

    #[test]
    fn periodic_flush_and_removal() {
        let now = Instant::now();
        let mut q = Queue::default();
        q.add("a", key("a"), 0);
        q.add("b", key("b"), 5);
        popped(&mut q);
        q.failed("b", Retry::OnChange, now);
        q.remove("a");
        assert_eq!(q.pop(), None);
        q.flush_unschedulable();
        assert_eq!(popped(&mut q).as_deref(), Some("b"));
    }
}
