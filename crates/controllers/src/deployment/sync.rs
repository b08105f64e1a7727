//! What upstream's `sync.go` decides without I/O: proportional scaling of every ReplicaSet when
//! `spec.replicas` changes (also mid-rollout), and the revision annotations of the new
//! ReplicaSet (a rollback makes an old revision the newest and remembers the old number).

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::{
    DESIRED, MAX, REVISION, REVISION_HISTORY, available, replicas,
    rolling::{desired, is_rolling, max_surge},
};

/// Annotations of a Deployment that its ReplicaSets do not copy.
const SKIP_COPY: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED,
    MAX,
    "deprecated.deployment.rollback.to",
];

/// The longest `revision-history` annotation (upstream's default
/// `maxRevHistoryLengthInChars`).
const MAX_HISTORY_CHARS: usize = 2000;

fn annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

fn created(rs: &ReplicaSet) -> (Option<Timestamp>, String) {
    (
        rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        rs.metadata.name.clone().unwrap_or_default(),
    )
}

/// Whether the new ReplicaSet already runs all the Deployment wants (upstream's
/// `IsSaturated`).
fn is_saturated(d: &Deployment, new: &ReplicaSet) -> bool {
    let want = desired(d);
    replicas(new) == want && annotation(new, DESIRED) == Some(want) && available(new) == want
}

/// Whether some active ReplicaSet was sized for another `spec.replicas` (upstream's
/// `isScalingEvent`).
pub fn is_scaling_event(d: &Deployment, sets: &[&ReplicaSet]) -> bool {
    let want = desired(d);
    sets.iter()
        .filter(|rs| replicas(rs) > 0)
        .filter_map(|rs| annotation(rs, DESIRED))
        .any(|n| n != want)
}

/// Upstream's `scale` (sync.go): the sizes `sets` (the new ReplicaSet first, if any, then the
/// old ones) should have for the Deployment's current `spec.replicas`.
pub fn scale_targets(d: &Deployment, sets: &[&ReplicaSet], has_new: bool) -> Vec<i32> {
    let want = desired(d);
    let mut targets: Vec<i32> = sets.iter().map(|rs| replicas(rs)).collect();
    let active: Vec<usize> = (0..sets.len()).filter(|&i| targets[i] > 0).collect();
    let only = match active.as_slice() {
        // Nothing runs: the newest ReplicaSet gets everything.
        [] if has_new => Some(0),
        [] => (0..sets.len()).max_by_key(|&i| created(sets[i])),
        [one] => Some(*one),
        _ => None,
    };
    if let Some(i) = only {
        targets[i] = want;
        return targets;
    }
    if has_new && is_saturated(d, sets[0]) {
        for t in targets.iter_mut().skip(1) {
            *t = 0;
        }
        return targets;
    }
    if !is_rolling(d) {
        return targets;
    }
    let surge = max_surge(d);
    let allowed = if want > 0 { want + surge } else { 0 };
    let sum: i32 = active.iter().map(|&i| targets[i]).sum();
    let to_add = allowed - sum;
    let mut order = active;
    if to_add > 0 {
        // Larger first; among equals, newer first.
        order.sort_by(|&a, &b| {
            targets[b]
                .cmp(&targets[a])
                .then_with(|| created(sets[b]).cmp(&created(sets[a])))
        });
    } else if to_add < 0 {
        // Larger first; among equals, older first.
        order.sort_by(|&a, &b| {
            targets[b]
                .cmp(&targets[a])
                .then_with(|| created(sets[a]).cmp(&created(sets[b])))
        });
    } else {
        return targets;
    }
    let before = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let mut added = 0;
    for &i in &order {
        let rs = sets[i];
        let size = targets[i];
        if size == 0 || to_add == added {
            continue;
        }
        let fraction = if want == 0 {
            -size
        } else {
            let max_before = annotation(rs, MAX).filter(|m| *m > 0).unwrap_or(before);
            if max_before == 0 {
                0
            } else {
                let scaled = (size as f64 * (want + surge) as f64 / max_before as f64).round();
                scaled as i32 - size
            }
        };
        let room = to_add - added;
        let proportion = if to_add > 0 {
            fraction.min(room)
        } else {
            fraction.max(room)
        };
        targets[i] += proportion;
        added += proportion;
    }
    // Leftovers go to the largest.
    if let Some(&first) = order.first() {
        targets[first] = (targets[first] + to_add - added).max(0);
    }
    targets
}

