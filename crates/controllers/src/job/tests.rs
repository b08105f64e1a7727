//! Unit tests of Job tracking.

use std::collections::BTreeSet;

use super::tracking::{PodFacts, Tally, compress, expand};

fn pod(uid: &str, finalizer: bool, outcome: Option<bool>, index: Option<i32>) -> PodFacts {
    PodFacts {
        uid: uid.into(),
        finalizer,
        outcome,
        index,
    }
}

#[test]
fn completed_indexes_compress_into_ranges_and_back() {
    let set: BTreeSet<i32> = [0, 1, 2, 4, 6, 7].into_iter().collect();
    assert_eq!(compress(&set), "0-2,4,6-7");
    assert_eq!(expand("0-2,4,6-7"), set);
    assert_eq!(compress(&BTreeSet::new()), "");
    assert!(expand("").is_empty());
}

#[test]
fn ended_pods_are_recorded_then_counted_once_their_finalizer_is_gone() {
    let start = Tally::default();
    let pods = vec![
        pod("a", true, Some(true), None),
        pod("b", true, Some(false), None),
        pod("c", true, None, None),
    ];
    // First sync: recorded as uncounted, their finalizers may go, nothing counted yet.
    let first = start.track(&pods, false);
    assert_eq!(first.uncounted_succeeded, vec!["a"]);
    assert_eq!(first.uncounted_failed, vec!["b"]);
    assert_eq!((first.succeeded, first.failed), (0, 0));
    assert_eq!((first.total_succeeded(false), first.total_failed()), (1, 1));
    let released: Vec<&str> = first
        .releasable(&pods, false)
        .iter()
        .map(|p| p.uid.as_str())
        .collect();
    assert_eq!(released, vec!["a", "b"]);
    // Second sync: a lost its finalizer and b is gone altogether; both are counted.
    let later = vec![
        pod("a", false, Some(true), None),
        pod("c", true, None, None),
    ];
    let second = first.track(&later, false);
    assert_eq!((second.succeeded, second.failed), (1, 1));
    assert!(second.settled());
    // Nothing is counted twice.
    assert_eq!(second.track(&later, false), second);
}

#[test]
fn indexed_successes_go_straight_into_completed_indexes() {
    let pods = vec![
        pod("a", true, Some(true), Some(0)),
        pod("b", true, Some(true), Some(0)),
        pod("c", true, Some(true), Some(2)),
    ];
    let tally = Tally::default().track(&pods, true);
    assert_eq!(compress(&tally.completed_indexes), "0,2");
    assert_eq!(tally.succeeded, 2);
    assert!(tally.settled());
    assert_eq!(tally.releasable(&pods, true).len(), 3);
}
