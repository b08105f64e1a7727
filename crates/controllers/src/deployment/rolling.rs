//! The arithmetic of a rolling update, as upstream's `rolling.go` and `deploymentutil` do it:
//! maxSurge and maxUnavailable from ints or percentages, how far the new ReplicaSet may grow
//! and how far the old ones may shrink.

use k8s_openapi::{api::apps::v1::Deployment, apimachinery::pkg::util::intstr::IntOrString};

/// A ReplicaSet's numbers that the arithmetic reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Size {
    /// `spec.replicas`.
    pub replicas: i32,
    /// `status.availableReplicas`.
    pub available: i32,
}

/// An int-or-percent of `total`, rounded up (maxSurge) or down (maxUnavailable), as
/// upstream's `GetScaledValueFromIntOrPercent`; an unparsable value counts as zero.
pub fn scaled(value: Option<&IntOrString>, total: i32, default: &str, round_up: bool) -> i32 {
    let text = match value {
        Some(IntOrString::Int(i)) => return *i,
        Some(IntOrString::String(s)) => s.as_str(),
        None => default,
    };
    let Some(percent) = text.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
        return text.parse().unwrap_or(0);
    };
    let product = percent * total as i64;
    (if round_up {
        (product + 99) / 100
    } else {
        product / 100
    }) as i32
}

/// Whether the Deployment replaces pods gradually (the default strategy).
pub fn is_rolling(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        != Some("Recreate")
}

/// Desired replicas (`spec.replicas`, 1 when unset).
pub fn desired(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Upstream's `ResolveFenceposts`: (maxSurge, maxUnavailable); when both resolve to zero,
/// maxUnavailable becomes 1 so a rollout can progress.
pub fn fenceposts(d: &Deployment) -> (i32, i32) {
    let want = desired(d);
    let rolling = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let surge = scaled(
        rolling.and_then(|r| r.max_surge.as_ref()),
        want,
        "25%",
        true,
    );
    let unavailable = scaled(
        rolling.and_then(|r| r.max_unavailable.as_ref()),
        want,
        "25%",
        false,
    );
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// Upstream's `MaxSurge`: zero for Recreate.
pub fn max_surge(d: &Deployment) -> i32 {
    if is_rolling(d) { fenceposts(d).0 } else { 0 }
}

/// Upstream's `MaxUnavailable`: zero for Recreate or zero replicas, at most the replicas.
pub fn max_unavailable(d: &Deployment) -> i32 {
    let want = desired(d);
    if !is_rolling(d) || want == 0 {
        return 0;
    }
    fenceposts(d).1.min(want)
}

/// Upstream's `NewRSNewReplicas` for a rolling update: the new ReplicaSet grows while all
/// ReplicaSets together stay within `want + surge`.
pub fn new_rs_replicas(want: i32, surge: i32, new: i32, all: i32) -> i32 {
    if new >= want {
        return want;
    }
    let max_total = want + surge;
    if all >= max_total {
        return new;
    }
    new + (max_total - all).min(want - new)
}

/// Upstream's `reconcileOldReplicaSets`: the new `spec.replicas` of each old ReplicaSet (given
/// oldest first). Unavailable old pods go first (`cleanupUnhealthyReplicas`), then available
/// ones while at least `want - unavailable` pods stay available.
pub fn old_rs_targets(want: i32, unavailable: i32, new: Size, olds: &[Size]) -> Vec<i32> {
    let mut targets: Vec<i32> = olds.iter().map(|s| s.replicas).collect();
    let all = new.replicas + targets.iter().sum::<i32>();
    let min_available = want - unavailable;
    let new_unavailable = new.replicas - new.available;
    let max_scaled_down = all - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return targets;
    }
    let mut cleaned = 0;
    for (target, old) in targets.iter_mut().zip(olds) {
        if cleaned >= max_scaled_down {
            break;
        }
        if old.replicas <= old.available {
            continue;
        }
        let cut = (max_scaled_down - cleaned).min(old.replicas - old.available);
        *target -= cut;
        cleaned += cut;
    }
    let available = new.available + olds.iter().map(|s| s.available).sum::<i32>();
    let mut budget = available - min_available;
    for target in targets.iter_mut() {
        if budget <= 0 {
            break;
        }
        let cut = (*target).min(budget);
        *target -= cut;
        budget -= cut;
    }
    targets
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(replicas: i32, strategy: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d"},
            "spec": {"replicas": replicas, "strategy": strategy, "selector": {},
                     "template": {}},
        }))
        .unwrap()
    }

    #[test]
    fn surge_rounds_up_and_unavailable_rounds_down() {
        let pct = |s: &str| IntOrString::String(s.into());
        assert_eq!(scaled(Some(&pct("25%")), 3, "25%", true), 1);
        assert_eq!(scaled(Some(&pct("25%")), 3, "25%", false), 0);
        assert_eq!(scaled(None, 10, "25%", true), 3);
        assert_eq!(scaled(None, 10, "25%", false), 2);
        assert_eq!(scaled(Some(&pct("100%")), 7, "25%", false), 7);
        assert_eq!(scaled(Some(&IntOrString::Int(2)), 10, "25%", false), 2);
    }

    #[test]
    fn fenceposts_follow_upstream() {
        // 25%/25% of 3: surge 1, unavailable 0.
        let d = deployment(3, json!({"type": "RollingUpdate"}));
        assert_eq!(fenceposts(&d), (1, 0));
        assert_eq!(max_unavailable(&d), 0);
        // Both zero: unavailable becomes 1.
        let d = deployment(
            4,
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}}),
        );
        assert_eq!(fenceposts(&d), (0, 1));
        // maxUnavailable never exceeds the replicas.
        let d = deployment(
            2,
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 5}}),
        );
        assert_eq!(max_unavailable(&d), 2);
        // Recreate neither surges nor tolerates unavailability in its Available condition.
        let d = deployment(3, json!({"type": "Recreate"}));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 0));
    }

    #[test]
    fn the_new_replica_set_grows_within_the_surge() {
        // 3 wanted, surge 1: the new one starts at 1 next to 3 old pods.
        assert_eq!(new_rs_replicas(3, 1, 0, 3), 1);
        // At the surge limit nothing grows.
        assert_eq!(new_rs_replicas(3, 1, 1, 4), 1);
        // Never beyond the desired count, and shrinks back to it.
        assert_eq!(new_rs_replicas(3, 10, 2, 3), 3);
        assert_eq!(new_rs_replicas(3, 1, 5, 5), 3);
    }

    #[test]
    fn old_replica_sets_shrink_without_dropping_below_minimum_availability() {
        let s = |replicas, available| Size {
            replicas,
            available,
        };
        // 3 wanted, 0 unavailable: the new pod is not available yet, nothing may go.
        assert_eq!(old_rs_targets(3, 0, s(1, 0), &[s(3, 3)]), vec![3]);
        // Once it is, one old pod may go.
        assert_eq!(old_rs_targets(3, 0, s(1, 1), &[s(3, 3)]), vec![2]);
        // Unavailable old pods go first, even when the rest could not go.
        assert_eq!(old_rs_targets(3, 1, s(1, 0), &[s(3, 1)]), vec![2]);
        // The oldest ReplicaSet shrinks first.
        assert_eq!(
            old_rs_targets(4, 1, s(2, 2), &[s(1, 1), s(2, 2)]),
            vec![0, 1]
        );
        // Recreate-like budget (everything may be unavailable).
        assert_eq!(old_rs_targets(2, 2, s(0, 0), &[s(2, 2)]), vec![0]);
    }
}
