//! Node conditions to taints, heartbeats, and when tolerating pods are evicted.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::{
    api::{
        coordination::v1::{Lease, LeaseSpec},
        core::v1::{Node, NodeCondition, NodeSpec, NodeStatus, Taint, Toleration},
    },
    apimachinery::pkg::apis::meta::v1::{MicroTime, Time},
};

use super::{
    health::{last_heartbeat, unknown_conditions},
    taints::{Eviction, desired, eviction},
};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn node(ready: Option<&str>, unschedulable: bool, taints: Vec<Taint>) -> Node {
    Node {
        spec: Some(NodeSpec {
            unschedulable: Some(unschedulable),
            taints: Some(taints),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            conditions: ready.map(|s| {
                vec![NodeCondition {
                    type_: "Ready".into(),
                    status: s.into(),
                    last_heartbeat_time: Some(Time(at(0))),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        ..Default::default()
    }
}

fn keys(taints: &[Taint]) -> Vec<String> {
    taints
        .iter()
        .map(|t| format!("{}:{}", t.key, t.effect))
        .collect()
}

#[test]
fn conditions_and_cordon_become_taints_and_others_stay() {
    let user = taint("dedicated", "NoSchedule");
    assert_eq!(
        desired(&node(Some("True"), false, vec![user.clone()]), at(0)),
        None
    );
    let unknown = desired(&node(Some("Unknown"), true, vec![user.clone()]), at(5)).unwrap();
    assert_eq!(
        keys(&unknown),
        [
            "dedicated:NoSchedule",
            "node.kubernetes.io/unreachable:NoSchedule",
            "node.kubernetes.io/unreachable:NoExecute",
            "node.kubernetes.io/unschedulable:NoSchedule",
        ]
    );
    assert_eq!(unknown[2].time_added, Some(Time(at(5))));
    assert_eq!(unknown[1].time_added, None);
    // Unknown to False swaps unreachable for not-ready; healthy again removes both.
    let not_ready = desired(&node(Some("False"), true, unknown.clone()), at(9)).unwrap();
    assert_eq!(
        keys(&not_ready),
        [
            "dedicated:NoSchedule",
            "node.kubernetes.io/unschedulable:NoSchedule",
            "node.kubernetes.io/not-ready:NoSchedule",
            "node.kubernetes.io/not-ready:NoExecute",
        ]
    );
    let healthy = desired(&node(Some("True"), false, not_ready), at(10)).unwrap();
    assert_eq!(keys(&healthy), ["dedicated:NoSchedule"]);
    // An unschedulable taint with another effect is not ours.
    let other = taint("node.kubernetes.io/unschedulable", "PreferNoSchedule");
    assert_eq!(
        desired(&node(Some("True"), false, vec![other]), at(0)),
        None
    );
}

#[test]
fn heartbeats_come_from_the_lease_the_ready_condition_or_the_start() {
    let lease = Lease {
        spec: Some(LeaseSpec {
            renew_time: Some(MicroTime(at(30))),
            ..Default::default()
        }),
        ..Default::default()
    };
    let n = node(Some("True"), false, vec![]);
    assert_eq!(last_heartbeat(&n, Some(&lease), at(-100)), at(30));
    assert_eq!(last_heartbeat(&n, None, at(-100)), at(0));
    assert_eq!(last_heartbeat(&n, Some(&lease), at(60)), at(60));
}

#[test]
fn a_silent_node_gets_unknown_conditions_once() {
    let n = node(Some("True"), false, vec![]);
    let conditions = unknown_conditions(&n, at(50)).unwrap();
    let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.status, "Unknown");
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(
        ready.message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );
    assert_eq!(ready.last_heartbeat_time, Some(Time(at(0))));
    let pressure = conditions
        .iter()
        .find(|c| c.type_ == "MemoryPressure")
        .unwrap();
    assert_eq!(pressure.reason.as_deref(), Some("NodeStatusNeverUpdated"));
    let mut again = n.clone();
    again.status.as_mut().unwrap().conditions = Some(conditions);
    assert_eq!(unknown_conditions(&again, at(60)), None);
}

fn toleration(key: &str, op: &str, value: &str, seconds: Option<i64>) -> Toleration {
    Toleration {
        key: Some(key.into()).filter(|k: &String| !k.is_empty()),
        operator: Some(op.into()),
        value: Some(value.into()).filter(|v: &String| !v.is_empty()),
        effect: Some("NoExecute".into()),
        toleration_seconds: seconds,
    }
}

#[test]
fn evictions_wait_for_the_shortest_toleration() {
    let unreachable = Taint {
        time_added: Some(Time(at(100))),
        ..taint("node.kubernetes.io/unreachable", "NoExecute")
    };
    let taints = vec![unreachable, taint("dedicated", "NoSchedule")];
    assert_eq!(eviction(&[], &[], at(0)), Eviction::Never);
    assert_eq!(eviction(&taints, &[], at(0)), Eviction::Now);
    let forever = toleration("node.kubernetes.io/unreachable", "Exists", "", None);
    assert_eq!(
        eviction(&taints, std::slice::from_ref(&forever), at(0)),
        Eviction::Never
    );
    let short = toleration("node.kubernetes.io/unreachable", "Exists", "", Some(2));
    let long = toleration("", "Exists", "", Some(300));
    assert_eq!(
        eviction(&taints, &[forever, long, short], at(0)),
        Eviction::At(at(100) + Duration::from_secs(2))
    );
    let negative = toleration("node.kubernetes.io/unreachable", "Exists", "", Some(-5));
    assert_eq!(eviction(&taints, &[negative], at(0)), Eviction::At(at(100)));
}
