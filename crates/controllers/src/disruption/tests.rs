//! Tests of the disruption budget arithmetic.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::endpoints::tests::pod;

fn budget(spec: serde_json::Value) -> PodDisruptionBudget {
    serde_json::from_value(json!({"metadata": {"name": "b", "namespace": "default"}, "spec": spec}))
        .expect("pdb")
}

fn three_pods() -> Vec<Arc<Pod>> {
    vec![
        pod("a", Some("10.0.0.1"), true),
        pod("b", Some("10.0.0.2"), true),
        pod("c", Some("10.0.0.3"), false),
    ]
}

/// Every pod belongs to one Deployment of `replicas`.
fn one_deployment(replicas: i32) -> impl Fn(&Pod) -> Option<(String, i32)> {
    move |_| Some(("Deployment/web".into(), replicas))
}

#[test]
fn min_available_as_a_number_counts_the_selected_pods() {
    let c = counts(&budget(json!({"minAvailable": 2})), &three_pods(), &|_| {
        None
    })
    .expect("counts");
    assert_eq!(
        c,
        Counts {
            expected: 3,
            desired_healthy: 2,
            current_healthy: 2,
            allowed: 0
        }
    );
    let c = counts(&budget(json!({"minAvailable": 1})), &three_pods(), &|_| {
        None
    })
    .expect("counts");
    assert_eq!(c.allowed, 1);
}

#[test]
fn percentages_and_max_unavailable_use_the_controllers_scale() {
    let c = counts(
        &budget(json!({"minAvailable": "50%"})),
        &three_pods(),
        &one_deployment(4),
    )
    .expect("counts");
    assert_eq!(
        c,
        Counts {
            expected: 4,
            desired_healthy: 2,
            current_healthy: 2,
            allowed: 0
        }
    );
    let c = counts(
        &budget(json!({"maxUnavailable": 1})),
        &three_pods(),
        &one_deployment(3),
    )
    .expect("counts");
    assert_eq!(
        c,
        Counts {
            expected: 3,
            desired_healthy: 2,
            current_healthy: 2,
            allowed: 0
        }
    );
    let c = counts(
        &budget(json!({"maxUnavailable": "50%"})),
        &three_pods(),
        &one_deployment(3),
    )
    .expect("counts");
    // 50% of 3 rounds up to 2 unavailable.
    assert_eq!((c.desired_healthy, c.allowed), (1, 1));
}

#[test]
fn pods_without_a_controller_fail_percentages() {
    let err = counts(
        &budget(json!({"maxUnavailable": 1})),
        &three_pods(),
        &|_| None,
    )
    .expect_err("no controller");
    assert_eq!(err, "found no controllers for pod \"a\"");
}
