//! Scheduling decisions as data: nodes and a pod in, feasibility and reasons out.

use std::{collections::HashMap, sync::Arc};

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use super::*;
use crate::snapshot::{PodInfo, Snapshot};

fn node(name: &str, extra: Value) -> Arc<Node> {
    let mut n = json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "3"}},
    });
    merge(&mut n, extra);
    Arc::new(serde_json::from_value(n).unwrap())
}

fn pod(name: &str, extra: Value) -> Arc<Pod> {
    let mut p = json!({
        "metadata": {"name": name, "namespace": "default", "uid": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    });
    merge(&mut p, extra);
    Arc::new(serde_json::from_value(p).unwrap())
}

fn merge(target: &mut Value, patch: Value) {
    if let (Some(t), Value::Object(p)) = (target.as_object_mut(), patch.clone()) {
        for (k, v) in p {
            match t.get_mut(&k) {
                Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                _ => {
                    t.insert(k, v);
                }
            }
        }
    }
}

fn requests(cpu: &str) -> Value {
    json!({"spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu}}}]}})
}

/// Filters `p` against every node and returns (feasible node names, fit error message).
fn check(snapshot: &Snapshot, p: Arc<Pod>) -> (Vec<String>, String) {
    let q = Query::new(PodInfo::new(p), snapshot);
    let mut ok = Vec::new();
    let mut reasons: HashMap<Reason, usize> = HashMap::new();
    for n in snapshot.nodes_from(0) {
        match q.filter(n) {
            Ok(()) => ok.push(n.name().to_string()),
            Err(rs) => {
                for r in rs {
                    *reasons.entry(r).or_default() += 1;
                }
            }
        }
    }
    ok.sort();
    (ok, fit_error(snapshot.len(), &reasons, ""))
}

#[test]
fn resources_taints_and_cordons_give_upstreams_message() {
    let mut s = Snapshot::default();
    s.upsert_node(node("a", json!({})));
    s.upsert_node(node(
        "b",
        json!({"spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
    ));
    s.upsert_node(node("c", json!({"spec": {"unschedulable": true}})));
    s.add_pod(pod("big", requests("1500m")), "a");
    let (ok, message) = check(&s, pod("p", requests("1")));
    assert!(ok.is_empty());
    assert_eq!(
        message,
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable."
    );
    // Tolerating the taint opens node b.
    let tolerant = pod(
        "t",
        json!({"spec": {"tolerations": [{"key": "dedicated", "operator": "Exists"}]}}),
    );
    assert_eq!(check(&s, tolerant).0, vec!["a", "b"]);
}

#[test]
fn extended_resources_fit_only_where_advertised() {
    let mut s = Snapshot::default();
    s.upsert_node(node("plain", json!({})));
    s.upsert_node(node("gpu", json!({"status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "3", "nvidia.com/gpu": "1"}}})));
    let wants_gpu = || {
        pod(
            "g",
            json!({"spec": {"containers": [{"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}),
        )
    };
    assert_eq!(check(&s, wants_gpu()).0, vec!["gpu"]);
    s.add_pod(wants_gpu(), "gpu");
    let (ok, message) = check(
        &s,
        pod(
            "g2",
            json!({"spec": {"containers": [{"name": "c", "image": "x", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}),
        ),
    );
    assert!(ok.is_empty());
    assert_eq!(
        message,
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    );
}

#[test]
fn node_selector_affinity_and_pod_count() {
    let mut s = Snapshot::default();
    s.upsert_node(node("a", json!({"metadata": {"labels": {"disk": "ssd"}}})));
    s.upsert_node(node("b", json!({"metadata": {"labels": {"disk": "hdd"}}})));
    assert_eq!(
        check(
            &s,
            pod("p", json!({"spec": {"nodeSelector": {"disk": "ssd"}}}))
        )
        .0,
        vec!["a"]
    );
    let affinity = json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}]}}}}});
    assert_eq!(check(&s, pod("q", affinity)).0, vec!["b"]);
    let by_name = json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}}});
    assert_eq!(check(&s, pod("r", by_name)).0, vec!["b"]);
    for i in 0..3 {
        s.add_pod(pod(&format!("x{i}"), json!({})), "a");
    }
    let (_, message) = check(
        &s,
        pod("s", json!({"spec": {"nodeSelector": {"disk": "ssd"}}})),
    );
    assert_eq!(
        message,
        "0/2 nodes are available: 1 Too many pods, 1 node(s) didn't match Pod's node affinity/selector."
    );
}

#[test]
fn required_anti_affinity_spreads_and_existing_anti_affinity_is_honoured() {
    let mut s = Snapshot::default();
    for n in ["a", "b"] {
        s.upsert_node(node(n, json!({})));
    }
    let anti = |name: &str| {
        pod(
            name,
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}}}),
        )
    };
    s.add_pod(anti("w1"), "a");
    assert_eq!(check(&s, anti("w2")).0, vec!["b"]);
    s.add_pod(anti("w2"), "b");
    let (ok, message) = check(&s, anti("w3"));
    assert!(ok.is_empty());
    assert_eq!(
        message,
        "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules."
    );
    // A plain pod labelled app=web is kept off by the existing pods' anti-affinity.
    let (_, message) = check(
        &s,
        pod("plain", json!({"metadata": {"labels": {"app": "web"}}})),
    );
    assert_eq!(
        message,
        "0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules."
    );
}

#[test]
fn host_ports_conflict() {
    let mut s = Snapshot::default();
    s.upsert_node(node("a", json!({})));
    let with_port = |n: &str| {
        pod(
            n,
            json!({"spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}}),
        )
    };
    s.add_pod(with_port("one"), "a");
    let (_, message) = check(&s, with_port("two"));
    assert_eq!(
        message,
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."
    );
}

#[test]
fn tolerations_match_like_upstream() {
    let taint = Taint {
        key: "k".into(),
        value: Some("v".into()),
        effect: "NoSchedule".into(),
        ..Default::default()
    };
    let t = |v: Value| -> Toleration { serde_json::from_value(v).unwrap() };
    assert!(toleration_matches(
        &t(json!({"key": "k", "value": "v"})),
        &taint
    ));
    assert!(!toleration_matches(
        &t(json!({"key": "k", "value": "w"})),
        &taint
    ));
    assert!(toleration_matches(
        &t(json!({"operator": "Exists"})),
        &taint
    ));
    assert!(!toleration_matches(
        &t(json!({"key": "k", "operator": "Exists", "effect": "NoExecute"})),
        &taint
    ));
}

#[test]
fn scores_prefer_emptier_nodes_and_spread_siblings() {
    let mut s = Snapshot::default();
    s.upsert_node(node("busy", json!({})));
    s.upsert_node(node("idle", json!({})));
    s.add_pod(pod("load", requests("1")), "busy");
    let q = Query::new(PodInfo::new(pod("p", requests("100m"))), &s);
    let busy = q.score(s.node("busy").unwrap());
    let idle = q.score(s.node("idle").unwrap());
    assert!(idle > busy, "idle {idle} busy {busy}");
}
