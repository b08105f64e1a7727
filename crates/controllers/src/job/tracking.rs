//! Job tracking with finalizers (upstream's `trackJobStatusAndRemoveFinalizers`): every pod
//! of a Job carries `batch.kubernetes.io/job-tracking` until the Job has counted it. A pod
//! that ends (or is deleted before it ends) is first recorded in
//! `status.uncountedTerminatedPods` (or, succeeding in an Indexed Job, in `completedIndexes`),
//! then its finalizer is removed, and once the finalizer is gone it moves into
//! `status.succeeded`/`status.failed`. So no pod is counted twice or lost, even when pods
//! vanish right after they end.

use std::collections::BTreeSet;

/// The finalizer that keeps a Job's pods until the Job has counted them.
pub const FINALIZER: &str = "batch.kubernetes.io/job-tracking";

/// The counts a Job's status holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// `status.succeeded`: counted successes.
    pub succeeded: i32,
    /// `status.failed`: counted failures.
    pub failed: i32,
    /// `status.uncountedTerminatedPods.succeeded`.
    pub uncounted_succeeded: Vec<String>,
    /// `status.uncountedTerminatedPods.failed`.
    pub uncounted_failed: Vec<String>,
    /// `status.completedIndexes` of an Indexed Job.
    pub completed_indexes: BTreeSet<i32>,
}

/// What tracking needs to know of one pod.
#[derive(Clone, Debug)]
pub struct PodFacts {
    /// The pod's uid.
    pub uid: String,
    /// It still has the tracking finalizer.
    pub finalizer: bool,
    /// `Some(true)` succeeded, `Some(false)` failed or deleted before it ended, `None`
    /// still running.
    pub outcome: Option<bool>,
    /// Its completion index (Indexed Jobs).
    pub index: Option<i32>,
}

impl Tally {
    /// Successes, counted or not.
    pub fn total_succeeded(&self, indexed: bool) -> i32 {
        if indexed {
            self.completed_indexes.len() as i32
        } else {
            self.succeeded + self.uncounted_succeeded.len() as i32
        }
    }

    /// Failures, counted or not.
    pub fn total_failed(&self) -> i32 {
        self.failed + self.uncounted_failed.len() as i32
    }

    /// Whether every ended pod has been counted.
    pub fn settled(&self) -> bool {
        self.uncounted_succeeded.is_empty() && self.uncounted_failed.is_empty()
    }

    /// The tally after this sync: uncounted pods whose finalizer is gone are counted, and
    /// pods that ended since are recorded as uncounted.
    pub fn track(&self, pods: &[PodFacts], indexed: bool) -> Tally {
        let held: BTreeSet<&str> = pods
            .iter()
            .filter(|p| p.finalizer)
            .map(|p| p.uid.as_str())
            .collect();
        let mut next = self.clone();
        let before = next.uncounted_succeeded.len();
        next.uncounted_succeeded
            .retain(|u| held.contains(u.as_str()));
        next.succeeded += (before - next.uncounted_succeeded.len()) as i32;
        let before = next.uncounted_failed.len();
        next.uncounted_failed.retain(|u| held.contains(u.as_str()));
        next.failed += (before - next.uncounted_failed.len()) as i32;
        for pod in pods.iter().filter(|p| p.finalizer) {
            let recorded = next.uncounted_succeeded.contains(&pod.uid)
                || next.uncounted_failed.contains(&pod.uid);
            match pod.outcome {
                _ if recorded => {}
                Some(true) if indexed => {
                    if let Some(i) = pod.index {
                        next.completed_indexes.insert(i);
                    }
                }
                Some(true) => next.uncounted_succeeded.push(pod.uid.clone()),
                Some(false) => next.uncounted_failed.push(pod.uid.clone()),
                None => {}
            }
        }
        if indexed {
            next.succeeded = next.completed_indexes.len() as i32;
        }
        next
    }

    /// The pods whose finalizer may go now that this tally is saved: ended ones it records.
    pub fn releasable<'a>(&self, pods: &'a [PodFacts], indexed: bool) -> Vec<&'a PodFacts> {
        pods.iter()
            .filter(|p| p.finalizer)
            .filter(|p| match p.outcome {
                None => false,
                Some(true) if indexed => true,
                Some(_) => {
                    self.uncounted_succeeded.contains(&p.uid)
                        || self.uncounted_failed.contains(&p.uid)
                }
            })
            .collect()
    }
}

/// Upstream's compressed index list: `0-2,4`.
pub fn compress(indexes: &BTreeSet<i32>) -> String {
    let mut parts = Vec::new();
    let mut iter = indexes.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap_or(end);
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

/// Parses a compressed index list; malformed parts are skipped.
pub fn expand(text: &str) -> BTreeSet<i32> {
    let mut set = BTreeSet::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    set.extend(a..=b);
                }
            }
            None => {
                if let Ok(i) = part.parse() {
                    set.insert(i);
                }
            }
        }
    }
    set
}