/// Upstream's `SetNewReplicaSetAnnotations`: the new ReplicaSet's annotations (the
/// Deployment's own ones copied, the revision raised to `new_revision` with the old number
/// kept in `revision-history`, and for a ReplicaSet about to be created the desired and max
/// replicas); `None` when nothing changes.
pub fn new_rs_annotations(
    d: &Deployment,
    current: Option<&BTreeMap<String, String>>,
    new_revision: i64,
    exists: bool,
) -> Option<BTreeMap<String, String>> {
    let mut annotations = current.cloned().unwrap_or_default();
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if SKIP_COPY.contains(&k.as_str()) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    let old = annotations.get(REVISION).cloned();
    let old_number = match old.as_deref().map(str::parse::<i64>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return changed.then_some(annotations),
    };
    if old_number < new_revision {
        annotations.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old {
            let history = annotations
                .get(REVISION_HISTORY)
                .cloned()
                .unwrap_or_default();
            let mut revisions: Vec<&str> = history.split(',').filter(|r| !r.is_empty()).collect();
            revisions.push(&old);
            while revisions.join(",").len() > MAX_HISTORY_CHARS && revisions.len() > 1 {
                revisions.remove(0);
            }
            annotations.insert(REVISION_HISTORY.into(), revisions.join(","));
        }
    }
    if !exists {
        let want = desired(d);
        annotations.insert(DESIRED.into(), want.to_string());
        annotations.insert(MAX.into(), (want + max_surge(d)).to_string());
        changed = true;
    }
    changed.then_some(annotations)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(replicas: i32, status_replicas: i32) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d", "annotations": {"kubernetes.io/change-cause": "why",
                         REVISION: "7"}},
            "spec": {"replicas": replicas, "selector": {}, "template": {}},
            "status": {"replicas": status_replicas},
        }))
        .unwrap()
    }

    fn rs(name: &str, created: &str, replicas: i32, desired: i32, max: i32) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": created,
                         "annotations": {DESIRED: desired.to_string(), MAX: max.to_string()}},
            "spec": {"replicas": replicas, "selector": {}},
            "status": {"replicas": replicas, "availableReplicas": replicas},
        }))
        .unwrap()
    }

    #[test]
    fn scaling_mid_rollout_is_proportional() {
        // Upstream's example: 10 replicas, surge 3, mid-rollout at 8 old + 5 new; scaled to
        // 15 (surge 4): 19 allowed, 6 to add, spread 8/13 and 5/13.
        let d = deployment(15, 13);
        let new = rs("new", "2024-01-01T00:01:00Z", 5, 10, 13);
        let old = rs("old", "2024-01-01T00:00:00Z", 8, 10, 13);
        assert!(is_scaling_event(&d, &[&new, &old]));
        let targets = scale_targets(&d, &[&new, &old], true);
        assert_eq!(targets.iter().sum::<i32>(), 19);
        assert_eq!(targets, vec![7, 12]);
        // Scaling down to 5 (surge 2): 7 allowed.
        let d = deployment(5, 13);
        assert_eq!(scale_targets(&d, &[&new, &old], true), vec![3, 4]);
        // To zero, everything goes.
        let d = deployment(0, 13);
        assert_eq!(scale_targets(&d, &[&new, &old], true), vec![0, 0]);
    }

    #[test]
    fn a_single_active_replica_set_takes_the_whole_count() {
        let d = deployment(6, 3);
        let new = rs("new", "2024-01-01T00:01:00Z", 3, 3, 4);
        let old = rs("old", "2024-01-01T00:00:00Z", 0, 3, 4);
        assert_eq!(scale_targets(&d, &[&new, &old], true), vec![6, 0]);
        // Without a new ReplicaSet (paused), the newest old one gets it.
        let older = rs("older", "2023-01-01T00:00:00Z", 0, 3, 4);
        let idle = rs("idle", "2024-01-01T00:00:00Z", 0, 3, 4);
        assert_eq!(scale_targets(&d, &[&older, &idle], false), vec![0, 6]);
    }

    #[test]
    fn rollbacks_raise_the_revision_and_keep_the_old_number() {
        let d = deployment(3, 3);
        let current = BTreeMap::from([(REVISION.to_string(), "1".to_string())]);
        let a = new_rs_annotations(&d, Some(&current), 3, true).unwrap();
        assert_eq!(a[REVISION], "3");
        assert_eq!(a[REVISION_HISTORY], "1");
        assert_eq!(a["kubernetes.io/change-cause"], "why");
        assert!(
            !a.contains_key(DESIRED),
            "only new ReplicaSets get the sizes"
        );
        // Already the newest: nothing to do.
        assert_eq!(new_rs_annotations(&d, Some(&a), 3, true), None);
        // Rolled back again: the history grows.
        let b = new_rs_annotations(&d, Some(&a), 5, true).unwrap();
        assert_eq!(b[REVISION_HISTORY], "1,3");
        // A ReplicaSet about to be created gets its sizes.
        let c = new_rs_annotations(&d, None, 1, false).unwrap();
        assert_eq!(
            (c[REVISION].as_str(), c[DESIRED].as_str(), c[MAX].as_str()),
            ("1", "3", "4")
        );
    }
}
