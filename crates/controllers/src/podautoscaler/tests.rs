//! Tests of the autoscaler's decisions without metrics.

use serde_json::json;

use super::*;

fn cpu(utilization: bool) -> MetricSpec {
    let target = if utilization {
        json!({"type": "Utilization", "averageUtilization": 80})
    } else {
        json!({"type": "AverageValue", "averageValue": "100m"})
    };
    serde_json::from_value(
        json!({"type": "Resource", "resource": {"name": "cpu", "target": target}}),
    )
    .expect("metric")
}

#[test]
fn bounds_come_before_metrics() {
    assert_eq!(
        bounds(1, 2, 5),
        Some((2, "Current number of replicas below Spec.MinReplicas"))
    );
    assert_eq!(
        bounds(7, 2, 5),
        Some((5, "Current number of replicas above Spec.MaxReplicas"))
    );
    assert_eq!(bounds(3, 2, 5), None);
}

#[test]
fn without_a_metrics_api_resource_metrics_fail_as_upstream_words_it() {
    let (failure, aggregate) = replicas_for_metrics(&[cpu(true)], 3).expect_err("no metrics");
    assert_eq!(failure.reason, "FailedGetResourceMetric");
    assert_eq!(
        failure.error,
        "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"
    );
    assert_eq!(
        aggregate,
        "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"
    );
    let (failure, _) = replicas_for_metrics(&[cpu(false), cpu(true)], 3).expect_err("no metrics");
    assert!(
        failure.error.starts_with("failed to get cpu usage:"),
        "{}",
        failure.error
    );
}

#[test]
fn conditions_keep_their_transition_time_while_unchanged() {
    let mut conditions = Vec::new();
    set_condition(
        &mut conditions,
        "AbleToScale",
        true,
        "SucceededGetScale",
        "a".into(),
    );
    let since = conditions[0].last_transition_time.clone();
    set_condition(
        &mut conditions,
        "AbleToScale",
        true,
        "SucceededRescale",
        "b".into(),
    );
    assert_eq!(conditions.len(), 1);
    assert_eq!(conditions[0].last_transition_time, since);
    assert_eq!(conditions[0].reason.as_deref(), Some("SucceededRescale"));
}

#[test]
fn metrics_are_evaluated_once_per_period_unless_the_spec_changes() {
    let e = Evaluations::default();
    assert!(e.due("hpa", Some(1)));
    assert!(!e.due("hpa", Some(1)));
    assert!(e.due("hpa", Some(2)));
    assert!(e.due("other", Some(2)));
}
