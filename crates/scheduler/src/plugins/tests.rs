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
    (ok, fit_error(snapshot.len(), None, &reasons, ""))
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

/// The feasible nodes ranked by total score, best first (ties by name).
fn ranking(snapshot: &Snapshot, p: Arc<Pod>) -> Vec<(String, i64)> {
    let q = Query::new(PodInfo::new(p), snapshot);
    let nodes: Vec<&NodeInfo> = snapshot
        .nodes_from(0)
        .filter(|n| q.filter(n).is_ok())
        .collect();
    let scores: Vec<Scores> = nodes.iter().map(|n| q.score(n)).collect();
    let mut ranked: Vec<(String, i64)> = nodes
        .iter()
        .zip(total(&scores))
        .map(|(n, t)| (n.name().to_string(), t))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

fn best(snapshot: &Snapshot, p: Arc<Pod>) -> String {
    ranking(snapshot, p)[0].0.clone()
}

#[test]
fn scores_pick_like_upstreams_default_profile() {
    let mut s = Snapshot::default();
    s.upsert_node(node("busy", json!({})));
    s.upsert_node(node(
        "idle",
        json!({"metadata": {"labels": {"disk": "ssd"}}}),
    ));
    s.upsert_node(node(
        "soft",
        json!({"spec": {"taints": [{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]}}),
    ));
    s.add_pod(pod("load", requests("1")), "busy");
    // LeastAllocated puts the idle node before the busy one; an untolerated
    // PreferNoSchedule taint (weight 3) outweighs the difference in load.
    let ranked = ranking(&s, pod("p", requests("100m")));
    let order: Vec<&str> = ranked.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(order, ["idle", "busy", "soft"], "{ranked:?}");
    // Tolerating the soft taint makes soft and idle equal.
    let tolerant = pod(
        "t",
        json!({"spec": {"tolerations": [{"key": "k", "operator": "Exists"}]}}),
    );
    let ranked = ranking(&s, tolerant);
    assert_eq!(ranked[0].1, ranked[1].1, "{ranked:?}");
    // Preferred node affinity picks the labelled node among equals.
    let prefers_ssd = pod(
        "q",
        json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}}}),
    );
    assert_eq!(best(&s, prefers_ssd), "idle");
}

#[test]
fn preferred_pod_affinity_and_anti_affinity_score() {
    let mut s = Snapshot::default();
    for n in ["a", "b"] {
        s.upsert_node(node(n, json!({})));
    }
    s.add_pod(
        pod("db", json!({"metadata": {"labels": {"app": "db"}}})),
        "a",
    );
    let term = json!([{"weight": 100, "podAffinityTerm": {
        "labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}}]);
    let near = pod(
        "near",
        json!({"spec": {"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": term.clone()}}}}),
    );
    assert_eq!(best(&s, near), "a");
    let far = pod(
        "far",
        json!({"spec": {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": term}}}}),
    );
    assert_eq!(best(&s, far), "b");
}

#[test]
fn siblings_of_a_controller_spread_over_nodes() {
    let mut s = Snapshot::default();
    for n in ["a", "b"] {
        s.upsert_node(node(n, json!({})));
    }
    let owned = |name: &str| {
        pod(
            name,
            json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "name": "rs", "uid": "rs-uid", "controller": true}]}}),
        )
    };
    s.add_pod(owned("r1"), "a");
    assert_eq!(best(&s, owned("r2")), "b");
}

#[test]
fn topology_spread_do_not_schedule_keeps_the_skew() {
    let mut s = Snapshot::default();
    for (n, zone) in [("a", "z1"), ("b", "z1"), ("c", "z2")] {
        s.upsert_node(node(
            n,
            json!({"metadata": {"labels": {"topology.kubernetes.io/zone": zone}}}),
        ));
    }
    s.upsert_node(node("unlabelled", json!({})));
    let spread = |name: &str| {
        pod(
            name,
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"topologySpreadConstraints": [{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}]}}),
        )
    };
    s.add_pod(spread("w1"), "a");
    let (ok, message) = check(&s, spread("w2"));
    assert_eq!(ok, vec!["c"]);
    assert_eq!(
        message,
        "0/4 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label), 2 node(s) didn't match pod topology spread constraints."
    );
}

#[test]
fn room_is_kept_for_nominated_pods_of_higher_priority() {
    let mut s = Snapshot::default();
    s.upsert_node(node("a", json!({})));
    let with_priority = |name: &str, cpu: &str, priority: i32| {
        let mut p = (*pod(name, requests(cpu))).clone();
        p.spec.as_mut().unwrap().priority = Some(priority);
        PodInfo::new(Arc::new(p))
    };
    s.nominate(with_priority("preemptor", "1500m", 100), Some("a"));
    let q = Query::new(with_priority("low", "1", 0), &s);
    assert_eq!(
        q.filter(s.node("a").unwrap()),
        Err(vec![Reason::Insufficient("cpu".into())])
    );
    // A pod of higher priority than the nominated one ignores the reservation.
    let q = Query::new(with_priority("higher", "1", 1000), &s);
    assert_eq!(q.filter(s.node("a").unwrap()), Ok(()));
}

#[test]
fn messages_for_prefilter_failures_and_empty_clusters() {
    assert_eq!(
        fit_error(
            3,
            Some("pod has unbound immediate PersistentVolumeClaims"),
            &HashMap::new(),
            "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        ),
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    assert_eq!(
        fit_error(0, None, &HashMap::new(), ""),
        "no nodes available to schedule pods"
    );
}
